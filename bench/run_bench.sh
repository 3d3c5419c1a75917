#!/usr/bin/env bash
# The benchmark entry point (issue 5). Generates its workloads deterministically, then for each
# measures, all in this one run and with the page cache warm:
#   wall and CPU time (user + sys, all threads), median of REPEATS after a warm-up, of
#     floor     reading both files' bytes once with THREADS threads (tensordiff_readfloor)
#     h5diff    h5diff -d 1e-5 on the same files
#     td        tensordiff with the full metric set and a JSON report
#   instructions executed (issue 20; valgrind --tool=cachegrind --cache-sim=no, "I refs") by
#   tensordiff (2 threads) and by h5diff on a reduced copy of the workload (the "ir" scale below)
# and prints per workload td/floor and td/h5diff (wall), td_cpu/h5diff_cpu (CPU time),
# td_ir/h5diff_ir (instructions) and tensordiff's peak RSS.
#
#   W1  two dumps of 16 contiguous float32 datasets, every element slightly different
#   W2  the same data, chunked (1 MiB chunks) with gzip level 4 + shuffle
#   W3  many small tensors (4-256 KiB) of float32, bfloat16, float16 and int64
#   W4  one large float32 tensor
#   W1s, W1n, W1p  W1's data as safetensors, .npz and a PyTorch state dict (no h5diff of their
#       own: td/floor only in wall time; their td_ir is divided by h5diff's Ir on W1's .h5 files)
#
# Usage: bench/run_bench.sh [--scale small|full] [--w4-full] [--repeats N] [--threads N]
#                           [--only W1,W3] [--simd TARGET] [--gate FILE] [--ir auto|on|off]
# small (CI): W1/W2 16 x 8 MiB, W3 1024 tensors, W4 256 MiB. full: W1/W2 16 x 64 MiB,
# W3 4096 tensors, W4 1 GiB (4 GiB with --w4-full). The instruction counts always use the ir
# scale, whatever --scale: W1/W2 16 x 1 MiB, W3 32 tensors, W4 16 MiB (valgrind runs ~30-50x
# slower). --ir auto (default) counts them when valgrind is installed; on: valgrind required; off: skipped.
# --simd TARGET runs tensordiff on that SIMD target (TENSORDIFF_SIMD: avx3, avx2, sse4, ...).
# Valgrind runs no AVX-512: under it tensordiff's best target is AVX2, so a run whose target
# valgrind cannot execute (AVX3) skips the instruction counts (the --simd avx2 run gates them).
#
# --gate FILE fails (exit 1) when a figure is above the limit the file gives for it, and names
# each failure (workload, figure, value, limit). It reads the lines tagged with the target that
# ran ("W1@avx2 td_ir/h5diff_ir 0.9"), else the untagged ones. What it gates is what load does
# not move: td_ir/h5diff_ir (instructions, within +-0.1% run to run whatever the load),
# td_cpu/h5diff_cpu (CPU time, loosely) and rss_mib. The wall ratios td/h5diff and td/floor are
# measured, printed and worth recording, but a busy machine moves them by 50% and more
# (bench/results/2026-12-04-load-immune-gate.md): they are gated only if a gate file lists them.
#
# TD_BIN (default build) is the folder holding tensordiff, tensordiff_gen and tensordiff_readfloor;
# BENCH_DIR (default out/bench) where the workloads are written.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=full; repeats=5; threads=$(nproc); only=W1,W2,W3,W4,W1s,W1n,W1p; gate=""; w4full=0; simd=""
ir=auto; ir_why=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --scale) scale=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --gate) gate=$2; shift 2 ;;
    --simd) simd=$2; shift 2 ;;
    --ir) ir=$2; shift 2 ;;
    --w4-full) w4full=1; shift ;;
    *) echo "run_bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=${TD_BIN:-build}
gen=$bin/tensordiff_gen
base=${BENCH_DIR:-out/bench}

# Workload sizes of a scale: mib (W1/W2 MiB per tensor), small_n (W3 tensors), w4_mib.
sizes() {
  case $1 in
    small) mib=8; small_n=1024; w4_mib=256 ;;
    full) mib=64; small_n=4096; w4_mib=1024; [[ $w4full == 1 ]] && w4_mib=4096 ;;
    ir) mib=1; small_n=32; w4_mib=16 ;;
    *) echo "run_bench: unknown scale $1" >&2; exit 2 ;;
  esac
  dir=$base/$1
}

wdir() { [[ $1 == W4 ]] && echo "$dir/W4_${w4_mib}MiB" || echo "$dir/$1"; }
# W1s, W1n, W1p: W1's data as safetensors, .npz (stored) and a torch.save state dict.
ext() { case $1 in W1s) echo safetensors ;; W1n) echo npz ;; W1p) echo pt ;; *) echo h5 ;; esac; }

prepare() {  # workload -> files a/b under $(wdir $1), at the scale sizes() set
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

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
time_cmd() {  # "wall cpu" seconds of "$@" (cpu: user + sys of all its threads, from getrusage);
  local t rc=0 TIMEFORMAT='%3R %3U %3S'  # exit status 0 or 1 is fine (1: differences found)
  t=$( { time "$@" >/dev/null 2>&1; } 2>&1 ) || rc=$?
  if ((rc > 1)); then echo "run_bench: '$*' failed with status $rc" >&2; exit 2; fi
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' <<<"$t"
}
ir_cmd() {  # instructions executed by "$@" (all threads), counted by cachegrind
  local log rc=0; log=$(mktemp)
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null --log-file="$log" \
    "$@" >/dev/null 2>&1 || rc=$?
  if ((rc > 1)); then echo "run_bench: valgrind '$*' failed with status $rc" >&2; cat "$log" >&2; exit 2; fi
  sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' "$log" | tr -d , | tail -1
  rm -f "$log"
}
ratio() { echo "scale=4; $1 / $2" | bc -l; }

failed=0; failures=(); checks=0; declare -A h5cpu
check() {  # workload-with-tag figure value limit: one gate check, named either way
  checks=$((checks + 1)); set -- "$1" "$2" "$(printf '%.4g' "$3")" "$4"
  if (( $(echo "$3 > $4" | bc -l) )); then
    echo "gate FAILED: $1 $2 $3 > limit $4" >&2; failed=1; failures+=("$1 $2 $3 > limit $4")
  else
    echo "gate ok: $1 $2 $3 <= limit $4"
  fi
}
gate_key() {  # workload -> its key in the gate file: W1@avx2 when tagged lines exist, else W1
  if grep -q "^$1@${target,,} " "$gate"; then echo "$1@${target,,}"; else echo "$1"; fi
}

export TENSORDIFF_SIMD=$simd
target=$("$bin"/tensordiff --version | sed -n 's/^simd: \([^ ]*\).*/\1/p')
if [[ $ir != off ]]; then
  if ! command -v valgrind >/dev/null; then
    [[ $ir == on ]] && { echo "run_bench: --ir on needs valgrind" >&2; exit 2; }
    ir=off; ir_why="valgrind is not installed"
  else
    vg_target=$(valgrind -q "$bin"/tensordiff --version 2>/dev/null | sed -n 's/^simd: \([^ ]*\).*/\1/p' || true)
    if [[ $vg_target != "$target" ]]; then
      ir=off; ir_why="valgrind does not run $target (its best here: ${vg_target:-none}); the --simd avx2 run counts AVX2's"
    fi
  fi
fi
printf '%s scale, %d threads, median of %d, SIMD %s, %s, load %s\n' "$scale" "$threads" "$repeats" \
  "${target:-?}" "$(date -u +%Y-%m-%dT%H:%MZ)" "$(cut -d' ' -f1-3 /proc/loadavg)"
[[ $ir == off && -n $ir_why ]] && echo "instruction counts: skipped, $ir_why"
for w in ${only//,/ }; do
  sizes "$scale"
  prepare "$w"
  a=$(wdir "$w")/a.$(ext "$w"); b=$(wdir "$w")/b.$(ext "$w")
  cat "$a" "$b" >/dev/null  # page cache warm
  td=("$bin"/tensordiff -q --backend cpu --threads "$threads" --json "$(wdir "$w")/report.json" "$a" "$b")
  time_cmd "$bin"/tensordiff_readfloor "$threads" "$a" "$b" >/dev/null
  time_cmd "${td[@]}" >/dev/null
  fl=(); hd=(); hc=(); tt=(); tc=()
  for ((i = 0; i < repeats; i++)); do
    r=$(time_cmd "$bin"/tensordiff_readfloor "$threads" "$a" "$b"); read -r x _ <<<"$r"; fl+=("$x")
    if [[ $(ext "$w") == h5 ]]; then
      r=$(time_cmd h5diff -d 1e-5 "$a" "$b"); read -r x y <<<"$r"; hd+=("$x"); hc+=("$y")
    else hd+=(0); hc+=(0); fi
    r=$(time_cmd "${td[@]}"); read -r x y <<<"$r"; tt+=("$x"); tc+=("$y")
  done
  rss=$( { /usr/bin/time -f "%M" "${td[@]}" >/dev/null || true; } 2>&1 | tail -1)
  f=$(printf '%s\n' "${fl[@]}" | median); h=$(printf '%s\n' "${hd[@]}" | median)
  t=$(printf '%s\n' "${tt[@]}" | median)
  hcpu=$(printf '%s\n' "${hc[@]}" | median); tcpu=$(printf '%s\n' "${tc[@]}" | median)
  bytes=$(( $(stat -c %s "$a") + $(stat -c %s "$b") ))
  rf=$(ratio "$t" "$f"); rss_mib=$((rss / 1024))
  if (( $(echo "$h > 0" | bc -l) )); then rh=$(ratio "$t" "$h"); else rh=0; fi
  [[ $(ext "$w") == h5 ]] && h5cpu[$w]=$hcpu  # W1s/W1n/W1p: CPU time against h5diff's on W1
  [[ $(ext "$w") == h5 ]] && hw=$w || hw=W1
  if [[ -n ${h5cpu[$hw]:-} ]]; then rc=$(ratio "$tcpu" "${h5cpu[$hw]}"); else rc=""; fi
  printf '%s  %7.3f GB  floor %7.3f s  h5diff %7.3f s  tensordiff %7.3f s (%5.2f GB/s)  td/floor %6.2f  td/h5diff %6.3f  rss %5d MiB\n' \
    "$w" "$(echo "$bytes / 1000000000" | bc -l)" "$f" "$h" "$t" "$(echo "$bytes / 1000000000 / $t" | bc -l)" \
    "$rf" "$rh" "$rss_mib"
  [[ -n $rc ]] && printf '%s  cpu: h5diff%s %7.3f s  tensordiff %7.3f s  td_cpu/h5diff_cpu %6.3f\n' "$w" \
    "$([[ $hw != "$w" ]] && echo " (on $hw)")" "${h5cpu[$hw]}" "$tcpu" "$rc"
  # Instructions: the ir-scale copy, tensordiff on 2 threads (counts then do not depend on the
  # machine's cores); for W1s/W1n/W1p h5diff's count on W1's .h5 files, the same data.
  ri=""
  if [[ $ir != off ]]; then
    sizes ir
    prepare "$w"
    [[ $hw == "$w" ]] || prepare W1
    ia=$(wdir "$w")/a.$(ext "$w"); ib=$(wdir "$w")/b.$(ext "$w")
    tir=$(ir_cmd "$bin"/tensordiff -q --backend cpu --threads 2 --json "$(wdir "$w")/report.json" "$ia" "$ib")
    # h5diff's count depends only on its files and its version: counted once, kept beside them.
    hfile=$(wdir "$hw")/h5diff-$(h5diff --version | grep -o '[0-9][0-9.]*' | tail -1).ir
    if [[ ! -s $hfile || $hfile -ot $(wdir "$hw")/a.h5 ]]; then
      ir_cmd h5diff -d 1e-5 "$(wdir "$hw")/a.h5" "$(wdir "$hw")/b.h5" >"$hfile"
    fi
    hir=$(cat "$hfile")
    ri=$(ratio "$tir" "$hir")
    printf '%s  instructions (ir scale, %.1f MB): h5diff %.1f M  tensordiff %.1f M  td_ir/h5diff_ir %6.4f\n' "$w" \
      "$(echo "($(stat -c %s "$ia") + $(stat -c %s "$ib")) / 1000000" | bc -l)" \
      "$(echo "$hir / 1000000" | bc -l)" "$(echo "$tir / 1000000" | bc -l)" "$ri"
  fi
  if [[ -n $gate ]]; then
    key=$(gate_key "$w")
    while read -r gw metric limit _; do
      [[ $gw == "$key" ]] || continue
      case $metric in
        td_ir/h5diff_ir)
          if [[ -z $ri ]]; then  # a gate that cannot count must not pass silently
            if [[ $ir_why == *installed* ]]; then
              checks=$((checks + 1)); failed=1; failures+=("$key $metric not measured: $ir_why")
              echo "gate FAILED: $key $metric not measured: $ir_why" >&2
            else echo "gate skipped: $key $metric (${ir_why:-instruction counts off})"; fi
            continue
          fi
          v=$ri ;;
        td_cpu/h5diff_cpu) [[ -n $rc ]] || { echo "gate skipped: $key $metric (no h5diff time on $hw this run)"; continue; }; v=$rc ;;
        td/floor) v=$rf ;;
        td/h5diff) v=$rh ;;
        rss_mib) v=$rss_mib ;;
        *) echo "run_bench: unknown gate figure '$metric' for $key in $gate" >&2; exit 2 ;;
      esac
      check "$key" "$metric" "$v" "$limit"
    done < <(grep -v '^#' "$gate")
  fi
done
if [[ -n $gate ]]; then
  if ((failed)); then
    echo "gate: ${#failures[@]} of $checks checks FAILED (SIMD $target, $gate):" >&2
    printf '  %s\n' "${failures[@]}" >&2
  else
    echo "gate: all $checks checks passed (SIMD $target, $gate)"
  fi
  if ! grep -v '^#' "$gate" | grep -qE ' td/(h5diff|floor) '; then
    echo "(the wall-time ratios td/h5diff and td/floor above are recorded, not gated: load moves them)"
  fi
fi
exit $failed
