#!/usr/bin/env bash
# The whole test suite: install, build, run every test (GoogleTest through ctest, the numpy
# checksum reference, the CLI tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
