#!/usr/bin/env bash
# The layers are enforced by the build (cmake/layers.cmake): a file of src/io that includes an
# engine header fails to compile for want of the header, while io including the core compiles.
# Usage: probe.sh BUILD_DIR
set -uo pipefail
build=$1
if ! cmake --build "$build" --target td_probe_down >/tmp/td_probe_down.$$ 2>&1; then
  echo "FAIL: io including the core does not compile:"; cat /tmp/td_probe_down.$$; rm -f /tmp/td_probe_down.$$; exit 1
fi
rm -f /tmp/td_probe_down.$$
out=$(cmake --build "$build" --target td_probe_up 2>&1)
if [[ $? -eq 0 ]]; then
  echo "FAIL: src/io including engine/runner.hpp compiled: the layers are not enforced"; exit 1
fi
# gcc: "engine/runner.hpp: No such file or directory"; clang: "'engine/runner.hpp' file not found"
if ! grep -Eq "engine/runner.hpp(: No such file or directory|' file not found)" <<<"$out"; then
  echo "FAIL: the probe failed for another reason than the missing header:"; echo "$out" | tail -20; exit 1
fi
echo "ok: an include that runs up the layout (io -> engine) does not compile; io -> core does"
