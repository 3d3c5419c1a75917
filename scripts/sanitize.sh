#!/usr/bin/env bash
# The hostile-input build (issue 11): everything under AddressSanitizer + UBSan with clang, the
# libFuzzer targets, then ctest there: the C++ suite, the crafted-file Python tests against
# the instrumented CLI, and each fuzz target for TENSORDIFF_FUZZ_SECONDS (default 20).
# Usage: scripts/sanitize.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${TENSORDIFF_FUZZ_SECONDS:-20}
if [[ ! -f build-asan/build.ninja ]] || ! grep -q "TENSORDIFF_FUZZ_SECONDS:STRING=$secs$" build-asan/CMakeCache.txt; then
  CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTENSORDIFF_SANITIZE=ON -DTENSORDIFF_FUZZ=ON -DTENSORDIFF_FUZZ_SECONDS="$secs" \
    -DTENSORDIFF_CUDA=OFF -DTENSORDIFF_BENCH=OFF -DTENSORDIFF_PYTHON=OFF >/dev/null
fi
cmake --build build-asan
# detect_leaks: the engine frees what it allocates; a leak is a bug here too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-asan && ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
