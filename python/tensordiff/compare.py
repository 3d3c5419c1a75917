"""The C++ engine, in this process: compare dumps, compare arrays, summarise either.

Options are the command line's, spelled as keywords: rtol=1e-3 is --rtol 1e-3,
stop_at_first=True is --stop-at-first, tol=["enc*:rtol=1e-2", ...] repeats --tol, and
json="r.json", csv="r.csv", html="r.html" write those reports as the command line does. The
keywords go to the engine as they are (bools, numbers, text, lists), checked here against the
engine's option list; the library's one parser reads them, so every option of one exists in the
other; the terminal's own options (quiet, color, name_width, width, only_diff, top, ...) raise
TypeError, since the report is the return value (Report.table() takes them). Reports are the
dicts of `--json`, plus "exit_code": the status the same command would exit with, in a
tensordiff.Report (report.py), which also prints the engine's table. Nothing compared (a name that no
dump holds, a selection that leaves nothing) raises TensordiffError, as the command line
exits 2.
"""
from __future__ import annotations

import difflib
import os
import warnings
import shutil
import sysconfig

from . import _args
from ._native import engine
from .convert import array_arg
from .report import Report


class TensordiffError(RuntimeError):
    """A bad input or option: the engine's one-line message, where the command line would exit
    with status 2 (a missing or unreadable file, nothing compared, an option the engine refuses,
    the engine module not built).

    Arguments:
        message: the one line, naming the file, the tensor and what is wrong.

    Attributes:
        args[0]: that line (str(error)).

    Example:
        >>> try:
        ...     tensordiff.compare("run_a.h5", "missing.h5")
        ... except tensordiff.TensordiffError as e:
        ...     print(e)
        missing.h5: cannot open: No such file or directory
    """


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
    """The `tensordiff` command's path: $TENSORDIFF_BIN, then PATH, then this environment's
    scripts folder (pip installs it there; an unactivated venv is not on PATH), then the
    repository's build/. `python -m tensordiff` runs it.

    Arguments: none.

    Returns:
        the executable's path (str). Raises TensordiffError when there is none.

    Example:
        >>> subprocess.run([tensordiff.find_binary(), "run_a.h5", "run_b.h5"]).returncode
        1
    """
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


def _call(fn, *args) -> Report:
    eng = _engine()
    try:
        result = fn(eng)(*args)
    except eng.EngineError as e:
        raise TensordiffError(str(e)) from None
    return as_dict(result, stacklevel=4)


def as_dict(result, stacklevel: int = 3, warn: bool = True) -> Report:
    """The engine's result at the package's edge: the report as the dicts of `--json`, with
    "exit_code", in a Report (a dict that also prints the engine's table); what the command
    line prints on stderr (a rule that matched nothing) as warnings."""
    report = result.report()
    report["exit_code"] = result.exit_status
    for w in result.warnings if warn else ():
        warnings.warn(f"tensordiff: {w}", stacklevel=stacklevel)
    return Report(report, result)


def compare(a, b, *tensors: str, **options) -> Report:
    """Compares two dumps in this process, as `tensordiff a b` does, and returns its report.

    Arguments:
        a: the reference dump's path (HDF5, safetensors, .npy/.npz, .pt, an msprobe folder, a
            summary recording, or a folder of them); b: the candidate's.
        tensors: names to compare (the command line's positional names); default every pair.
        options: the command line's options as keywords (--rtol 1e-3 is rtol=1e-3,
            --stop-at-first is stop_at_first=True, a list repeats one: tol=["enc*:rtol=1e-2"],
            include=[...], exclude=[...], map=[...], precision="bf16", criterion="cosine",
            align="order", min_cosine=, max_rel_l2=, exact=True, backend="cpu", ...);
            json=, csv=, html= write those reports as the command line does. The printed
            table's options (width, only_diff, top, quiet, ...) are Report.table()'s and raise
            TypeError here; an unknown keyword raises TypeError naming the closest ones.

    Returns:
        a Report: the dict of `--json` (summary with first_divergence, first_jump and jumps;
        tensors in execution order) plus "exit_code", the status the command would exit with
        (0 every pair matches, 1 some differ, 2 an error, 3 judged from summaries only).
        Raises TensordiffError where the command would exit 2 before comparing (a missing
        file, nothing compared).

    Example:
        >>> report = tensordiff.compare("run_a.h5", "run_b.h5", rtol=1e-3)
        >>> report["exit_code"], report["summary"]["first_divergence"]
        (1, 'encoder.layers.2.act')
        >>> print(report.table(only_diff=True))
    """
    hint = " (arrays? tensordiff.compare_arrays and tensordiff.assert_close take them)"
    a = _args.path("compare", "a", a, hint=hint)
    b = _args.path("compare", "b", b, hint=hint)
    for t in tensors:
        _args.text("compare", "tensors", t)
    return _call(lambda e: e.compare, keywords(options), a, b, list(tensors))


def _arrays(x, name: str, func: str = "compare_arrays", arg: str = "a") -> list:
    return [array_arg(str(n if n is not None else name), v) for n, v in _args.arrays(func, arg, x)]


def compare_arrays(a, b, name: str = "tensor", **options) -> Report:
    """Compares tensors in memory, with the engine, verdicts and report of compare().

    Arguments:
        a: the reference: an array or tensor (numpy, torch, JAX, MindSpore; bfloat16 and float8
            included) or a dict of name -> array, matched by name like the tensors of two dumps;
            b: the candidate, the same way. Contiguous CPU memory is read in place, not copied.
        name: the tensor's name in the report when a and b are single arrays.
        options: compare()'s keywords (rtol=, atol=, precision=, criterion=, tol=, ...);
            json=, csv=, html= write those reports.

    Returns:
        a Report (compare()'s dict plus "exit_code"; see tensordiff.Report).

    Example:
        >>> x = np.linspace(-1, 1, 1000, dtype=np.float32)
        >>> report = tensordiff.compare_arrays({"h": x}, {"h": x + 1e-3})
        >>> report["exit_code"], report["tensors"][0]["status"]
        (1, 'mismatch')
    """
    name = _args.text("compare_arrays", "name", name)
    va, vb = _arrays(a, name, "compare_arrays", "a"), _arrays(b, name, "compare_arrays", "b")
    return _call(lambda e: e.compare_arrays, va, vb, keywords(options, "compare_arrays"))


def stats(x, *tensors: str, name: str = "tensor", **options) -> Report:
    """Per-tensor summary (`tensordiff stats`) of a dump, an array or a dict of arrays.

    Arguments:
        x: a dump's path, an array or tensor, or a dict of name -> array.
        tensors: names to summarise in a dump (default every tensor); not for arrays.
        name: the tensor's name in the report when x is one array.
        options: the command line's stats options as keywords (threads=, first_k=, simd=,
            json=, csv=, ...).

    Returns:
        a Report: the dict of `tensordiff stats --json` (per tensor: count, nonzero, nan,
        min, max, mean, std, l2, first_nonzero, mag_hist, checksum) plus "exit_code".

    Example:
        >>> s = tensordiff.stats("run_a.h5", "encoder.layers.0.act")
        >>> s["tensors"][0]["mean"], s["tensors"][0]["checksum"]
    """
    if isinstance(x, (str, os.PathLike)):
        path = _args.path("stats", "x", x)
        for t in tensors:
            _args.text("stats", "tensors", t)
        return _call(lambda e: e.stats, keywords(options, "stats"), path, list(tensors))
    if tensors:
        raise TypeError("stats() selects tensors by name in a dump; for arrays, pass the ones to summarise")
    name = _args.text("stats", "name", name)
    return _call(lambda e: e.stats_arrays, _arrays(x, name, "stats", "x"), keywords(options, "stats"))
