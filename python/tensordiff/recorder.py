"""The recorder: where watched variables, module hooks and hand-placed points go.

`full` mode writes each tensor as an HDF5 dataset in its own dtype (float16 as HDF5 float16,
bfloat16 as the custom float of DESIGN.md §5) with the attributes order, step, source,
framework and dtype, in a file that tracks creation order. `summary` mode writes no data: one
JSON line per tensor with the fields of `tensordiff stats --json` (a JSON-lines file whose first
line is a header), which `tensordiff A B` compares like dumps. Every record is flushed at once,
so a crash of the traced program keeps what was recorded.
"""
from __future__ import annotations

import fnmatch
import json
import os
import sys
import threading
import warnings

import h5py
import numpy as np

from ._native import engine
from .convert import framework_of, to_numpy
from .summary import summarize

_local = threading.local()


def current():
    """The innermost active Recorder of this thread, or None."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def _bf16_type():
    """The custom HDF5 float that the engine reads as bfloat16: fields (15, 7, 8, 0, 7), bias 127."""
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_size(2)
    t.set_precision(16)
    t.set_ebias(127)
    return t


def _caller_source() -> str:
    """file:line of the first frame outside this package (a frame walk: inspect.stack() reads
    every frame's source file and costs milliseconds)."""
    here = os.path.dirname(os.path.abspath(__file__))
    f = sys._getframe(1)
    while f is not None:
        if not os.path.abspath(f.f_code.co_filename).startswith(here):
            return f"{f.f_code.co_filename}:{f.f_lineno}"
        f = f.f_back
    return ""


class Recorder:
    def __init__(self, path: str, mode: str = "full", filter=None, max_bytes: int | None = None,
                 step: int = 0):
        if mode not in ("full", "summary"):
            raise ValueError(f"mode must be 'full' or 'summary', not {mode!r}")
        self.path, self.mode, self.step = path, mode, step
        self.max_bytes = max_bytes
        self._filter = filter
        self._order = 0
        self._bytes = 0
        self._seen: dict[str, int] = {}
        self._names: set[str] = set()       # every name recorded (a repeat gets ~2, ~3, ...)
        self._calls: dict[str, int] = {}    # watched functions' call counters
        self._file = None
        self._lock = threading.Lock()

    # -- lifetime ---------------------------------------------------------------------------
    def __enter__(self):
        if self.mode == "full":
            self._file = h5py.File(self.path, "w", track_order=True)
        else:
            self._file = open(self.path, "w", encoding="utf-8")
            self._file.write(json.dumps({"schema": 1, "kind": "summary", "version": "0.1.0"}) + "\n")
            self._file.flush()
        _local.stack = getattr(_local, "stack", []) + [self]
        return self

    def __exit__(self, *exc):
        _local.stack = [r for r in getattr(_local, "stack", []) if r is not self]
        self._file.close()
        self._file = None
        return False

    # -- recording --------------------------------------------------------------------------
    def next_call(self, function: str) -> int:
        """The number of this call of a watched function: 0, 1, 2, ... per Recorder."""
        with self._lock:
            k = self._calls.get(function, 0)
            self._calls[function] = k + 1
            return k

    def unique_name(self, name: str) -> str:
        """name the first time, then name#2, name#3, ... (repeated calls of one module)."""
        k = self._seen.get(name, 0) + 1
        self._seen[name] = k
        return name if k == 1 else f"{name}#{k}"

    def wants(self, name: str) -> bool:
        f = self._filter
        if f is None:
            return True
        if callable(f):
            return bool(f(name))
        globs = [f] if isinstance(f, str) else list(f)
        return any(fnmatch.fnmatchcase(name, g) for g in globs)

    def save(self, name: str, value, step: int | None = None, source: str | None = None) -> bool:
        """Records `value` under `name`; returns whether it was recorded."""
        if self._file is None:
            raise RuntimeError("Recorder.save outside its 'with' block")
        if not self.wants(name):
            return False
        arr, dtype = to_numpy(value)
        # C order without np.ascontiguousarray, which turns a 0-d array into shape (1,).
        arr = np.require(arr, requirements="C")
        if self.max_bytes is not None and self._bytes + arr.nbytes > self.max_bytes:
            warnings.warn(f"tensordiff: {name} not recorded: max_bytes={self.max_bytes} reached")
            return False
        with self._lock:
            if name in self._names:
                # Recording a name twice must never stop the user's program: keep both.
                k = 2
                while f"{name}~{k}" in self._names:
                    k += 1
                warnings.warn(f"tensordiff: {self.path}: {name!r} recorded again; kept as {name}~{k}")
                name = f"{name}~{k}"
            self._names.add(name)
            self._bytes += arr.nbytes
            order = self._order
            self._order += 1
            attrs = {"order": order, "step": self.step if step is None else step,
                     "source": source if source is not None else _caller_source(),
                     "framework": framework_of(value), "dtype": dtype}
            if self.mode == "full":
                try:
                    self._write_dataset(name, arr, dtype, attrs)
                except (ValueError, TypeError, KeyError, OSError) as e:
                    # e.g. a name that clashes with a group: a warning, never the user's crash
                    warnings.warn(f"tensordiff: {self.path}: {name!r} not recorded: {e}")
                    return False
            else:
                entry = {"name": name, "order": order, "dtype": dtype, "shape": list(arr.shape)}
                entry.update(_summary(name, arr, dtype))
                entry.update({k: attrs[k] for k in ("step", "source", "framework")})
                self._file.write(json.dumps(entry) + "\n")
            self._file.flush()
        return True

    def _write_dataset(self, name, arr, dtype, attrs):
        if dtype == "bfloat16":
            space = h5py.h5s.create_simple(arr.shape) if arr.shape else h5py.h5s.create(h5py.h5s.SCALAR)
            tid = _bf16_type()
            parent, _, leaf = name.rpartition("/")
            group = self._file.require_group(parent) if parent else self._file
            dsid = h5py.h5d.create(group.id, leaf.encode(), tid, space)
            dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, arr, mtype=tid)
            dset = h5py.Dataset(dsid)
        else:
            dset = self._file.create_dataset(name, data=arr)
        for k, v in attrs.items():
            dset.attrs[k] = v


_SIDE_FIELDS = ("count", "nonzero", "nan", "pos_inf", "neg_inf", "min", "max", "mean", "std", "l2",
                "first_nonzero", "mag_hist", "checksum")
_warned_no_engine = False


def _summary(name: str, arr: np.ndarray, dtype: str) -> dict:
    """The side fields of `tensordiff stats` for one array, computed by the engine in C++ (one
    pass at memory speed); numpy passes only when the engine module was not built."""
    global _warned_no_engine
    eng = engine()
    if eng is not None:
        try:
            doc = json.loads(eng.stats_json([(name, dtype, list(arr.shape), arr, "")]))
            t = doc["tensors"][0]
            return {k: t[k] for k in _SIDE_FIELDS}
        except eng.EngineError:
            pass  # a dtype the engine does not read: numpy's summary says what it can
    elif not _warned_no_engine:
        _warned_no_engine = True
        warnings.warn("tensordiff: the engine module is not built; summaries fall back to numpy "
                      "(slower): build it (scripts/build.sh) or pip install the package")
    return summarize(arr, dtype)


def save(name: str, value, **kw) -> bool:
    """Records into the current Recorder (no-op without one)."""
    rec = current()
    return rec.save(name, value, **kw) if rec is not None else False
