"""The C++ engine, in this process: compare dumps, compare arrays, summarise either.

Options are the command line's, spelled as keywords: rtol=1e-3 is --rtol 1e-3,
stop_at_first=True is --stop-at-first, tol=["enc*:rtol=1e-2", ...] repeats --tol, and
json="r.json", csv="r.csv", html="r.html" write those reports as the command line does. The
keywords go to the engine as they are (bools, numbers, text, lists), checked here against the
engine's option list; the library's one parser reads them, so every option of one exists in the
other; the terminal's own options (quiet, color, name_width, width, only_diff, top, ...) raise
TypeError, since the report is the return value. Reports are the dicts of `--json`, plus
"exit_code": the status the same command would exit with. Nothing compared (a name that no
dump holds, a selection that leaves nothing) raises TensordiffError, as the command line
exits 2.
"""
from __future__ import annotations

import difflib
import os
import warnings
import shutil
import sysconfig

from ._native import engine
from .convert import array_arg


class TensordiffError(RuntimeError):
    """A bad input or option: the engine's one-line message (the command line's exit 2)."""


# The terminal's options: they shape the printed table, which Python does not print.
_TERMINAL_ONLY = {"quiet", "q", "color", "name_width", "width", "only_diff", "top", "top_by", "all",
                  "verbose", "help", "h", "version"}
_known: dict[str, tuple[bool, bool]] | None = None  # long option -> (takes a value, repeatable)


def _option_names() -> dict[str, tuple[bool, bool]]:
    global _known
    if _known is None:
        _known = {name: (value, repeatable) for name, value, repeatable in _engine().option_names()}
    return _known


def find_binary() -> str:
    """The `tensordiff` command: $TENSORDIFF_BIN, then PATH, then this environment's scripts
    folder (pip installs it there; an unactivated venv is not on PATH), then the repository's
    build/."""
    env = os.environ.get("TENSORDIFF_BIN")
    if env:
        if not os.access(env, os.X_OK):
            raise TensordiffError(f"TENSORDIFF_BIN={env} is not an executable tensordiff binary")
        return env
    found = shutil.which("tensordiff")
    if found:
        return found
    scripts = os.path.join(sysconfig.get_path("scripts"), "tensordiff")
    if os.access(scripts, os.X_OK):
        return scripts
    here = os.path.dirname(os.path.abspath(__file__))
    candidate = os.path.join(here, "..", "..", "build", "tensordiff")
    if os.access(candidate, os.X_OK):
        return os.path.normpath(candidate)
    raise TensordiffError("tensordiff binary not found: pip install ./python (see the README), "
                          "put it on PATH or set TENSORDIFF_BIN")


def keywords(options: dict, caller: str = "compare") -> dict:
    """Keyword options checked against the engine's option list (name, switch or value, one
    value or a list), as the engine takes them; an unknown keyword is a TypeError naming it."""
    known = _option_names()
    for key, value in options.items():
        if key in _TERMINAL_ONLY:
            raise TypeError(f"{caller}() got {key}=, an option of the command line's printed table; "
                            "the report is the return value")
        name = key.replace("_", "-")
        if name not in known or "-" in key:
            spelled = [k.replace("-", "_") for k in known if k.replace("-", "_") not in _TERMINAL_ONLY]
            close = difflib.get_close_matches(key, spelled, n=3)
            raise TypeError(f"{caller}() got an unexpected keyword argument {key!r}"
                            + (f" (did you mean {', '.join(close)}?)" if close else ""))
        takes_value, repeatable = known[name]
        if not takes_value and not isinstance(value, bool):
            raise TypeError(f"{caller}() keyword {key}= is a switch: True or False, not {value!r}")
        if takes_value and isinstance(value, bool):
            raise TypeError(f"{caller}() keyword {key}= takes a value, not {value!r}")
        if isinstance(value, (list, tuple)) and not repeatable:
            raise TypeError(f"{caller}() keyword {key}= takes one value, not a {type(value).__name__}")
    return dict(options)


def _engine():
    eng = engine()
    if eng is None:
        raise TensordiffError("the tensordiff engine module is not built: pip install ./python "
                              "(see the README) or scripts/build.sh")
    return eng


def _call(fn, *args) -> dict:
    eng = _engine()
    try:
        result = fn(eng)(*args)
    except eng.EngineError as e:
        raise TensordiffError(str(e)) from None
    return as_dict(result, stacklevel=4)


def as_dict(result, stacklevel: int = 3, warn: bool = True) -> dict:
    """The engine's result at the package's edge: the report as the dicts of `--json`, with
    "exit_code"; what the command line prints on stderr (a rule that matched nothing) as
    warnings."""
    report = result.report()
    report["exit_code"] = result.exit_status
    for w in result.warnings if warn else ():
        warnings.warn(f"tensordiff: {w}", stacklevel=stacklevel)
    return report


def compare(a, b, *tensors: str, **options) -> dict:
    """Compares dumps a (the reference) and b, in this process; returns the JSON report."""
    return _call(lambda e: e.compare, keywords(options), os.fspath(a), os.fspath(b), list(tensors))


def _arrays(x, name: str) -> list:
    items = x.items() if isinstance(x, dict) else [(name, x)]
    return [array_arg(str(n), v) for n, v in items]


def compare_arrays(a, b, name: str = "tensor", **options) -> dict:
    """Compares tensors in memory: two arrays (numpy, torch, JAX, MindSpore; bfloat16 and
    float8 included), or two dicts of them matched by name like the tensors of two dumps.
    Contiguous CPU memory is read in place, not copied."""
    return _call(lambda e: e.compare_arrays, _arrays(a, name), _arrays(b, name), keywords(options, "compare_arrays"))


def stats(x, *tensors: str, name: str = "tensor", **options) -> dict:
    """Per-tensor summary (`tensordiff stats`) of a dump path, an array or a dict of arrays."""
    if isinstance(x, (str, os.PathLike)):
        return _call(lambda e: e.stats, keywords(options, "stats"), os.fspath(x), list(tensors))
    if tensors:
        raise TypeError("stats() selects tensors by name in a dump; for arrays, pass the ones to summarise")
    return _call(lambda e: e.stats_arrays, _arrays(x, name), keywords(options, "stats"))
