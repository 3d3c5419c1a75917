"""Argument checks at the package's edge: a wrong type is a TypeError that names the function,
the argument and what it accepts, before it reaches os.fspath, numpy or the engine (where it
would surface as an unrelated message: "expected str, bytes or os.PathLike object", "unsupported
dtype 'object'")."""
from __future__ import annotations

import os

import numpy as np

from .convert import is_number, is_tensor

ARRAY = ("an array or tensor (numpy, torch, JAX, MindSpore: anything with __array__, .numpy() or "
         ".asnumpy()), a Python number, or a list of numbers")


def kind(value) -> str:
    """What a value is, as a message names it: `None`, `int`, `numpy.ndarray`, `torch.Tensor`."""
    if value is None:
        return "None"
    t = type(value)
    mod = t.__module__
    return t.__qualname__ if mod == "builtins" else f"{mod.split('.')[0]}.{t.__qualname__}"


def path(func: str, arg: str, value, none_ok: bool = False, hint: str = "") -> str | None:
    """`value` as a str path; TypeError unless it is a str or os.PathLike (or None when allowed)."""
    if value is None and none_ok:
        return None
    if isinstance(value, (str, os.PathLike)):
        p = os.fspath(value)
        if isinstance(p, str):
            return p
    accepts = "a file path (str or os.PathLike)" + (" or None" if none_ok else "")
    raise TypeError(f"{func}() argument {arg!r} must be {accepts}, not {kind(value)}{hint}")


def text(func: str, arg: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{func}() argument {arg!r} must be a str, not {kind(value)}")
    return value


def array(func: str, arg: str, value, what: str = ARRAY):
    """TypeError unless `value` can be an array the engine reads (its dtype is checked there)."""
    if isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError(f"{func}() argument {arg!r} must be {what}, not {kind(value)} (a dump path? "
                        "tensordiff.compare and tensordiff.stats read dumps)")
    ok = is_tensor(value) or is_number(value)
    if not ok and isinstance(value, (list, tuple)):
        try:
            ok = np.asarray(value).dtype != object
        except (ValueError, TypeError):
            ok = False
    if not ok:
        raise TypeError(f"{func}() argument {arg!r} must be {what}, not {kind(value)}")
    return value


def arrays(func: str, arg: str, value) -> list[tuple[str, object]]:
    """(name, array) pairs of one array or a dict of name -> array."""
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{func}() argument {arg!r}: a dict's keys are tensor names (str), not {kind(k)}")
            array(func, f"{arg}[{k!r}]", v)
            out.append((k, v))
        return out
    array(func, arg, value, ARRAY + ", or a dict of name -> array")
    return [(None, value)]
