"""build/venv-msprobe (scripts/python-venv.sh makes it): msprobe's own interpreter, where the
real msprobe dumps of the tests are written (msprobe patches torch while it dumps)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
MSVENV = os.path.join(HERE, "..", "..", "build", "venv-msprobe", "bin", "python")  # mindstudio-probe 1.3.0
# mindstudio-probe 8.1.2: its module dumps (L0) run on torch 1.13; its API dumps (L1) do not
# (its hook raises StopIteration on a call without tensor keyword arguments).
MSVENV8 = os.path.join(HERE, "..", "..", "build", "venv-msprobe8", "bin", "python")


def why_not(modules, venv=MSVENV):
    """Why `modules` ("msprobe, transformers") cannot be imported in `venv`, or None."""
    if not os.access(venv, os.X_OK):
        return f"{venv} is missing (scripts/python-venv.sh makes it)"
    r = subprocess.run([venv, "-c", f"import {modules}"], capture_output=True, text=True)
    return None if r.returncode == 0 else f"{modules} cannot be imported there: {r.stderr.strip()[-200:]}"
