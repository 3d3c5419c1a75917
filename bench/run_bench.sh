#!/usr/bin/env bash
# Times, in one run, median of REPEATS after a warm-up, on two dumps of TENSORS float32
# datasets of MIB MiB each (every element slightly different):
#   (a) the floor: reading both files' bytes once with THREADS threads (tensordiff_readfloor)
#   (b) h5diff -d 1e-5 on the same files
#   (c) tensordiff with the full metric set and a JSON report
# and prints c/a, c/b and tensordiff's peak RSS. Files stay in the page cache (warm).
# Usage: bench/run_bench.sh [MIB=64] [TENSORS=16] [REPEATS=5] [THREADS=nproc]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-64}; tensors=${2:-16}; repeats=${3:-5}; threads=${4:-$(nproc)}
dir=${BENCH_DIR:-out/bench}
mkdir -p "$dir"
a=$dir/a_${mib}x${tensors}.h5; b=$dir/b_${mib}x${tensors}.h5
elems=$((mib * 1024 * 1024 / 4))
if [[ ! -f $a || ! -f $b ]]; then
  build/tensordiff_gen --out-a "$a" --out-b "$b" --tensors "$tensors" --elems "$elems" \
    --preset plain --noise 1e-6 >/dev/null
fi
cat "$a" "$b" >/dev/null  # warm the page cache

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
time_cmd() {  # prints wall seconds of "$@", ignoring its exit status 0/1
  local t0 t1; t0=$(now); "$@" >/dev/null 2>&1 || [[ $? -le 1 ]]; t1=$(now)
  echo "$t1 - $t0" | bc -l
}

floor_t=(); h5diff_t=(); td_t=()
time_cmd build/tensordiff_readfloor "$threads" "$a" "$b" >/dev/null  # warm-up
time_cmd build/tensordiff -q --threads "$threads" "$a" "$b" >/dev/null
for ((i = 0; i < repeats; i++)); do
  floor_t+=("$(time_cmd build/tensordiff_readfloor "$threads" "$a" "$b")")
  h5diff_t+=("$(time_cmd h5diff -d 1e-5 "$a" "$b")")
  td_t+=("$(time_cmd build/tensordiff -q --threads "$threads" --json "$dir/report.json" "$a" "$b")")
done
rss_kb=$( { /usr/bin/time -f "%M" build/tensordiff -q --threads "$threads" "$a" "$b" >/dev/null; } 2>&1 | tail -1)
fa=$(printf '%s\n' "${floor_t[@]}" | median)
fb=$(printf '%s\n' "${h5diff_t[@]}" | median)
fc=$(printf '%s\n' "${td_t[@]}" | median)
bytes=$(( $(stat -c %s "$a") + $(stat -c %s "$b") ))
printf 'workload: 2 dumps x %d float32 datasets x %d MiB (%.2f GB in all), %d threads, median of %d\n' \
  "$tensors" "$mib" "$(echo "$bytes / 1000000000" | bc -l)" "$threads" "$repeats"
printf '  (a) floor (read both files once)  %8.3f s  %6.2f GB/s   runs: %s\n' "$fa" "$(echo "$bytes / 1000000000 / $fa" | bc -l)" "${floor_t[*]}"
printf '  (b) h5diff -d 1e-5                %8.3f s  %6.2f GB/s   runs: %s\n' "$fb" "$(echo "$bytes / 1000000000 / $fb" | bc -l)" "${h5diff_t[*]}"
printf '  (c) tensordiff (all metrics)      %8.3f s  %6.2f GB/s   runs: %s\n' "$fc" "$(echo "$bytes / 1000000000 / $fc" | bc -l)" "${td_t[*]}"
printf '  c/a = %.2f   c/b = %.3f   peak RSS of tensordiff = %d MiB\n' \
  "$(echo "$fc / $fa" | bc -l)" "$(echo "$fc / $fb" | bc -l)" "$((rss_kb / 1024))"
