#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds tests/consumer against it with
# find_package(tensordiff) and runs it on arrays and on a dump (read by the installed helper).
# Usage: tests/consumer/run.sh BUILD_DIR GEN_BIN (tensordiff_gen writes the dump)
set -euo pipefail
build=$1
gen=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dump=$tmp/a.h5
"$gen" --out-a "$dump" --out-b "$tmp/b.h5" --tensors 3 --elems 1000 >/dev/null
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -x "$tmp/prefix/bin/tensordiff" && test -x "$tmp/prefix/libexec/tensordiff-hdf5-helper"
test -f "$tmp/prefix/include/tensordiff/tensordiff.hpp"
cmake -S "$here" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/build" >/dev/null
out=$("$tmp/build/consumer" "$dump")
echo "$out"
grep -q "arrays: x, 1 mismatches" <<<"$out"
grep -q "dump: [1-9][0-9]* matched" <<<"$out"
# The installed command finds its helper in ../libexec (not the build tree's).
TENSORDIFF_HDF5_HELPER= strace -f -e trace=execve -o "$tmp/trace" "$tmp/prefix/bin/tensordiff" -q "$dump" "$dump" 2>/dev/null \
  || "$tmp/prefix/bin/tensordiff" -q "$dump" "$dump"
if [[ -f $tmp/trace ]]; then grep -q "$tmp/prefix/bin/../libexec/tensordiff-hdf5-helper" "$tmp/trace"; fi
echo "consumer: ok"
