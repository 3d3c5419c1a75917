#!/usr/bin/env bash
# The main job on built-in sample data: install, build, put the `tensordiff` command on PATH
# (a link in /usr/local/bin: scripts/install-command.sh), write two dumps of a 20-tensor "model"
# whose run B goes wrong at encoder.layers.3, and compare them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/install-command.sh
mkdir -p out/demo
build/tensordiff_gen --out-a out/demo/a.h5 --out-b out/demo/b.h5 --tensors 20 --elems 262144 --diverge-at 7
set +e
build/tensordiff out/demo/a.h5 out/demo/b.h5 --json out/demo/report.json --html out/demo/report.html
code=$?
set -e
echo
echo "exit status $code (0: all match, 1: differences found, 2: error); reports: out/demo/report.json, out/demo/report.html"
echo "from here on: tensordiff A B (tensordiff --help; in this shell, run 'hash -r' first if it is not found)"
[[ $code -eq 1 ]]  # the demo's dumps do differ: anything else is a failure
