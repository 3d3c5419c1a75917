#!/usr/bin/env bash
# W5 and W6 (issue 26): dumps of many tiny tensors, where the listing and the per-tensor state,
# not the bytes, are the work. Side by side in one run, page cache warm, each the median of
# REPEATS (after one warm-up) of wall time, and the peak RSS (of the first measured run):
#   W5  one pair of files of N tensors (16-1024 elements; float32, bfloat16, float16, int64;
#       100 per group; about one element in 16 differs by an ulp, so most tensors differ)
#         tensordiff -q A B              the verdict
#         tensordiff -q A B --json R     and the JSON report (every tensor's fields)
#         tensordiff stats -q A          one side's statistics
#         h5diff -q A B                  HDF5's own tool: the verdict only
#   W6  a folder of FILES per-rank files of N tensors each, against its twin:
#         tensordiff -q A/ B/            the folders, pairing files by relative path
#         h5diff -q per file             what a user would script: one h5diff per pair of files
#
# Usage: bench/many_tensors.sh [--w5 N] [--w6 FILESxN] [--repeats R] [--threads T]
#   defaults: --w5 100000, no W6, R 3. --w5 0 skips W5. E.g. --w5 1000000 --w6 64x10000.
# TD_BIN (default build): the folder with tensordiff and tensordiff_gen.
# BENCH_DIR (default out/bench): where the dumps are written (kept for the next run).
set -euo pipefail
cd "$(dirname "$0")/.."
w5=100000; w6=""; repeats=3; threads=$(nproc)
while [[ $# -gt 0 ]]; do
  case $1 in
    --w5) w5=$2; shift 2 ;;
    --w6) w6=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "many_tensors: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${TD_BIN:-build}
base=${BENCH_DIR:-out/bench}
td="$bin"/tensordiff
thr=(--threads "$threads")  # after the command's own arguments ("stats" must come first)
command -v h5diff >/dev/null || { echo "many_tensors: h5diff not found (hdf5-tools)" >&2; exit 2; }

# "seconds peak_kib exit_status" of one run of "$@" (exit status 1, "differ", is the expected one).
run_once() {
  local tf rc=0
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %M" "$@" >/dev/null 2>&1 || rc=$?
  echo "$(tail -1 "$tf") $rc"
  rm -f "$tf"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Prints one row: label, median seconds, peak RSS MiB, exit status; sets $last_s.
measure() {
  local label=$1; shift
  local times=() r s kib rc first_kib="" first_rc=""
  "$@" >/dev/null 2>&1 || true  # warm-up
  for ((k = 0; k < repeats; ++k)); do
    r=$(run_once "$@")
    read -r s kib rc <<<"$r"
    times+=("$s")
    [[ -z $first_kib ]] && first_kib=$kib && first_rc=$rc
  done
  last_s=$(median "${times[@]}")
  printf '  %-34s %8.2f s  %7d MiB  exit %s\n' "$label" "$last_s" $((first_kib / 1024)) "$first_rc"
  # 0 (equal) and 1 (differ) are answers; anything else means the row measured a failure.
  if [[ $first_rc != 0 && $first_rc != 1 ]]; then echo "many_tensors: '$label' failed (exit $first_rc)" >&2; failed=1; fi
}
failed=0

gen_pair() {  # dir n: $dir/a.h5, $dir/b.h5 of n tiny tensors (kept when present)
  local d=$1 n=$2
  mkdir -p "$d"
  [[ -f $d/a.h5 && -f $d/b.h5 ]] && return
  "$bin"/tensordiff_gen --tiny --tensors "$n" --out-a "$d/a.h5.tmp" --out-b "$d/b.h5.tmp"
  mv "$d/a.h5.tmp" "$d/a.h5"
  mv "$d/b.h5.tmp" "$d/b.h5"
}

echo "many tensors (issue 26): $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, threads $threads, repeats $repeats"
echo "  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $("$td" --version | grep '^simd:')"
echo "  flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx|avx2|avx512f|avx512bw|fma|sse4_2)$' | tr '\n' ' ')"

if [[ $w5 != 0 ]]; then
  d=$base/W5_$w5
  gen_pair "$d" "$w5"
  echo "W5: $w5 tensors per file, $(du -m "$d/a.h5" | cut -f1) MiB per file"
  measure "tensordiff -q A B" "$td" -q "$d/a.h5" "$d/b.h5" "${thr[@]}"; t_td=$last_s
  measure "tensordiff -q A B --json R" "$td" -q "$d/a.h5" "$d/b.h5" --json "$d/r.json" "${thr[@]}"
  measure "tensordiff stats -q A" "$td" stats -q "$d/a.h5" "${thr[@]}"
  measure "h5diff -q A B" h5diff -q "$d/a.h5" "$d/b.h5"; t_h5=$last_s
  awk -v t="$t_td" -v h="$t_h5" -v n="$w5" \
    'BEGIN {printf "  tensordiff/h5diff %.3f; tensordiff %.1f us per tensor\n", t / h, t / n * 1e6}'
fi

if [[ -n $w6 ]]; then
  files=${w6%x*}; n=${w6#*x}
  d=$base/W6_${files}x$n
  mkdir -p "$d/A" "$d/B"
  for ((f = 0; f < files; ++f)); do
    a=$d/A/rank$f.h5 b=$d/B/rank$f.h5
    [[ -f $a && -f $b ]] && continue
    "$bin"/tensordiff_gen --tiny --tensors "$n" --seed $((f + 1)) --out-a "$a.tmp" --out-b "$b.tmp"
    mv "$a.tmp" "$a"
    mv "$b.tmp" "$b"
  done
  echo "W6: $files files of $n tensors per side, $(du -sm "$d/A" | cut -f1) MiB per side"
  measure "tensordiff -q A/ B/" "$td" -q "$d/A" "$d/B" "${thr[@]}"; t_td=$last_s
  # shellcheck disable=SC2016
  measure "h5diff -q, one per file" bash -c 'rc=0; for a in "$1"/A/rank*.h5; do h5diff -q "$a" "$1/B/${a##*/}" || rc=1; done; exit $rc' _ "$d"
  t_h5=$last_s
  awk -v t="$t_td" -v h="$t_h5" 'BEGIN {printf "  tensordiff/h5diff %.3f\n", t / h}'
fi
exit $failed
