"""@watch: record named local variables of one function as they change, without prints.

A trace function is installed on the decorated function's own frame only (sys.settrace with a
global tracer that declines every other frame), and the previous tracer is restored on return,
so the rest of the program runs at full speed and debuggers or coverage keep working.
"""
from __future__ import annotations

import functools
import sys

from .convert import is_tensor
from .recorder import current


def watch(*names: str, every_change: bool = True):
    """Records each named local when it is (re)bound to a new object, and at return.

    Records are named `module.function/name#k` (k-th recorded value of `name`). With
    every_change=False only the values at return are recorded.
    """
    if not names:
        raise ValueError("watch() needs the names of the variables to record")

    def decorate(func):
        code = func.__code__
        base = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            rec = current()
            if rec is None:
                return func(*args, **kwargs)
            last: dict[str, int] = {}   # id of the object last recorded per name
            counts: dict[str, int] = {}
            target = []

            def record(frame, final: bool):
                for n in names:
                    if n not in frame.f_locals:
                        continue
                    v = frame.f_locals[n]
                    if not is_tensor(v) or (last.get(n) == id(v) and (final or every_change)):
                        continue
                    last[n] = id(v)
                    counts[n] = counts.get(n, 0) + 1
                    rec.save(f"{base}/{n}#{counts[n]}", v,
                             source=f"{code.co_filename}:{frame.f_lineno}")

            def local_trace(frame, event, arg):
                if event == "line" and every_change:
                    record(frame, False)
                elif event == "return":
                    record(frame, True)
                return local_trace

            def global_trace(frame, event, arg):
                if event == "call" and frame.f_code is code and not target:
                    target.append(frame)
                    return local_trace
                return None  # every other frame runs untraced

            previous = sys.gettrace()
            sys.settrace(global_trace)
            try:
                return func(*args, **kwargs)
            finally:
                sys.settrace(previous)

        return wrapper

    return decorate
