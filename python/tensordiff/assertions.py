"""assert_close: compare() or compare_arrays() as a test assertion (pytest, unittest, a script).

It passes only where the command line would exit 0: every pair compared, element by element,
and every pair matches. Status 3 (no pair differs, but some were judged from summaries only,
docs/design.md §7) fails: summaries can agree while elements differ, and an assertion that
passed on them would say more than was checked. Status 2 (a pair could not be read, a dtype the
engine does not decode) raises TensordiffError. The message is the command line's own text (the
engine's table of what differs and the lines under it), never a second formatter.
"""
from __future__ import annotations

import os

from . import _args
from .compare import TensordiffError, compare, compare_arrays, keywords
from .report import Report

MAX_ROWS = 20  # differing rows in the message; beyond that the largest rel L2 (--top), markers kept


def _is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _message(report: Report, what: str) -> str:
    s = report["summary"]
    code = report["exit_code"]
    differ = sum(1 for t in report["tensors"] if t["status"] != "match")
    table = report.table(only_diff=True, top=MAX_ROWS if differ > MAX_ROWS else 0, name_width=60)
    if code == 3:
        head = (f"{what}: {s['consistent']} pair(s) were judged from summaries only (status consistent, exit "
                "status 3): their summaries agree but no element was compared. assert_close passes only where "
                "every element was compared; record full dumps (Recorder(mode='full')), or call "
                "tensordiff.compare() and accept report['exit_code'] == 3 explicitly")
    elif code == 2:
        head = f"{what}: some tensors could not be compared (exit status 2)"
    else:
        head = f"{what}: {differ} of {len(report['tensors'])} tensors differ (exit status {code})"
    return head + "\n\n" + table


def assert_close(a, b, name: str = "tensor", **options) -> Report:
    """Asserts that two runs agree, as `tensordiff a b` exiting 0: raises AssertionError
    otherwise, whose message is the command line's table of what differs, its first divergence
    and its first jump.

    Arguments:
        a: the reference: a dump's path (str or os.PathLike), an array or tensor (numpy, torch,
            JAX, MindSpore), or a dict of name -> array; b: the candidate, of the same kind
            (two paths, or two arrays / dicts).
        name: the tensor's name in the report when a and b are single arrays.
        options: compare()'s keywords, checked the same way (rtol=, atol=, precision=,
            criterion="rel-l2"|"cosine", min_cosine=, max_rel_l2=, tol=[...], include=[...],
            exclude=[...], map=[...], ...).

    Returns:
        the Report when every pair was compared and matches (exit status 0).

    Raises:
        AssertionError when a pair differs, exists on one side only or has another shape
        (exit status 1), or when pairs were judged from summaries only (exit status 3: their
        summaries agree but no element was compared, so nothing was shown to be close). The
        message starts with one line of what failed, then the table of the rows that differ
        (the first divergence marked '>', jumps '*'; beyond 20 rows the 20 of largest rel L2)
        and the lines under it; the exception's `report` attribute holds the Report.
        TensordiffError where the command would exit 2 (a missing file, nothing compared, a
        pair that could not be read). TypeError for arguments of the wrong kind.

    Example:
        >>> def test_bf16_port_matches():
        ...     tensordiff.assert_close("fp32_run.h5", "bf16_run.h5", precision="bf16")
        >>> tensordiff.assert_close({"h": x}, {"h": x + 1e-3})
        Traceback (most recent call last):
        AssertionError: assert_close(a, b): 1 of 1 tensors differ (exit status 1)
        ...
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's raise
    if _is_path(a) != _is_path(b):
        path_arg, other = ("a", "b") if _is_path(a) else ("b", "a")
        raise TypeError(f"assert_close() argument {other!r} must be a dump path like {path_arg!r} (str or "
                        "os.PathLike), or both must be arrays or dicts of name -> array; not one of each")
    keywords(options, "assert_close")  # an unknown keyword is named as assert_close()'s
    if _is_path(a):
        if name != "tensor":
            raise TypeError("assert_close() argument 'name' names a single array; dumps' tensors have their names")
        report = compare(a, b, **options)
        what = f"assert_close({os.fspath(a)!r}, {os.fspath(b)!r})"
    else:
        _args.arrays("assert_close", "a", a)
        _args.arrays("assert_close", "b", b)
        report = compare_arrays(a, b, name=name, **options)
        what = "assert_close(a, b)"
    code = report["exit_code"]
    if code == 0:
        return report
    message = _message(report, what)
    error = TensordiffError(message) if code == 2 else AssertionError(message)
    error.report = report
    raise error
