"""Finding tensordiff's C++ engine module (`_engine`): installed beside this package (pip), or
in a build tree ($TENSORDIFF_ENGINE, a path to the module or its folder, else the repository's
build/ folder)."""
from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os

_module = None
_searched = False


def _candidates():
    env = os.environ.get("TENSORDIFF_ENGINE")
    if env:
        yield from (glob.glob(os.path.join(env, "_engine*.so")) if os.path.isdir(env) else [env])
    here = os.path.dirname(os.path.abspath(__file__))
    yield from glob.glob(os.path.join(here, "..", "..", "build", "python", "tensordiff", "_engine*.so"))


def engine():
    """The engine module, or None when it was not built."""
    global _module, _searched
    if _searched:
        return _module
    _searched = True
    try:
        from . import _engine  # type: ignore[attr-defined]

        _module = _engine
        return _module
    except ImportError:
        pass
    for path in _candidates():
        if not os.path.exists(path):
            continue
        loader = importlib.machinery.ExtensionFileLoader("tensordiff._engine", path)
        spec = importlib.util.spec_from_file_location("tensordiff._engine", path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        _module = module
        return _module
    return None
