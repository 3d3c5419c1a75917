"""PyTorch module hooks: every submodule's forward outputs (and optionally inputs and
gradients) recorded under its module path, in execution order."""
from __future__ import annotations

import os
import sys

from .recorder import current

_HERE = os.path.dirname(os.path.abspath(__file__))


def _caller(module) -> str:
    """file:line of the user's code that called the module (the first frame outside torch and
    this package), and the module's class: `train.py:42 (Linear)`."""
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_HERE) or f"{os.sep}torch{os.sep}" in fn):
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


def _tensors(value, prefix):
    """(name, tensor) pairs of a module output: a tensor, or tuples/lists/dicts of them."""
    if hasattr(value, "detach"):
        yield prefix, value
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{prefix}.{i}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors(v, f"{prefix}.{k}")


def hook_module(model, outputs: bool = True, inputs: bool = False, grads: bool = False,
                root_name: str = "output", prefix: str = ""):
    """Hooks every submodule of `model`; returns a context manager that removes the hooks.

    Names are module paths (`encoder.layers.2.act`), after `prefix` (e.g. "gpt." so that two
    frameworks' runs line up); the root module's output is `root_name`. Inputs get `.input`,
    gradients `.grad`; a module called again gets `#2`, `#3`, ... Each record's source is the
    user's line that called the module and the module's class.
    """
    handles = []
    for path, module in model.named_modules():
        name = prefix + (path or root_name)

        def forward_hook(mod, args, out, name=name):
            rec = current()
            if rec is None:
                return
            source = _caller(mod)
            if inputs:
                for n, t in _tensors(tuple(args), f"{name}.input"):
                    rec.save(rec.unique_name(n), t, source=source)
            if outputs:
                for n, t in _tensors(out, name):
                    rec.save(rec.unique_name(n), t, source=source)

        def backward_hook(mod, grad_in, grad_out, name=name):
            rec = current()
            if rec is not None:
                for n, t in _tensors(tuple(grad_out), f"{name}.grad"):
                    rec.save(rec.unique_name(n), t, source=type(mod).__name__)

        if outputs or inputs:
            handles.append(module.register_forward_hook(forward_hook))
        if grads:
            handles.append(module.register_full_backward_hook(backward_hook))
    return _Hooks(handles)
