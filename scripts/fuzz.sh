#!/usr/bin/env bash
# Longer fuzzing than the CI's (issue 11): each libFuzzer target for SECS seconds (default
# 300) from the corpus kept in build-asan, then N corrupted HDF5 files (default 3000) against
# the instrumented CLI. Crash inputs land in build-asan/tests/fuzz/crash-*, failing HDF5
# mutants in build-asan/mutant-failures.
# Usage: scripts/fuzz.sh [SECS] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
count=${2:-3000}
scripts/sanitize.sh -R '^fuzz_seeds$' >/dev/null  # builds build-asan, writes the seeds
cd build-asan/tests/fuzz
status=0
for t in summary listing chunk options pickle npy replay; do
  seeds=(seeds/$t)
  [[ -d ../../../tests/fuzz/seeds/$t ]] && seeds+=(../../../tests/fuzz/seeds/$t)
  echo "fuzz_$t: ${secs} s"
  ./fuzz_$t -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$PWD/crash-$t-" corpus/$t "${seeds[@]}" 2>&1 |
    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))|ERROR|SUMMARY' || status=1
done
cd ../..
/usr/bin/python3 ../tests/fuzz/hdf5_mutate.py --bin tensordiff --count "$count" --seed "${FUZZ_SEED:-$RANDOM}" \
  --out mutant-failures || status=1
exit $status
