"""@watch: record named local variables of a function as they change, call after call, without
prints.

A trace function is installed on the decorated function's own frame only (sys.settrace with a
global tracer that declines every other frame), and the previous tracer is restored on return,
so the rest of the program runs at full speed and debuggers or coverage keep working.

Names line up between two runs call by call: `train_step[3]/loss#1` is the first value of
`loss` in the fourth call of `train_step` (or in the call whose `step=` argument is 3), and
the Python module is not part of the name, so the same function ported to another file
records the same names.
"""
from __future__ import annotations

import functools
import inspect
import sys
import warnings
import zlib

import numpy as np

from . import _args
from .convert import is_tensor
from .recorder import current

# numpy arrays up to this size get a full content fingerprint on every line (in-place changes
# seen at once); larger ones a sampled one per line and a full one at return.
_FULL_PRINT_BYTES = 1 << 20
_SAMPLE_BYTES = 4096
_MAX_DEPTH = 4


def _fingerprint(v, full: bool):
    """Something that changes when the value does: identity plus torch's version counter, a
    content checksum for numpy, the value itself for Python scalars."""
    if isinstance(v, (bool, int, float, complex, np.generic)):
        return ("scalar", type(v), v)
    version = getattr(v, "_version", None)
    if version is not None and type(v).__module__.split(".")[0] == "torch":
        return ("torch", id(v), version)
    if isinstance(v, np.ndarray):
        raw = np.ascontiguousarray(v).reshape(-1).view(np.uint8) if v.size else np.zeros(0, np.uint8)
        if full or raw.nbytes <= _FULL_PRINT_BYTES:
            return ("numpy", id(v), v.shape, zlib.crc32(raw))
        step = max(1, raw.nbytes // _SAMPLE_BYTES)
        return ("numpy~", id(v), v.shape, zlib.crc32(np.ascontiguousarray(raw[::step])))
    return ("object", id(v))  # JAX arrays are immutable; others by identity


def _leaves(value, prefix: str = "", depth: int = 0):
    """(suffix, leaf) for a tensor or scalar, or every one inside lists, tuples and dicts."""
    if is_tensor(value) or isinstance(value, (bool, int, float, np.generic)):
        yield prefix, value
    elif isinstance(value, (list, tuple)) and depth < _MAX_DEPTH:
        for i, v in enumerate(value):
            yield from _leaves(v, f"{prefix}.{i}", depth + 1)
    elif isinstance(value, dict) and depth < _MAX_DEPTH:
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}.{k}", depth + 1)


def _recordable(value) -> bool:
    return any(True for _ in _leaves(value))


def watch(*names: str, name: str | None = None, step=None, every_change: bool = True):
    """A decorator: records each named local of the function whenever its value changes
    (rebinding or in-place), and its final value at return when that changed, into the
    current Recorder (nothing without one).

    Arguments:
        names: the local variables to record (str), e.g. watch("h", "loss").

    Options:
        name: the stable base of the records (default: the function's qualified name, without its
        module, so that a port of the function in another file lines up).
    step: how calls are numbered: None counts this function's calls in the current Recorder
        (0, 1, 2, ...); a string names an argument of the call whose value is the number
        (step="epoch"); a callable gets the call's arguments and returns it.
    every_change: False records only the values at return.

    Records are named `name[step]/var#k` (k: the k-th value of var in that call); tensors in
    lists, tuples and dicts as `var.0#k`, `var.key#k`; Python numbers as 0-d tensors.

    Returns:
        the decorator; the decorated function returns what it returned.

    Example:
        >>> @tensordiff.watch("h", "loss")
        ... def train_step(batch):
        ...     h = model(batch)
        ...     loss = h.pow(2).mean()
        ...     return loss
        >>> with tensordiff.Recorder("run_a.h5"):
        ...     train_step(batch)  # records train_step[0]/h#1, train_step[0]/loss#1
    """
    for n in names:
        if callable(n) and not isinstance(n, str):
            raise TypeError("watch() takes the names of the variables to record: @tensordiff.watch(\"h\", \"loss\"), "
                            f"not the function itself (@tensordiff.watch without arguments got {_args.kind(n)})")
        _args.text("watch", "names", n)
    if name is not None:
        _args.text("watch", "name", name)
    if not names:
        raise ValueError("watch() needs the names of the variables to record")

    def decorate(func):
        code = func.__code__
        base = name or func.__qualname__.replace("<locals>.", "")
        signature = inspect.signature(func)
        warned: set[str] = set()

        def warn_once(key: str, message: str):
            if key not in warned:
                warned.add(key)
                warnings.warn(f"tensordiff.watch: {base}: {message}", stacklevel=4)

        def call_step(rec, args, kwargs):
            if step is None:
                return rec.next_call(base)
            if callable(step):
                return step(*args, **kwargs)
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            if step not in bound.arguments:
                raise ValueError(f"tensordiff.watch: {base}: step={step!r} is not an argument")
            return bound.arguments[step]

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            rec = current()
            if rec is None:
                return func(*args, **kwargs)
            prefix = f"{base}[{call_step(rec, args, kwargs)}]"
            last: dict[str, tuple] = {}  # (line print, full print) last recorded, per var.key
            counts: dict[str, int] = {}
            seen: set[str] = set()
            target = []
            prev_line = [code.co_firstlineno]

            def record(frame, line: int, final: bool):
                local = frame.f_locals
                for var in names:
                    if var not in local:
                        continue
                    seen.add(var)
                    value = local[var]
                    if not _recordable(value):
                        warn_once(f"type:{var}", f"{var!r} is a {type(value).__name__}, not a tensor, "
                                                 "a number or a list/tuple/dict of them; not recorded")
                        continue
                    for suffix, leaf in _leaves(value):
                        key = var + suffix
                        # Per line a cheap print (sampled for big numpy arrays); at return the
                        # full one, compared with the full print of what was last recorded.
                        fp = _fingerprint(leaf, full=final)
                        prints = last.get(key)
                        if prints is not None and prints[1 if final else 0] == fp:
                            continue
                        full = fp if final else _fingerprint(leaf, full=True)
                        last[key] = (fp if not final else _fingerprint(leaf, full=False), full)
                        counts[key] = counts.get(key, 0) + 1
                        rec.save(f"{prefix}/{key}#{counts[key]}", leaf,
                                 source=f"{code.co_filename}:{line}")

            def local_trace(frame, event, arg):
                if event == "line":
                    # The value seen now was produced by the line that just ran.
                    if every_change:
                        record(frame, prev_line[0], False)
                    prev_line[0] = frame.f_lineno
                elif event == "return":
                    record(frame, frame.f_lineno, True)
                return local_trace

            def global_trace(frame, event, arg):
                if event == "call" and frame.f_code is code and not target:
                    target.append(frame)
                    return local_trace
                return None  # every other frame runs untraced

            previous = sys.gettrace()
            sys.settrace(global_trace)
            try:
                result = func(*args, **kwargs)
            finally:
                sys.settrace(previous)
            # Only a call that ran to its end says a name never appeared (a call stopped by an
            # exception, a Divergence included, may not have reached it).
            for var in names:
                if var not in seen:
                    warn_once(f"missing:{var}", f"no local variable {var!r} during the call "
                                                "(misspelled?); nothing recorded for it")
            return result

        return wrapper

    return decorate
