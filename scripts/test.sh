#!/usr/bin/env bash
# The whole test suite: install, build, run every test (GoogleTest through ctest, the numpy
# checksum reference, the CLI tests), then the scaled-down benchmarks W1-W4 gated on
# bench/thresholds.txt (TENSORDIFF_SKIP_BENCH=1 skips them): on figures load does not move
# (instructions counted by valgrind, CPU time loosely, RSS); wall-time ratios are printed, not gated.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/python-venv.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600) | tee "$log"
# The hostile-input build: ASan + UBSan, fuzz targets, corrupted files (scripts/sanitize.sh).
asan_log=$(mktemp)
trap 'rm -f "$log" "$asan_log"' EXIT
if [[ ${TENSORDIFF_SKIP_SANITIZE:-0} != 1 ]]; then
  echo
  echo "sanitizer build (build-asan): C++ suite, crafted files, fuzz targets, corrupted HDF5 files:"
  scripts/sanitize.sh | tee "$asan_log"
fi
if [[ ${TENSORDIFF_SKIP_BENCH:-0} != 1 ]]; then
  echo
  echo "benchmark gate (bench/thresholds.txt), the machine's best SIMD target:"
  bench/run_bench.sh --scale small --repeats 3 --gate bench/thresholds.txt
  # AVX2 forced as well (lab nodes without AVX-512 run it), against its own thresholds;
  # skipped only where this CPU cannot run AVX2 (or on a CPU that is not x86).
  if build/tensordiff --version | grep -q '^simd: AVX2 '; then
    echo "benchmark gate, AVX2 forced: the best target is AVX2 already"
  elif build/tensordiff --version | grep -q '^simd: .* AVX2'; then
    echo
    echo "benchmark gate (bench/thresholds.txt), AVX2 forced:"
    bench/run_bench.sh --scale small --repeats 3 --simd avx2 --gate bench/thresholds.txt
  else
    echo "benchmark gate, AVX2 forced: skipped, this CPU does not run AVX2 ($(build/tensordiff --version | sed -n 's/^simd: //p'))"
  fi
fi
# ctest's own count, repeated as the closing line.
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
total=$(sed -E 's/.* out of ([0-9]+)/\1/' <<<"$summary")
failed=$(sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/' <<<"$summary")
skipped=$(grep -cE '^\s*[0-9]+ - .*\(Skipped\)$' "$log" || true)
echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
if [[ -s $asan_log ]]; then
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$asan_log" | tail -1)
  echo "sanitizer build: $summary"
fi
