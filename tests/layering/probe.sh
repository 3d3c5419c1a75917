#!/usr/bin/env bash
# The layers are enforced by the build (cmake/layers.cmake): each probe target compiles one
# #include with the include paths of one layer or program. Those that run up the layout (io
# including the engine, the core including io, the command including a private header) must
# fail for want of the header; their controls (an include the layer may make) must compile.
# Usage: probe.sh BUILD_DIR
set -uo pipefail
build=$1
fail=0
# target  header  expect
probes=(
  "td_probe_io_up engine/runner.hpp fail"
  "td_probe_io_down core/partial.hpp ok"
  "td_probe_core_up io/source.hpp fail"
  "td_probe_report_up engine/matcher.hpp fail"
  "td_probe_cli_private engine/runner.hpp fail"
  "td_probe_cli_public tensordiff/command_line.hpp ok"
)
for p in "${probes[@]}"; do
  read -r target header expect <<<"$p"
  out=$(cmake --build "$build" --target "$target" 2>&1)
  rc=$?
  if [[ $expect == ok ]]; then
    if [[ $rc -ne 0 ]]; then echo "FAIL: $target (#include \"$header\") does not compile:"; echo "$out" | tail -20; fail=1
    else echo "ok: $target compiles #include \"$header\""; fi
    continue
  fi
  if [[ $rc -eq 0 ]]; then echo "FAIL: $target compiled #include \"$header\": the layers are not enforced"; fail=1; continue; fi
  # gcc: "X: No such file or directory"; clang: "'X' file not found"
  if ! grep -Eq "$header(: No such file or directory|' file not found)" <<<"$out"; then
    echo "FAIL: $target failed for another reason than the missing $header:"; echo "$out" | tail -20; fail=1; continue
  fi
  echo "ok: $target cannot include \"$header\""
done
exit $fail
