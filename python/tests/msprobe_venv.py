"""build/venv-msprobe (scripts/python-venv.sh makes it): msprobe's own interpreter, where the
real msprobe dumps of the tests are written (msprobe patches torch while it dumps)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
MSVENV = os.path.join(HERE, "..", "..", "build", "venv-msprobe", "bin", "python")


def why_not(modules):
    """Why `modules` ("msprobe, transformers") cannot be imported there, or None."""
    if not os.access(MSVENV, os.X_OK):
        return f"{MSVENV} is missing (scripts/python-venv.sh makes it)"
    r = subprocess.run([MSVENV, "-c", f"import {modules}"], capture_output=True, text=True)
    return None if r.returncode == 0 else f"{modules} cannot be imported there: {r.stderr.strip()[-200:]}"
