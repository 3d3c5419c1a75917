"""PyTorch module hooks: every submodule's forward outputs (and optionally inputs and
gradients) recorded under its module path, in execution order."""
from __future__ import annotations

from .recorder import current


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
                root_name: str = "output"):
    """Hooks every submodule of `model`; returns a context manager that removes the hooks.

    Names are module paths (`encoder.layers.2.act`); the root module's output is `root_name`.
    Inputs get `.input`, gradients `.grad`; a module called again gets `#2`, `#3`, ...
    """
    handles = []
    for path, module in model.named_modules():
        name = path or root_name

        def forward_hook(mod, args, out, name=name):
            rec = current()
            if rec is None:
                return
            if inputs:
                for n, t in _tensors(tuple(args), f"{name}.input"):
                    rec.save(rec.unique_name(n), t)
            if outputs:
                for n, t in _tensors(out, name):
                    rec.save(rec.unique_name(n), t)

        def backward_hook(mod, grad_in, grad_out, name=name):
            rec = current()
            if rec is not None:
                for n, t in _tensors(tuple(grad_out), f"{name}.grad"):
                    rec.save(rec.unique_name(n), t)

        if outputs or inputs:
            handles.append(module.register_forward_hook(forward_hook))
        if grads:
            handles.append(module.register_full_backward_hook(backward_hook))
    return _Hooks(handles)
