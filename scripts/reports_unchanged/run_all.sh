#!/bin/bash
# Runs BIN over the fixtures of make_fixtures.py (in FIXTURES), every report and stream into OUT.
# usage: run_all.sh BIN OUT FIXTURES
BIN=$(realpath "$1"); OUT=$(realpath -m "$2"); D=$3
rm -rf "$OUT"; mkdir -p "$OUT"; cd $D
n=0
run() {  # name args...
  local name=$1; shift
  "$BIN" "$@" > "$OUT/$name.stdout" 2> "$OUT/$name.stderr"; echo $? > "$OUT/$name.rc"
}
cmp() {  # name a b extra...
  local name=$1 a=$2 b=$3; shift 3
  run "$name" -q "$a" "$b" --json "$OUT/$name.json" "$@"
}
cmp h5 a.h5 b.h5
cmp st a.safetensors b.safetensors
cmp pt a.pt b.pt
cmp npz a.npz b.npz
cmp npz_st a.npz nb.safetensors
cmp st_pt a.safetensors b.pt
cmp pt_h5 a.pt b.h5
cmp npy_f c.npy f.npy --exact --map '^.*$=c'
cmp npy_big c.npy big.npy --exact --map '^.*$=c'
cmp npy_c2 c.npy c2.npy --map '^.*$=c'
cmp views v.pt flat.pt
cmp msp_h5 msp/step0/rank0 a.h5
cmp msp_align msp/step0/rank0 b.pt --align order
cmp msp_ms msp/step0/rank0 ms --exact
cmp msp_stats msp/step0/rank0 stats
cmp msp_bad stats bad
cmp lie lie.safetensors a.safetensors
cmp folders ra rb
cmp big big_a.h5 big_b.h5
cmp big_emu big_a.h5 big_b.h5 --backend gpu-emu --threads 1
cmp big_csv big_a.h5 big_b.h5 --csv - --chunk-mib 1
run stats_st stats a.safetensors --json -
run stats_pt stats v.pt --json -
run stats_npz stats b.npz --json -
run stats_big stats big_a.h5 --json -
run stats_msp stats msp/step0/rank0 --json -
run evil stats evil.pt
run table a.h5 b.h5
mkdir -p sum; "$BIN" stats a.h5 --json sum/sa.sum.json >/dev/null 2>&1; "$BIN" stats b.h5 --json sum/sb.sum.json >/dev/null 2>&1
cmp summaries sum/sa.sum.json sum/sb.sum.json
cmp sum_vs_full sum/sa.sum.json b.pt
