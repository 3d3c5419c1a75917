#!/usr/bin/env bash
# The benchmark entry point (issue 5). Generates its workloads deterministically, then for each
# times, median of REPEATS after a warm-up, all in this one run and with the page cache warm:
#   floor     reading both files' bytes once with THREADS threads (tensordiff_readfloor)
#   h5diff    h5diff -d 1e-5 on the same files
#   td        tensordiff with the full metric set and a JSON report
# and prints one line per workload with td/floor, td/h5diff and tensordiff's peak RSS.
#
#   W1  two dumps of 16 contiguous float32 datasets, every element slightly different
#   W2  the same data, chunked (1 MiB chunks) with gzip level 4 + shuffle
#   W3  many small tensors (4-256 KiB) of float32, bfloat16, float16 and int64
#   W4  one large float32 tensor
#   W1s, W1n, W1p  W1's data as safetensors, .npz and a PyTorch state dict (no h5diff: td/floor only)
#
# Usage: bench/run_bench.sh [--scale small|full] [--w4-full] [--repeats N] [--threads N]
#                           [--only W1,W3] [--simd TARGET] [--gate FILE]
# small (CI): W1/W2 16 x 8 MiB, W3 1024 tensors, W4 256 MiB. full: W1/W2 16 x 64 MiB,
# W3 4096 tensors, W4 1 GiB (4 GiB with --w4-full). --gate FILE fails (exit 1) when a ratio
# is above the limit the file gives for it. --simd TARGET runs tensordiff on that SIMD target
# (TENSORDIFF_SIMD: avx3, avx2, sse4, ...). The gate reads the lines tagged with the target
# that ran ("W1@avx2 td/h5diff 0.2"), else the untagged ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=full; repeats=5; threads=$(nproc); only=W1,W2,W3,W4,W1s,W1n,W1p; gate=""; w4full=0; simd=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --gate) gate=$2; shift 2 ;;
    --simd) simd=$2; shift 2 ;;
    --w4-full) w4full=1; shift ;;
    *) echo "run_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ $scale == small ]]; then mib=8; small_n=1024; w4_mib=256; else mib=64; small_n=4096; w4_mib=1024; fi
[[ $w4full == 1 ]] && w4_mib=4096
dir=${BENCH_DIR:-out/bench}/$scale
mkdir -p "$dir"
gen=build/tensordiff_gen

wdir() { [[ $1 == W4 ]] && echo "$dir/W4_${w4_mib}MiB" || echo "$dir/$1"; }
# W1s, W1n, W1p: W1's data as safetensors, .npz (stored) and a torch.save state dict.
ext() { case $1 in W1s) echo safetensors ;; W1n) echo npz ;; W1p) echo pt ;; *) echo h5 ;; esac; }

prepare() {  # workload -> files a/b under $(wdir $1)
  local w=$1 d; d=$(wdir "$1")
  local e; e=$(ext "$w")
  [[ -f $d/a.$e && -f $d/b.$e ]] && return
  if [[ $e != h5 ]]; then
    prepare W1
    mkdir -p "$d"
    for s in a b; do /usr/bin/python3 bench/convert_dump.py "$(wdir W1)/$s.h5" "$d/$s.$e" "$e"; done
    return
  fi
  mkdir -p "$d"
  local elems=$((mib * 262144))
  case $w in
    W1) $gen --out-a "$d/a.h5" --out-b "$d/b.h5" --tensors 16 --elems $elems --preset plain --noise 1e-6 ;;
    W2) $gen --out-a "$d/a.h5" --out-b "$d/b.h5" --tensors 16 --elems $elems --preset plain --noise 1e-6 \
          --chunk-elems 262144 --gzip 4 --shuffle ;;
    W3) $gen --out-a "$d/a.h5" --out-b "$d/b.h5" --tensors $small_n --mixed ;;
    W4) $gen --out-a "$d/a.h5" --out-b "$d/b.h5" --tensors 1 --elems $((w4_mib * 262144)) \
          --preset plain --noise 1e-6 ;;
  esac >/dev/null
}

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
time_cmd() {  # wall seconds of "$@"; exit status 0 or 1 is fine (1: differences found)
  local t0 t1 rc=0; t0=$(now); "$@" >/dev/null 2>&1 || rc=$?; t1=$(now)
  if ((rc > 1)); then echo "run_bench: '$*' failed with status $rc" >&2; exit 2; fi
  echo "$t1 - $t0" | bc -l
}
ratio() { echo "scale=4; $1 / $2" | bc -l; }

failed=0
export TENSORDIFF_SIMD=$simd
target=$(build/tensordiff --version | sed -n 's/^simd: \([^ ]*\).*/\1/p')
printf '%s scale, %d threads, median of %d, SIMD %s, %s\n' "$scale" "$threads" "$repeats" \
  "${target:-?}" "$(date -u +%Y-%m-%dT%H:%MZ)"
for w in ${only//,/ }; do
  prepare "$w"
  a=$(wdir "$w")/a.$(ext "$w"); b=$(wdir "$w")/b.$(ext "$w")
  cat "$a" "$b" >/dev/null  # page cache warm
  td=(build/tensordiff -q --threads "$threads" --json "$(wdir "$w")/report.json" "$a" "$b")
  time_cmd build/tensordiff_readfloor "$threads" "$a" "$b" >/dev/null
  time_cmd "${td[@]}" >/dev/null
  fl=(); hd=(); tt=()
  for ((i = 0; i < repeats; i++)); do
    fl+=("$(time_cmd build/tensordiff_readfloor "$threads" "$a" "$b")")
    if [[ $(ext "$w") == h5 ]]; then hd+=("$(time_cmd h5diff -d 1e-5 "$a" "$b")"); else hd+=(0); fi
    tt+=("$(time_cmd "${td[@]}")")
  done
  rss=$( { /usr/bin/time -f "%M" "${td[@]}" >/dev/null || true; } 2>&1 | tail -1)
  f=$(printf '%s\n' "${fl[@]}" | median); h=$(printf '%s\n' "${hd[@]}" | median)
  t=$(printf '%s\n' "${tt[@]}" | median)
  bytes=$(( $(stat -c %s "$a") + $(stat -c %s "$b") ))
  rf=$(ratio "$t" "$f"); rss_mib=$((rss / 1024))
  if (( $(echo "$h > 0" | bc -l) )); then rh=$(ratio "$t" "$h"); else rh=0; fi  # no h5diff for other formats
  printf '%s  %7.3f GB  floor %7.3f s  h5diff %7.3f s  tensordiff %7.3f s (%5.2f GB/s)  td/floor %6.2f  td/h5diff %6.3f  rss %5d MiB\n' \
    "$w" "$(echo "$bytes / 1000000000" | bc -l)" "$f" "$h" "$t" "$(echo "$bytes / 1000000000 / $t" | bc -l)" \
    "$rf" "$rh" "$rss_mib"
  if [[ -n $gate ]]; then
    tag="@${target,,}"
    grep -q "^$w$tag " "$gate" || tag=""
    while read -r gw metric limit _; do
      [[ $gw == "$w$tag" ]] || continue
      case $metric in td/floor) v=$rf ;; td/h5diff) v=$rh ;; rss_mib) v=$rss_mib ;; *) continue ;; esac
      if (( $(echo "$v > $limit" | bc -l) )); then
        echo "GATE FAILED: $w$tag $metric = $v > $limit" >&2; failed=1
      else
        echo "gate ok: $w$tag $metric = $v <= $limit"
      fi
    done < <(grep -v '^#' "$gate")
  fi
done
exit $failed
