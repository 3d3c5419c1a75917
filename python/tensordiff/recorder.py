"""The recorder: where watched variables, module hooks and hand-placed points go.

`full` mode writes each tensor as an HDF5 dataset in its own dtype (float16 as HDF5 float16,
bfloat16 as the custom float of docs/design.md §5) with the attributes order, step, source,
framework and dtype, in a file that tracks creation order. `summary` mode writes no data: one
JSON line per tensor with the fields of `tensordiff stats --json` (a JSON-lines file whose first
line is a header), which `tensordiff A B` compares like dumps. Every record is flushed at once,
so a crash of the traced program keeps what was recorded.

With `reference=` the run checks itself: each tensor is compared, as it is recorded, with the
reference dump's tensor of the same name (the engine in this process, the command line's
verdicts and diagnosis), and the first divergence raises `Divergence` (or warns, or is only
marked). `path` may then be None: nothing is written.
"""
from __future__ import annotations

import fnmatch
import json
import os
import sys
import threading
import warnings

import numpy as np

from . import _args
from ._native import engine
from .compare import TensordiffError, _engine, as_dict, keywords
from .convert import array_arg, framework_of
from .summary import summarize

_local = threading.local()
_active: list = []  # every Recorder inside its with-block, in any thread, innermost last


def current():
    """The Recorder that records now: the innermost active one of this thread.

    Arguments: none.

    Returns:
        that Recorder, or None outside every Recorder's with-block.

    Example:
        >>> with tensordiff.Recorder("run.h5") as rec:
        ...     assert tensordiff.current() is rec
    """
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def active_recorder():
    """The Recorder entered last in any thread, or None: for values that arrive on another
    thread than the one that entered it (JAX's host callbacks from a jitted function)."""
    return _active[-1] if _active else None


def _h5py():
    try:
        import h5py
    except ImportError:
        raise TensordiffError("recording full dumps needs h5py (Debian: apt install python3-h5py; "
                              "or pip install h5py); summary mode and reference mode do not") from None
    return h5py


def _bf16_type():
    """The custom HDF5 float that the engine reads as bfloat16: fields (15, 7, 8, 0, 7), bias 127."""
    h5py = _h5py()
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


class Divergence(AssertionError):
    """Raised by Recorder(reference=...) where this run parts from its reference (the first
    tensor over tolerance whose own error is a jump, or with divergence="tolerance" the first
    over tolerance). An AssertionError, so a test that runs a model under such a Recorder fails
    with its message.

    Arguments (made by the Recorder):
        reference: the reference dump's path; row: the tensor's entry; report: the run so far.

    Attributes:
        name: the tensor's name; source: the file:line that produced it; row: its entry, as in
        compare()'s report["tensors"]; first_jump: where the error was introduced, when the
        diagnosis names a tensor; report: every tensor checked so far (a Report); replay:
        tensordiff.replay's result with Recorder(replay=True), else None.

    Example:
        >>> try:
        ...     with tensordiff.Recorder(reference="run_a.h5"), tensordiff.hook_module(model):
        ...         model(x)
        ... except tensordiff.Divergence as d:
        ...     print(d.name, d.source, d.first_jump)
    """

    def __init__(self, reference: str, row: dict, report: dict):
        self.name, self.row, self.report = row["name"], row, report
        self.replay = None  # Recorder(replay=True): tensordiff.replay's result for the hooked model
        self.source = row.get("source") or ""
        self.first_jump = report["summary"].get("first_jump")
        super().__init__(_divergence_message(reference, row, report))


def _fmt(x):
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _divergence_message(reference: str, row: dict, report: dict) -> str:
    where = f" ({row['source']})" if row.get("source") else ""
    msg = f"tensordiff: this run parts from {reference} at {row['name']!r}{where}: {row['reason']}"
    d = row.get("diff")
    if d:
        at = d.get("max_abs_at") or {}
        msg += (f"; max|d| {_fmt(d['max_abs'])}" +
                (f" at {at['index']} (a {_fmt(at['a'])}, b {_fmt(at['b'])})" if at else "") +
                f", rel L2 {_fmt(d['rel_l2'])}, cosine {_fmt(d['cosine'])}")
    if row.get("jump") and row.get("growth") is not None:
        msg += f"; its own error: x{_fmt(row['growth'])} what it inherited"
        if row.get("gap_after"):
            msg += f", made by the code between {row['gap_after']!r} and it"
    jump = report["summary"].get("first_jump")
    if jump and jump != row["name"]:
        msg += f"; the error was introduced at {jump!r} (first jump)"
    return msg


class Recorder:
    """Records the tensors of a running program (module hooks, watched variables,
    tensordiff.save) into a dump, and/or checks each against a reference run as it is made.

    Arguments:
        path: the dump to write (str or os.PathLike; None with a reference: write nothing).
        mode: "full" (an HDF5 file of every tensor in its own dtype; needs h5py) or "summary"
            (one JSON line of `tensordiff stats` fields per tensor, no data).
        filter: which names to record: a glob, a list of globs, or a callable name -> bool.
        max_bytes: stop recording (with a warning) past this many bytes of data.
        step: the step number stored with each record.
        reference: a dump of run A to check this run against as it goes (reference mode).
        on_divergence: in reference mode, "raise" Divergence, "warn", or "mark" (only report).
        divergence: "jump" (the run parts where a tensor's own error is a jump) or "tolerance"
            (at the first tensor over tolerance).
        replay: with reference=, re-run the hooked models on the reference's recorded inputs
            when the block ends (tensordiff.replay); results in `replayed`.
        aliases: (full mode) write a tensor whose data equals one recorded before it in the same
            step as an alias record naming that one (docs/design.md §11), not a second copy.
        options: compare()'s keywords for reference mode (rtol=, precision=, map=, ...).

    Attributes:
        divergence: the first Divergence (reference mode), or None; replayed: replay results.

    Methods:
        report(): reference mode: every tensor checked so far, as a Report.
        save(name, value): records one tensor (tensordiff.save records into the current one).

    Returns (as a context manager): itself; leaving the block closes the dump.

    Example:
        >>> with tensordiff.Recorder("run_a.h5"), tensordiff.hook_module(model):
        ...     model(x)
        >>> with tensordiff.Recorder(reference="run_a.h5") as rec, tensordiff.hook_module(model):
        ...     model(x)  # raises tensordiff.Divergence where this run parts from run A
        >>> rec.report()["summary"]["first_jump"]
    """

    def __init__(self, path: str | None = None, mode: str = "full", filter=None,
                 max_bytes: int | None = None, step: int = 0, reference: str | None = None,
                 on_divergence: str = "raise", divergence: str = "jump", replay: bool = False,
                 aliases: bool = True, **options):
        path = _args.path("Recorder", "path", path, none_ok=True)
        reference = _args.path("Recorder", "reference", reference, none_ok=True)
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)):
            raise TypeError(f"Recorder() argument 'max_bytes' must be an int or None, not {_args.kind(max_bytes)}")
        if isinstance(step, bool) or not isinstance(step, int):
            raise TypeError(f"Recorder() argument 'step' must be an int, not {_args.kind(step)}")
        if not (filter is None or callable(filter) or isinstance(filter, str)
                or (isinstance(filter, (list, tuple)) and all(isinstance(g, str) for g in filter))):
            raise TypeError("Recorder() argument 'filter' must be a glob (str), a list of globs or a callable "
                            f"name -> bool, not {_args.kind(filter)}")
        if mode not in ("full", "summary"):
            raise ValueError(f"mode must be 'full' or 'summary', not {mode!r}")
        if on_divergence not in ("raise", "warn", "mark"):
            raise ValueError(f"on_divergence must be 'raise', 'warn' or 'mark', not {on_divergence!r}")
        if divergence not in ("jump", "tolerance"):
            raise ValueError(f"divergence must be 'jump' or 'tolerance', not {divergence!r}")
        if path is None and reference is None:
            raise ValueError("Recorder needs a path to write, a reference to check against, or both")
        if options and reference is None:
            raise TypeError(f"comparison options ({', '.join(options)}) need reference=")
        if replay and reference is None:
            raise ValueError("replay=True re-runs the hooked modules on the reference's recorded inputs: it needs "
                             "reference=")
        # replay=True: when the with-block ends (a Divergence included), every model hooked in it
        # is replayed on the reference's inputs (tensordiff.replay): `replayed` holds the results,
        # and a Divergence raised in the block carries the first as `.replay`.
        self._replay = replay
        self._replay_models: list = []
        self.replayed: list = []
        self.path, self.mode, self.step = path, mode, step
        self.reference, self.on_divergence = reference, on_divergence
        # "jump": the run diverges where a tensor is over tolerance *and* its own error is beyond
        # what it inherited (the diagnosis' jump): a bf16 run is over an fp32 reference's
        # tolerance from its first layer on, by rounding alone. "tolerance": at the first tensor
        # over tolerance.
        self.divergence_rule = divergence
        self._options = keywords(options, "Recorder") if reference is not None else {}
        self._warned_unmatched = False
        self._first_unmatched = None
        self._ref = None
        self.divergence: Divergence | None = None  # the first one, in reference mode
        self.max_bytes = max_bytes
        self._filter = filter
        self._order = 0
        self._bytes = 0
        self._seen: dict[str, int] = {}
        self._names: set[str] = set()       # every name recorded (a repeat gets ~2, ~3, ...)
        self._calls: dict[str, int] = {}    # watched functions' call counters
        self._file = None
        self._lock = threading.Lock()
        # aliases=True (full mode): a tensor whose data equals one recorded before it in the same
        # step (dtype, shape and checksum) is written as an alias record naming that one, not a
        # second copy (docs/design.md §11): GPT-2 records its KV cache four times and its logits
        # twice, a module's input is its predecessor's output. The engine reads the alias as its
        # target's data under its own name, order and source.
        self._aliases = aliases
        self._by_data: dict[tuple, str] = {}
        self._warned_values = False

    # -- lifetime ---------------------------------------------------------------------------
    def __enter__(self):
        if self.reference is not None:
            eng = engine()
            if eng is None:
                raise TensordiffError("reference mode needs the engine module: pip install ./python "
                                      "(see the README) or scripts/build.sh")
            try:
                self._ref = eng.Reference(os.fspath(self.reference), self._options)
            except eng.EngineError as e:
                raise TensordiffError(str(e)) from None
        if self.path is None:
            self._file = _NoFile()
        elif self.mode == "full":
            self._file = _h5py().File(self.path, "w", track_order=True)
        else:
            self._file = open(self.path, "w", encoding="utf-8")
            self._file.write(json.dumps({"schema": 1, "kind": "summary", "version": "0.1.0"}) + "\n")
            self._file.flush()
        _local.stack = getattr(_local, "stack", []) + [self]
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _local.stack = [r for r in getattr(_local, "stack", []) if r is not self]
        if self in _active:
            _active.remove(self)
        self._file.close()
        self._file = None
        if self._replay and exc[0] is None and not self._replay_models:
            raise TensordiffError("replay=True, but no model was hooked in this block (hook_module(model) inside "
                                  "the Recorder's with-block): nothing was replayed")
        if self._replay and (exc[0] is None or isinstance(exc[1], Divergence)):
            from .replay import replay
            self.replayed = [replay(model, self.reference, prefix=prefix, root_name=root)
                             for model, prefix, root in self._replay_models]
            if isinstance(exc[1], Divergence) and self.replayed:
                exc[1].replay = self.replayed[0]
        if self._ref is not None and exc[0] is None:
            checked, matched = self._ref.counts()
            if checked and not matched:  # every check passed because none compared anything
                first = f" ({self._first_unmatched!r} was the first)" if self._first_unmatched else ""
                raise TensordiffError(
                    f"nothing compared: none of the {checked} tensors this run recorded was compared with "
                    f"{os.fspath(self.reference)}{first}: not in it, or not selected (include=/exclude=); "
                    "record both runs with the same names (hook_module's prefix=, watch's name=) or give map=")
        return False

    def report(self):
        """Reference mode: every tensor checked so far, as compare()'s report (first
        divergence, first jump, growth), with "exit_code": a tensordiff.Report."""
        if self._ref is None:
            raise RuntimeError("report() is for reference mode (Recorder(reference=...))")
        try:
            result = self._ref.report()
        except engine().EngineError as e:  # nothing compared: no recorded name is in the reference
            raise TensordiffError(str(e)) from None
        return as_dict(result, warn=False)  # the report is the answer; its warnings are in it

    def _check(self, name, arr, dtype, source):
        try:
            result = self._ref.check((name, dtype, [int(d) for d in arr.shape], arr, source))
        except engine().EngineError as e:  # the first tensor has no counterpart: names unlike
            raise TensordiffError(str(e)) from None
        row = result.report()["tensors"][0]
        unselected = (row.get("reason") or "").startswith("not selected")
        if row["status"] == "only_in_b" and not unselected and self._first_unmatched is None:
            self._first_unmatched = name
        if row["status"] == "only_in_b" and not unselected and not self._warned_unmatched:
            # Once: the first recorded name the reference lacks, with the closest it has.
            self._warned_unmatched = True
            warnings.warn(f"tensordiff: {name!r} has no counterpart in {os.fspath(self.reference)}: "
                          f"{row.get('reason') or 'not in the reference'}; later ones are in report()",
                          stacklevel=4)
        if self.divergence is not None or row["status"] not in ("mismatch", "incompatible", "error"):
            return
        if self.divergence_rule == "jump" and row["status"] == "mismatch" and not row.get("jump"):
            return  # over tolerance by what it inherited: not where this run parts
        self.divergence = Divergence(os.fspath(self.reference), row, self.report())
        if self.on_divergence == "raise":
            raise self.divergence
        if self.on_divergence == "warn":
            warnings.warn(str(self.divergence), stacklevel=3)

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
        _args.text("Recorder.save", "name", name)
        if self._file is None:
            raise RuntimeError("Recorder.save outside its 'with' block")
        if not self.wants(name):
            return False
        _, dtype, _, arr, _ = array_arg(name, value)
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
            if self.path is not None:
                if not self._write(name, arr, dtype, order, attrs):
                    return False
        # Outside the lock: the check runs the engine (and may raise Divergence).
        if self._ref is not None:
            self._check(name, arr, dtype, attrs["source"])
        return True

    def save_value(self, name: str, value, source: str | None = None, step: int | None = None) -> bool:
        """Records a non-tensor value (a module setting, a scalar call argument) as a value
        record (docs/design.md §11): compared as a value, a differing one named ahead of any
        tensor. Full mode only (summary and reference mode skip it, with one warning); returns
        whether it was recorded."""
        text = value_text(value)
        if text is None or not self.wants(name):
            return False
        if self._file is None:
            raise RuntimeError("Recorder.save_value outside its 'with' block")
        if self.mode != "full" or self.path is None:
            if not self._warned_values:
                self._warned_values = True
                warnings.warn("tensordiff: settings and scalar arguments are recorded in full mode only "
                              f"({name!r} and later ones skipped)", stacklevel=3)
            return False
        with self._lock:
            if name in self._names:
                return False  # a setting is recorded once
            self._names.add(name)
            order = self._order
            self._order += 1
            attrs = {"order": order, "step": self.step if step is None else step,
                     "source": source if source is not None else _caller_source(), "value": text}
            try:
                dset = self._file.create_dataset(name, data=_h5py().Empty("u1"))
                for k, v in attrs.items():
                    dset.attrs[k] = v
            except (ValueError, TypeError, KeyError, OSError) as e:
                warnings.warn(f"tensordiff: {self.path}: {name!r} not recorded: {e}")
                return False
            self._file.flush()
        return True

    def _write(self, name, arr, dtype, order, attrs) -> bool:
        if self.mode == "full":
            try:
                target = self._earlier_copy(name, arr, dtype, attrs["step"])
                if target is not None:
                    self._write_alias(name, target, attrs)
                else:
                    self._write_dataset(name, arr, dtype, attrs)
            except (ValueError, TypeError, KeyError, OSError) as e:
                # e.g. a name that clashes with a group: a warning, never the user's crash
                warnings.warn(f"tensordiff: {self.path}: {name!r} not recorded: {e}")
                return False
        else:
            fields = _summary(name, arr, dtype)
            if fields is None:
                return False
            entry = {"name": name, "order": order, "dtype": dtype, "shape": list(arr.shape)}
            entry.update(fields)
            entry.update({k: attrs[k] for k in ("step", "source", "framework")})
            self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        return True

    def _earlier_copy(self, name, arr, dtype, step):
        """The name of a tensor recorded before in this step with this one's data (dtype, shape
        and the engine's checksum of its bytes, one pass at memory speed), else None (and this
        one is remembered)."""
        if not self._aliases:
            return None
        eng = engine()
        if eng is None:  # no engine module built: every tensor is written whole
            return None
        digest = eng.checksum(arr.reshape(-1).view(np.uint8))
        key = (step, dtype, tuple(arr.shape), digest)
        target = self._by_data.get(key)
        if target is None:
            self._by_data[key] = name
        return target

    def _write_alias(self, name, target, attrs):
        h5py = _h5py()
        dset = self._file.create_dataset(name, data=h5py.Empty("u1"))
        dset.attrs["alias_of"] = target
        for k, v in attrs.items():
            dset.attrs[k] = v

    def _write_dataset(self, name, arr, dtype, attrs):
        h5py = _h5py()
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


def _summary(name: str, arr: np.ndarray, dtype: str) -> dict | None:
    """The side fields of `tensordiff stats` for one array, computed by the engine in C++ (one
    pass at memory speed). None, with a warning, for a dtype the engine does not read (complex,
    strings): the tensor is not recorded, as a full dump's unwritable one is not."""
    _engine()  # not built: the TensordiffError saying how to build it, not a warning per tensor
    try:
        return summarize(arr, dtype, name=name)
    except TensordiffError as e:
        warnings.warn(f"tensordiff: {name!r} not recorded: {e}")
        return None


def value_text(value) -> str | None:
    """A value record's text, "<type> <JSON value>" ("float 1e-05", 'str "tanh"', "tuple [64]"),
    as msprobe writes its non-tensor arguments; None for what is no plain value."""
    if isinstance(value, (bool, int, float, str)) and not isinstance(value, type):
        kind = type(value).__name__ if type(value) in (bool, int, float, str) else type(value).__mro__[1].__name__
        return f"{kind} {json.dumps(value)}"
    if isinstance(value, (tuple, list)) and all(isinstance(v, (bool, int, float, str)) for v in value):
        return f"{type(value).__name__} {json.dumps(list(value))}"
    if type(value).__name__ == "dtype" and hasattr(value, "is_floating_point"):  # torch.dtype
        return f'torch.dtype "{value}"'
    return None


def save(name: str, value, **kw) -> bool:
    """Records one tensor into the current Recorder (a hand-placed point where no hook sees).

    Arguments:
        name: the record's name (str); the same name twice keeps both (`name~2`).
        value: an array or tensor (numpy, torch, JAX, MindSpore) or a Python number.
        kw: step= (the step stored with it, default the Recorder's), source= (file:line,
            default the caller's line).

    Returns:
        True when recorded; False outside every Recorder, for a name its filter leaves out, or
        past its max_bytes.

    Example:
        >>> with tensordiff.Recorder("run_a.h5"):
        ...     h = attention(q, k, v)
        ...     tensordiff.save("attn_out", h)
        True
    """
    _args.text("save", "name", name)
    _args.array("save", "value", value)
    rec = current()
    return rec.save(name, value, **kw) if rec is not None else False


class _NoFile:
    """Reference mode without a path: nothing is written."""

    def write(self, _):
        pass

    def flush(self):
        pass

    def close(self):
        pass
