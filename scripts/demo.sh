#!/usr/bin/env bash
# The main job on built-in sample data: install, build, write two dumps of a 20-tensor "model"
# whose run B goes wrong at encoder.layers.3, and compare them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out/demo
build/tensordiff_gen --out-a out/demo/a.h5 --out-b out/demo/b.h5 --tensors 20 --elems 262144 --diverge-at 7
set +e
build/tensordiff out/demo/a.h5 out/demo/b.h5 --json out/demo/report.json
code=$?
set -e
echo
echo "exit status $code (0: all match, 1: differences found, 2: error); JSON report: out/demo/report.json"
[[ $code -eq 1 ]]  # the demo's dumps do differ: anything else is a failure
