"""Running the C++ engine from Python."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile


class TensordiffError(RuntimeError):
    pass


def find_binary() -> str:
    """$TENSORDIFF_BIN, then `tensordiff` on PATH, then the repository's build/ folder."""
    env = os.environ.get("TENSORDIFF_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise TensordiffError(f"TENSORDIFF_BIN={env} is not an executable tensordiff binary")
        return env
    found = shutil.which("tensordiff")
    if found:
        return found
    here = os.path.dirname(os.path.abspath(__file__))
    candidate = os.path.join(here, "..", "..", "build", "tensordiff")
    if os.access(candidate, os.X_OK):
        return os.path.normpath(candidate)
    raise TensordiffError("tensordiff binary not found: build it (scripts/build.sh), put it on "
                          "PATH or set TENSORDIFF_BIN")


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def compare(a: str, b: str, *tensors: str, **options) -> dict:
    """Compares dumps a and b with the engine and returns its JSON report as a dict.

    Keyword options map to the CLI's flags: rtol=1e-3 -> --rtol 1e-3, stop_at_first=True ->
    --stop-at-first, tol=["enc*:rtol=1e-2"] -> --tol ... (lists repeat the flag).
    """
    args = [find_binary(), "-q", a, b, *tensors]
    for key, value in options.items():
        if value is True:
            args.append(_flag(key))
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [_flag(key), str(v)]
        else:
            args += [_flag(key), str(value)]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "report.json")
        proc = subprocess.run(args + ["--json", out], capture_output=True, text=True)
        if proc.returncode not in (0, 1) or not os.path.exists(out):
            raise TensordiffError(proc.stderr.strip() or f"tensordiff exited {proc.returncode}")
        with open(out, encoding="utf-8") as f:
            report = json.load(f)
    report["exit_code"] = proc.returncode
    return report
