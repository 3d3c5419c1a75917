#!/usr/bin/env bash
# The README's pip install, as a new user runs it (issue 12): a fresh venv that sees Debian's
# torch and h5py, `pip install ./python`, then the package, its engine and the `tensordiff`
# command used from outside the source tree; and nothing left behind in the tree.
# Usage: tests/pip_install_test.sh WORK_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$1
rm -rf "$work"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
before=$(cd "$root" && git status --porcelain --ignored python | sort)
"$work/venv/bin/pip" install -q "$root/python"
after=$(cd "$root" && git status --porcelain --ignored python | sort)
if [[ "$before" != "$after" ]]; then
  echo "pip install left files in the source tree:"; diff <(echo "$before") <(echo "$after") || true
  exit 1
fi
mkdir -p "$work/elsewhere"
cd "$work/elsewhere"
"$work/venv/bin/python" - <<'PY'
import os, subprocess, numpy as np, torch, tensordiff
from tensordiff._native import engine
assert engine() is not None and "site-packages" in engine().__file__, engine()
assert "site-packages" in tensordiff.__file__
a = {"x": torch.ones(100), "y": torch.arange(10)}
b = {"x": torch.ones(100) * 1.01, "y": torch.arange(10)}
r = tensordiff.compare_arrays(a, b)
assert r["summary"]["first_divergence"] == "x" and r["exit_code"] == 1, r["summary"]
with tensordiff.Recorder("a.h5"):
    tensordiff.save("x", a["x"])
    tensordiff.save("y", a["y"])
try:
    with tensordiff.Recorder(reference="a.h5"):
        tensordiff.save("x", b["x"])
    raise SystemExit("no Divergence raised")
except tensordiff.Divergence as e:
    assert e.name == "x"
cmd = tensordiff.find_binary()
assert cmd.startswith(os.sys.prefix), cmd  # the environment's own command
assert subprocess.run([cmd, "-q", "a.h5", "a.h5"]).returncode == 0
print("pip install: ok:", engine().__file__)
PY
