"""Module replay (issue 22): each module's own error, free of what it inherited.

Run A (the reference) was recorded with `hook_module(model, inputs=True)`: every module's
inputs and outputs. `replay(model_b, "run_a.h5")` re-runs each submodule of run B's model on run
A's recorded inputs and compares its output with A's output of that module. At the reference's
precision (the default), B's module runs in float32 outside any autocast: what differs is B's
code and weights, not the rounding either run accumulated before, so an eps or activation slip
of 2e-5 stands out even where a bf16 run carries 5e-3 from the layers before it. With
`precision="run"` the module runs as it is, in the caller's autocast: its own error then
includes its own rounding.

A module stands out when its own relative L2 error is at least its floor (64 units of float32
roundoff; a module whose weights run B holds in bfloat16 or float16 differs from A's by their
rounding, so 8 units of that precision's roundoff, its submodules' and buffers' included) and at least `ratio` times the median own
error of its peers (the same module in other layers: the same path but for its layer numbers, the same
class). A module also stands out by a systematic part (max(|scale - 1|, |shift|) of its output:
an eps or a scaled query rescales, where rounding the weights errs at random) of at least half
a roundoff of its weights' precision, 8 standard deviations beyond random error of its size, and
`ratio` times its peers' median: with run B's weights in bf16 their rounding sets the floor
above such slips. The module named is the first, in the reference's order, that stands out while none of
its submodules does: the code that made the error is its own (a functional call between its
submodules included).

Cost: one extra forward of every module whose inputs the reference holds (the model's depth
times a forward). Limits: modules with state (caches, running statistics in training) see A's
inputs but their own state; random modules (dropout in training) differ by their randomness,
which the replay seeds the same way for every module; a module whose non-tensor arguments were
not recorded gets None in their place, and any module that cannot run on what was recorded is
listed as not replayed with the reason.
"""
from __future__ import annotations

import contextlib
import copy
import os
import statistics

import numpy as np

from . import _args
from .compare import TensordiffError, _engine, compare_arrays
from .hooks import _submodules, _tensors

FLOAT32_ROUNDOFF = 2.0 ** -24


def _peer_key(name: str, cls: str) -> str | None:
    """The engine's peer key (the diagnosis' own), for a module of class `cls`."""
    return _engine().peer_key(name, f"replay ({cls})") or None


def _tree(keys: dict):
    """{"0": n, "1.0": m, "mask": k} -> nested dict by dotted components."""
    root: dict = {}
    for rest, full in keys.items():
        node = root
        parts = rest.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"{full}: recorded both as a tensor and as a container")
        node[parts[-1]] = full
    return root


class _Reference:
    """The reference dump's records by name (HDF5, as the Recorder writes it)."""

    def __init__(self, path: str):
        try:
            import h5py
        except ImportError:
            raise TensordiffError("replay reads the reference with h5py (Debian: python3-h5py)") from None
        if not os.path.exists(path):
            raise TensordiffError(f"{path}: no such reference dump")
        try:
            self.file = h5py.File(path, "r")
        except OSError as e:
            raise TensordiffError(f"{path}: not an HDF5 dump written by tensordiff.Recorder ({e})") from None
        self.names: dict[str, int] = {}

        def visit(n, obj):  # (a callback returning anything but None stops the walk)
            if hasattr(obj, "shape"):
                self.names[n] = int(obj.attrs.get("order", 0))

        self.file.visititems(visit)

    def close(self):
        self.file.close()

    def array(self, name: str) -> np.ndarray:
        ds = self.file[name]
        if ds.shape is None and "alias_of" in ds.attrs:  # the Recorder's alias record (§11)
            ds = self.file[ds.attrs["alias_of"]]
        if ds.attrs.get("dtype", "") in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
            raise ValueError(f"{name} is {ds.attrs['dtype']} in the reference; replay needs numpy-readable dtypes")
        return ds[()]

    def inputs(self, module: str):
        """(args, kwargs) of the module's first call, as numpy arrays in their structure, or
        None when nothing was recorded for it."""
        pre = module + ".input."
        keys = {n[len(pre):]: n for n in self.names
                if n.startswith(pre) and "#" not in n[len(pre):] and "~" not in n[len(pre):]}
        if not keys:
            return None
        tree = _tree(keys)

        def build(node):
            if isinstance(node, str):
                return self.array(node)
            ks = list(node)
            if ks and all(k.isdigit() for k in ks):
                n = max(int(k) for k in ks) + 1
                return tuple(build(node[str(i)]) if str(i) in node else None for i in range(n))
            return {k: build(v) for k, v in node.items()}

        positional = {k: v for k, v in tree.items() if k.isdigit()}
        n = max((int(k) for k in positional), default=-1) + 1
        args = [build(positional[str(i)]) if str(i) in positional else None for i in range(n)]
        kwargs = {k: build(v) for k, v in tree.items() if not k.isdigit()}
        return args, kwargs


def _to_torch(x, like_dtype):
    import torch
    if isinstance(x, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(x))
        return t.to(like_dtype) if t.is_floating_point() else t
    if isinstance(x, tuple):
        return tuple(_to_torch(v, like_dtype) for v in x)
    if isinstance(x, dict):
        return {k: _to_torch(v, like_dtype) for k, v in x.items()}
    return x


def replay(model, reference, precision: str = "reference", prefix: str = "", root_name: str = "output",
           ratio: float = 8.0, floor: float | None = None) -> dict:
    """Re-runs every submodule of `model` (run B) on the reference's recorded inputs and
    compares each output with the reference's: each module's own error, free of what it
    inherited (docs/design.md §4, Module replay).

    Arguments:
        model: run B's torch.nn.Module.
        reference: run A's full dump (str or os.PathLike), recorded with
            hook_module(model, inputs=True).
        precision: "reference" (B's modules run in float32, outside autocast: B's code and
            weights alone) or "run" (as they are, in the caller's autocast).
        prefix, root_name: hook_module's, as run A was recorded.
        ratio: a module stands out at this many times the median own error of its peers.
        floor: the own error below which no module stands out (default: by its weights' dtype).

    Returns:
        a dict: "modules" [{name, class, own_rel_l2, stands_out, replayed, reason, floor}],
        "named" (the module whose own error stands out, or None), "not_replayed" (count),
        "reference", "precision". Raises TensordiffError when not one module could be replayed.

    Example:
        >>> r = tensordiff.replay(model_bf16, "run_a.h5")
        >>> r["named"]  # the module whose own code made the error, e.g. 'blocks.3.mlp.act'
    """
    reference = _args.path("replay", "reference", reference)
    if not (hasattr(model, "named_modules") and callable(model.named_modules)):
        raise TypeError(f"replay() argument 'model' must be a torch.nn.Module, not {_args.kind(model)}")
    import torch
    if precision not in ("reference", "run"):
        raise ValueError(f"precision must be 'reference' or 'run', not {precision!r}")
    ref = _Reference(os.fspath(reference))
    try:
        runner = model
        if precision == "reference":
            runner = copy.deepcopy(model).float()  # B's code and weights, at the reference's precision
        modules = dict(_submodules(runner, grads=False))
        rows, outs_a, outs_b = [], {}, {}
        for path, module in _submodules(model, grads=False):
            name = prefix + (path or root_name)
            row = {"name": name, "class": type(module).__name__, "own_rel_l2": None, "stands_out": False,
                   "replayed": False, "reason": "", "floor": floor if floor is not None else _floor(module)}
            rows.append(row)
            try:
                recorded = ref.inputs(name)
                if recorded is None:
                    row["reason"] = "no inputs recorded in the reference (hook_module(inputs=True) in run A)"
                    continue
                target = modules[path]
                param = next(target.parameters(), None)
                dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
                args = [_to_torch(a, dtype) for a in recorded[0]]
                kwargs = {k: _to_torch(v, dtype) for k, v in recorded[1].items()}
                ctx = torch.autocast("cpu", enabled=False) if precision == "reference" else contextlib.nullcontext()
                torch.manual_seed(1234)
                with torch.no_grad(), ctx:
                    out = target(*args, **kwargs)
            except Exception as e:  # a module that cannot run on what was recorded: said, not fatal
                row["reason"] = f"not replayed: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                continue
            matched = 0
            for n, t in _tensors(out, name):
                if n in ref.names and "#" not in n:
                    outs_a[n] = ref.array(n)
                    outs_b[n] = t.detach().float() if t.is_floating_point() else t.detach()
                    row.setdefault("records", []).append(n)
                    matched += 1
            if matched:
                row["replayed"] = True
            else:
                row["reason"] = "no output of this module in the reference to compare with"
        if outs_a:
            rep = compare_arrays({n: outs_a[n] for n in outs_a}, outs_b, precision="fp32")
            rel = {t["name"]: (t.get("diff") or {}).get("rel_l2") for t in rep["tensors"]}
            sys_part = {t["name"]: _systematic(t) for t in rep["tensors"]}
            for row in rows:
                errs = [rel.get(n) for n in row.get("records", [])]
                errs = [e for e in errs if isinstance(e, float)]
                if errs:
                    row["own_rel_l2"] = max(errs)
                parts = [sys_part.get(n) for n in row.get("records", [])]
                parts = [p for p in parts if p is not None]
                if parts:
                    row["own_systematic"] = max(parts, key=lambda p: p[0])
        if not any(r["replayed"] for r in rows):  # nothing compared is an error, never "nothing stands out"
            reasons = sorted({r["reason"] for r in rows})
            raise TensordiffError(f"nothing replayed: no module of the model could be re-run and compared with "
                                  f"{os.fspath(reference)} ({'; '.join(reasons[:2])})")
        _judge(rows, ratio)
        order = {r["name"]: min((ref.names.get(n, 1 << 62) for n in r.get("records", [])), default=1 << 62)
                 for r in rows}
        named = [r for r in rows if r["stands_out"] and not any(
            o["stands_out"] and o["name"].startswith(r["name"] + ".") for o in rows)
            and not (r["name"] == prefix + root_name and any(o["stands_out"] for o in rows if o is not r))]
        named.sort(key=lambda r: order[r["name"]])
        for r in rows:
            r.pop("records", None)
        return {"reference": os.fspath(reference), "precision": precision, "modules": rows,
                "named": named[0]["name"] if named else None,
                "not_replayed": sum(1 for r in rows if not r["replayed"])}
    finally:
        ref.close()


def _floor(module) -> float:
    """The own error a module shows by its weights' precision alone (run B's module)."""
    import torch
    roundoff = {torch.bfloat16: 2.0 ** -9, torch.float16: 2.0 ** -11}
    # Its own and its submodules' weights and buffers (a rotary embedding's inv_freq is one).
    own = [roundoff[t.dtype] for t in (*module.parameters(), *module.buffers()) if t.dtype in roundoff]
    return 8 * max(own) if own else 64 * FLOAT32_ROUNDOFF


def _systematic(t):
    """(systematic part, its noise) of a compared record: max(|scale - 1|, |shift|), and what
    random error of its relative L2 over its elements gives (rel L2 / sqrt(n)); None without."""
    d = t.get("diff") or {}
    if t.get("scale") is None or not d.get("finite_pairs"):
        return None
    part = max(abs(t["scale"] - 1), abs(t.get("shift") or 0))
    return part, d["rel_l2"] / d["finite_pairs"] ** 0.5


def _judge(rows, ratio):
    """stands_out: at least its floor, and `ratio` times the median own error of its peers; or
    (weights in bf16 or fp16, whose rounding is random and sets the floor) a systematic part
    (a rescaling or a shift: an eps, a scaled query) `ratio` times its peers' median and 8
    standard deviations beyond what random error of that size gives."""
    peers: dict = {}
    for r in rows:
        key = _peer_key(r["name"], r["class"])
        if key is not None and r["own_rel_l2"] is not None:
            peers.setdefault(key, []).append(r)
    for r in rows:
        own = r["own_rel_l2"]
        if own is None:
            continue
        key = _peer_key(r["name"], r["class"])
        others = [p for p in peers.get(key, []) if p is not r]
        if own >= r["floor"]:
            r["stands_out"] = not others or own >= ratio * statistics.median(p["own_rel_l2"] for p in others)
        sys_own = r.get("own_systematic")
        if r["stands_out"] or sys_own is None or own < 64 * FLOAT32_ROUNDOFF:
            continue
        peer_sys = [p["own_systematic"][0] for p in others if p.get("own_systematic")]
        # Rounding the weights rescales by up to ~roundoff/sqrt(width) (a LayerNorm's gamma, a
        # projection's rows: correlated over every element, so no 1/sqrt(n) bound holds); half a
        # roundoff of the weights' precision is above what clean runs showed (3.3e-4 for bf16).
        if (peer_sys and sys_own[0] >= r["floor"] / 16 and sys_own[0] >= 8 * sys_own[1]
                and sys_own[0] >= ratio * statistics.median(peer_sys)):
            r["stands_out"] = True
