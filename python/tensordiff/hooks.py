"""Module hooks for PyTorch modules, MindSpore cells and flax linen modules (flax_hooks.py): every submodule's forward outputs (and
optionally inputs, and on PyTorch gradients) recorded under its module path, in execution order.
A MindSpore port of a PyTorch model gets the same names for the same architecture
(`blocks.0.norm`), so the two runs line up by name with no --map. MindSpore calls hooks in
PyNative mode only (GRAPH_MODE compiles the cell): hook_module says so instead of failing there.

Inputs are recorded where they are inputs: before the module's children run (a forward
pre-hook; on torch < 2 a wrapper of `forward`, which also sees keyword arguments), as
`X.input.0`, `X.input.1`, ... for positional arguments and `X.input.NAME` for keywords. Outputs
are `X` (one tensor) or `X.0`, `X.1.0`, `X.logits`, ... (tuples, lists, dicts, dataclasses and
ModelOutput); the engine links `X.input.*` to every output named `X` or `X.<anything>`. Cache
objects (transformers' DynamicCache and the like) are recorded as their tensors where a module
returns them, not where they are passed in (every later layer gets the same cache); any other
object holding tensors is skipped with one warning naming its type.

A tensor returned again by an enclosing module (logits, a KV cache) is recorded again under its
own name, so both runs hold every name; the Recorder stores a copy as an alias record of the
first (docs/design.md §11), so copies cost neither space nor verdicts.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
import warnings

from . import _args
from .convert import is_tensor
from .flax_hooks import FlaxHooks, is_flax_module
from .recorder import current

_HERE = os.path.dirname(os.path.abspath(__file__))
_FRAMEWORK_DIRS = tuple(f"{os.sep}{d}{os.sep}" for d in ("torch", "mindspore"))


def _caller(module) -> str:
    """file:line of the user's code that called the module (the first frame outside torch,
    MindSpore and this package), and the module's class: `train.py:42 (Linear)`."""
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_HERE) or any(d in fn for d in _FRAMEWORK_DIRS)):
            return f"{fn}:{f.f_lineno} ({type(module).__name__})"
        f = f.f_back
    return type(module).__name__


class _Hooks:
    """Context manager owning the hook handles; leaving it removes every hook."""

    def __init__(self, handles):
        self.handles = handles

    def remove(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _cache_parts(value):
    """(field, tensors) of a key/value cache object, or None when `value` is not one."""
    if hasattr(value, "key_cache") and hasattr(value, "value_cache"):  # transformers 4.36-4.55
        return [("key_cache", value.key_cache), ("value_cache", value.value_cache)]
    layers = getattr(value, "layers", None)  # transformers >= 4.56: one object per layer
    if isinstance(layers, (list, tuple)) and layers and all(hasattr(x, "keys") and hasattr(x, "values")
                                                            and not isinstance(x, dict) for x in layers):
        return [("key_cache", [x.keys for x in layers]), ("value_cache", [x.values for x in layers])]
    if hasattr(value, "to_legacy_cache"):
        return [("legacy", value.to_legacy_cache())]
    return None


_warned_types: set = set()


def _tensors(value, prefix):
    """(name, tensor) pairs of a module's output or input: a tensor, or tuples, lists, dicts,
    dataclasses (ModelOutput) and key/value caches of them."""
    if is_tensor(value) and not isinstance(value, (dict, list, tuple)):
        yield prefix, value
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{prefix}.{i}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors(v, f"{prefix}.{k}")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _tensors(getattr(value, f.name, None), f"{prefix}.{f.name}")
    elif value is None or isinstance(value, (str, bytes, int, float, bool, type)):
        return
    else:
        parts = _cache_parts(value)
        if parts is not None:
            for field, tensors in parts:
                yield from _tensors(tensors, f"{prefix}.{field}")
        elif type(value) not in _warned_types and any(is_tensor(v) for v in _attributes(value)):
            _warned_types.add(type(value))
            warnings.warn(f"tensordiff: {prefix}: a {type(value).__module__}.{type(value).__name__} holds tensors "
                          "hook_module cannot name; not recorded (record them with tensordiff.save)",
                          stacklevel=4)


def _attributes(value):
    try:
        return list(vars(value).values())
    except TypeError:
        return []


# MindSpore's BatchNorm keeps its running statistics as parameters named apart from torch's.
_STATE_NAMES = {"moving_mean": "running_mean", "moving_variance": "running_var"}


def _running_state(module, name):
    """(name, tensor) of a module's own running statistics after a forward in training mode
    (BatchNorm's running mean and variance): torch's floating-point buffers; MindSpore's
    parameters that take no gradient, under torch's names."""
    if not getattr(module, "training", False):
        return []
    if hasattr(module, "cells_and_names"):  # MindSpore (whose Cell also has named_buffers)
        return [(f"{name}.{_STATE_NAMES.get(n, n)}", p) for n, p in module.parameters_and_names(expand=False)
                if not p.requires_grad]
    if hasattr(module, "named_buffers"):
        return [(f"{name}.{n}", b) for n, b in module.named_buffers(recurse=False)
                if b is not None and b.is_floating_point()]
    return []


def _save_settings(rec, module, name, args, kwargs, source):
    """A module's settings (its public plain attributes: eps, approximate, p, training,
    normalized_shape, ...) as `X.setting.NAME`, once per module and Recorder, and the call's
    plain scalar arguments as `X.input.K` / `X.input.NAME`: value records, compared as values."""
    from .recorder import value_text
    if hasattr(rec, "save_value"):
        for k, v in sorted(_attributes_dict(module).items()):
            if not k.startswith("_") and value_text(v) is not None:
                rec.save_value(f"{name}.setting.{k}", v, source=source)
        for k, v in [*enumerate(args), *(kwargs or {}).items()]:
            if not is_tensor(v) and value_text(v) is not None:
                rec.save_value(rec.unique_name(f"{name}.input.{k}"), v, source=source)


def _attributes_dict(module) -> dict:
    try:
        return dict(vars(module))
    except TypeError:
        return {}


def _save_all(rec, pairs, source):
    for n, t in pairs:
        rec.save(rec.unique_name(n), t, source=source)


def _kwargs_prehook_supported(module) -> bool:
    try:
        return "with_kwargs" in inspect.signature(module.register_forward_pre_hook).parameters
    except (TypeError, ValueError):
        return False


class _ForwardWrapper:
    """torch < 2: a pre-hook sees no keyword arguments, so `forward` is wrapped (on the
    instance; removing it restores what was there)."""

    def __init__(self, module, record):
        self.module = module
        self.had_own = "forward" in module.__dict__
        self.own = module.__dict__.get("forward")
        inner = module.forward

        @functools.wraps(inner)
        def forward(*args, **kwargs):
            record(module, args, kwargs)
            return inner(*args, **kwargs)

        module.forward = forward

    def remove(self):
        if self.had_own:
            self.module.forward = self.own
        else:
            self.module.__dict__.pop("forward", None)


def _submodules(model, grads: bool):
    """(path, module) of a torch.nn.Module or a MindSpore Cell and every submodule."""
    if hasattr(model, "named_modules"):
        return list(model.named_modules())
    if hasattr(model, "cells_and_names"):
        import mindspore
        if mindspore.get_context("mode") != mindspore.PYNATIVE_MODE:
            raise RuntimeError("hook_module on a MindSpore cell needs PyNative mode: GRAPH_MODE compiles "
                               "the cell and its hooks; call mindspore.set_context(mode=mindspore.PYNATIVE_MODE) "
                               "first (or record with tensordiff.save in the construct)")
        if grads:
            raise TypeError("hook_module(grads=True) is for PyTorch modules; MindSpore cells record "
                            "outputs and inputs")
        return list(model.cells_and_names())
    raise TypeError(f"hook_module() argument 'model' must be a torch.nn.Module, a mindspore.nn.Cell or a "
                    f"flax.linen.Module, not {_args.kind(model)}")


def hook_module(model, outputs: bool = True, inputs: bool = False, grads: bool = False,
                root_name: str = "output", prefix: str = "", state: bool = True, settings: bool = False):
    """Hooks every submodule of `model` so that what it computes goes to the current Recorder,
    named by module path (docs/design.md §11).

    Names are module paths (`encoder.layers.2.act`), after `prefix`; the root module's output
    is `root_name`; tuple, list, dict and dataclass outputs `X.0`, `X.logits`; a module called
    again gets `#2`, `#3`, ... Each record's source is the user's line that called the module
    and the module's class.

    Arguments:
        model: a torch.nn.Module, a mindspore.nn.Cell in PyNative mode, or a flax.linen.Module
            (flax's method interceptor; jitted calls recorded when the compiled code runs).
        outputs: record each module's outputs (`X`).
        inputs: record each module's inputs before its children run (`X.input.0`,
            `X.input.NAME`): the diagnosis then measures each module's own error, and replay()
            needs them in the reference.
        grads: record gradients of outputs (`X.grad`; PyTorch only).
        root_name: the root module's name ("output").
        prefix: put before every name ("gpt.") so that two frameworks' runs line up.
        state: a module in training mode also records its running statistics after each call
            (`X.running_mean`, `X.running_var`; MindSpore's moving_mean/moving_variance under
            those names).
        settings: also record each module's settings (`X.setting.eps`, `X.setting.training`,
            ... its public plain attributes, once) and its plain scalar call arguments as value
            records, compared as values: a differing eps, GELU approximation or dropout left
            on is named exactly, ahead of any tensor. For runs of one framework (the names are
            its attributes'); full mode only.

    Returns:
        a context manager (also usable without `with`: call .remove()) that removes every hook.

    Example:
        >>> with tensordiff.Recorder("run_a.h5"), tensordiff.hook_module(model, inputs=True):
        ...     model(x)
    """
    _args.text("hook_module", "prefix", prefix)
    _args.text("hook_module", "root_name", root_name)
    if is_flax_module(model):
        if grads:
            raise TypeError("hook_module(grads=True) is for PyTorch modules; flax modules record outputs and inputs")
        rec = current()
        if rec is not None and getattr(rec, "_replay", False):
            raise TypeError("Recorder(replay=True) replays PyTorch modules; a flax module is recorded, not replayed")
        return _Hooks([FlaxHooks(model, outputs, inputs, root_name, prefix, state)])
    modules = _submodules(model, grads)
    rec = current()
    if rec is not None and getattr(rec, "_replay", False):  # Recorder(replay=True) replays it at the end
        rec._replay_models.append((model, prefix, root_name))
    handles = []
    scripted = [p for p, m in modules if type(m).__module__.startswith("torch.jit")]
    if scripted:  # torch.jit modules take no hooks: their parents' records hold what they make
        names = [prefix + (p or root_name) for p in scripted]
        warnings.warn(f"tensordiff: hook_module: {len(names)} scripted module(s) cannot be hooked and are not "
                      f"recorded ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); their parents' "
                      "inputs and outputs are", stacklevel=2)
    for path, module in modules:
        if any(path == p or path.startswith(p + ".") or p == "" for p in scripted):
            continue
        name = prefix + (path or root_name)

        def record_inputs(mod, args, kwargs, name=name):
            rec = current()
            if rec is None:
                return
            source = _caller(mod)
            # A cache object passed in (past_key_value) is state, recorded where it is
            # returned: as an input it would be recorded again by every later layer (L^2 copies).
            if settings:
                _save_settings(rec, mod, name, args, kwargs, source)
            if not inputs:
                return
            pairs = []
            for k, v in [*enumerate(args), *(kwargs or {}).items()]:
                if _cache_parts(v) is None:
                    pairs += _tensors(v, f"{name}.input.{k}")
            _save_all(rec, pairs, source)

        def forward_hook(mod, args, out, name=name):
            rec = current()
            if rec is None:
                return
            source = _caller(mod)
            _save_all(rec, _tensors(out, name), source)
            if state:
                _save_all(rec, _running_state(mod, name), source)

        def backward_hook(mod, grad_in, grad_out, name=name):
            rec = current()
            if rec is not None:
                for n, t in _tensors(tuple(grad_out), f"{name}.grad"):
                    rec.save(rec.unique_name(n), t, source=type(mod).__name__)

        if inputs or settings:
            if _kwargs_prehook_supported(module):
                handles.append(module.register_forward_pre_hook(
                    lambda mod, args, kwargs, f=record_inputs: f(mod, args, kwargs), with_kwargs=True))
            else:
                handles.append(_ForwardWrapper(module, record_inputs))
        if outputs:
            handles.append(module.register_forward_hook(forward_hook))
        if grads:
            handles.append(module.register_full_backward_hook(backward_hook))
    return _Hooks(handles)
