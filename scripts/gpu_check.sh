#!/usr/bin/env bash
# The GPU check in one command per machine (issue 13).
#
#   scripts/gpu_check.sh pack   here: builds for sm_80 and sm_90 (A100, H100/H200; PTX for newer)
#                               into build-gpu/, records registers and shared memory per kernel
#                               (ptxas), and packs the executables with their libraries into
#                               .devpack/ (scripts/pack_device.sh)
#   scripts/gpu_check.sh run    on the GPU machine, with .devpack beside the repository: the
#                               CUDA and parity tests, the benchmark, and the whole command on
#                               page-cache files against the CPU backend; writes the results
#                               file to $OUT (or bench/results/) and exits non-zero on a failure.
#
# With the device tool: run `scripts/gpu_check.sh pack` here, then
#   run(command="scripts/gpu_check.sh run", carry=[".devpack"])
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}

if [[ $mode == pack ]]; then
  # BUILD_DIR=build reuses the main build (configured with the same architectures by default).
  bd=${BUILD_DIR:-build-gpu}
  scripts/install-deps.sh
  cmake -S . -B "$bd" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CUDA_ARCHITECTURES=80-real;90-real;90-virtual" >/dev/null
  touch kernels/leaf_kernel.cu  # the ptxas report comes from compiling it
  cmake --build "$bd" -j"$(nproc)" --target tensordiff tensordiff-hdf5-helper tensordiff_tests \
    tensordiff_cuda_bench tensordiff_gen 2>&1 | tee "$bd/gpu-build.log" | grep -E "error" || true
  grep -E "Compiling entry|Used [0-9]+ registers" "$bd/gpu-build.log" |
    sed -E 's/.*Compiling entry function .(_Z[^ ]*). for .(sm_[0-9]+).*/\2 \1/; s/.*(Used .*)/  \1/' \
    > "$bd/ptxas.txt"
  scripts/pack_device.sh .devpack "$bd/tensordiff" "$bd/tensordiff-hdf5-helper" \
    "$bd/tests/tensordiff_tests" "$bd/tensordiff_cuda_bench" "$bd/tensordiff_gen"
  cp "$bd/ptxas.txt" .devpack/
  # The static proxy (instructions per element pair of each kernel's leaf loop, spills), kept
  # beside what the GPU measures; cuobjdump comes from build/venv (scripts/python-venv.sh).
  scripts/python-venv.sh >/dev/null
  build/venv/bin/python bench/sass_proxy.py "$bd/kernels/CMakeFiles/td_cuda.dir/leaf_kernel.cu.o" \
    --budget bench/sass_budget.txt --all > .devpack/sass_proxy.txt || true
  exit 0
fi

[[ $mode == run ]] || { echo "usage: $0 pack|run" >&2; exit 2; }
source .devpack/env.sh
out=${OUT:-bench/results}
mkdir -p "$out"
res="$out/$(date -u +%F)-gpu-check.md"
log="$out/gpu-check.log"
status=0
{
  echo "# GPU check, $(date -u '+%F %H:%M UTC')"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  echo '```'
} > "$res"

echo "## Tests (tensordiff_tests --gtest_filter='Cuda*:GpuEmulator*:LeafCore*')" >> "$res"
if timeout 300 tensordiff_tests --gtest_filter='Cuda*:GpuEmulator*:LeafCore*' > "$log" 2>&1; then
  echo "passed: $(grep -c '^\[       OK \]' "$log") tests" >> "$res"
else
  status=1
  { echo '```'; grep -E "FAILED|Failure|Expected|which is|vs " "$log" | head -40; echo '```'; } >> "$res"
fi

echo "## Benchmark (tensordiff_cuda_bench 1024 32 8 20)" >> "$res"
{ echo '```'; timeout 300 tensordiff_cuda_bench 1024 32 8 20 2>&1 || status=1; echo '```'; } >> "$res"

# (c) What a user writes instead: the same fields in torch on the same GPU (bench/torch_fields.py,
# held to the engine's report on the CPU by python/tests/test_torch_fields.py).
echo "## (c) torch script, the same fields on resident GPU tensors (bench/torch_fields.py)" >> "$res"
{ echo '```'
  for dt in float32 bfloat16; do
    timeout 300 python3 bench/torch_fields.py --device cuda --mib 1024 --dtype $dt --repeats 10 2>&1 | tail -1
  done
  echo '```'; } >> "$res"

# (e) The whole command on page-cache files: 2 x WHOLE_GIB GiB float32 (issue 24: 8), the CPU
# backend against the GPU.
gib=${WHOLE_GIB:-8}
work=$(mktemp -d)
tensordiff_gen --out-a "$work/a.h5" --out-b "$work/b.h5" --preset plain --tensors 4 --elems $((gib * 67108864)) \
  --diverge-at 2 >/dev/null || true
cat "$work"/*.h5 > /dev/null
echo "## (e) Whole command, 2 x $gib GiB float32 files in the page cache (median of 3)" >> "$res"
{
  echo '```'
  for be in cpu cuda; do
    ts=()
    for i in 1 2 3; do
      TIMEFORMAT=%R
      t=$( { time tensordiff -q --backend $be --json "$work/$be.json" "$work/a.h5" "$work/b.h5" \
             >/dev/null 2>&1; } 2>&1 ) || true  # exit 1: the files differ (they do)
      ts+=("$t")
    done
    echo "$be: $(printf '%s\n' "${ts[@]}" | sort -n | sed -n 2p) s  (runs: ${ts[*]})"
  done
  echo '```'
} >> "$res"
python3 - "$work/cpu.json" "$work/cuda.json" >> "$res" <<'EOF' || status=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
for x, y in zip(a["tensors"], b["tensors"]):
    for side in ("a", "b"):
        for k in ("count", "nonzero", "nan", "min", "max", "first_nonzero", "mag_hist", "checksum"):
            if x[side][k] != y[side][k]: bad.append(f"{x['name']} {side}.{k}")
        for k in ("mean", "std", "l2"):
            u, v = x[side][k], y[side][k]
            if abs(u - v) > 1e-12 * max(1.0, abs(u)): bad.append(f"{x['name']} {side}.{k} {u} {v}")
    for k in ("max_abs", "max_abs_at", "max_rel", "max_rel_at", "mismatches", "bits_differ", "max_ulp", "err_hist", "worst"):
        if x["diff"][k] != y["diff"][k]: bad.append(f"{x['name']} diff.{k}")
print("report parity (exact fields equal, sums within 1e-12):", "ok" if not bad else "FAILED " + "; ".join(bad[:10]))
sys.exit(1 if bad else 0)
EOF
rm -rf "$work"
if [[ -s .devpack/sass_proxy.txt ]]; then
  echo "## Static proxy at pack time (bench/sass_proxy.py, sm_90)" >> "$res"
  { echo '```'; cat .devpack/sass_proxy.txt; echo '```'; } >> "$res"
fi
echo "## ptxas (build-gpu/ptxas.txt)" >> "$res"
{ echo '```'; grep -A1 "leaf_groupsILi4ELi4ELb1\|leaf_groupsILi2ELi2ELb1\|finalize" .devpack/ptxas.txt | head -12; echo '```'; } >> "$res"
if command -v cuobjdump >/dev/null; then
  echo "## SASS instructions per kernel (cuobjdump -sass, sm_90)" >> "$res"
  { echo '```'
    cuobjdump -sass -arch sm_90 .devpack/bin/tensordiff 2>/dev/null |
      awk '/Function : /{f=$3} /^ *\/\*[0-9a-f]+\*\//{n[f]++} END{for (k in n) print n[k], k}' |
      grep -E "leaf_groupsILi4ELi4ELb1|leaf_groupsILi2ELi2ELb1|finalize" | head
    echo '```'; } >> "$res"
fi
cat "$res"
exit $status
