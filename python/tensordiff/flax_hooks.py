"""hook_module for JAX/flax linen modules: flax's method interceptor (`nn.intercept_methods`)
sees every module's `__call__` with its arguments and result, as torch's hooks do, and the
names follow torch's for the same architecture: a submodule kept in a list attribute of its
parent (`self.blocks = [Block() ...]`, flax's `blocks_0`) is `blocks.0`, so a PyTorch model and
its flax port line up by name with no --map. A module's inputs are recorded before it runs
(`X.input.K`, `X.input.NAME`), its output after (`X`, `X.0`, `X.key`); in training, the
running statistics a BatchNorm keeps in its `batch_stats` collection (`mean`, `var`) are
recorded after each call as `X.running_mean`, `X.running_var`.

Inside `jax.jit` (or any trace) the values are tracers with no data yet: they are recorded when
the compiled function runs, through `jax.debug.callback(ordered=True)`, into the Recorder
active then, so a jitted model records in execution order what an eager one records.
Gradients are not hooked (grads=True is for torch).
"""
from __future__ import annotations

import functools
import re
import warnings

from .recorder import current, active_recorder

_LIST_ITEM = re.compile(r"(.+)_(\d+)")


def is_flax_module(model) -> bool:
    return any(c.__name__ == "Module" and c.__module__ == "flax.linen.module" for c in type(model).__mro__)


def _component(module) -> str:
    """A module's own name, `blocks_0` as `blocks.0` where its parent holds it in a list."""
    m = _LIST_ITEM.fullmatch(module.name or "")
    if m and isinstance(getattr(module.parent, m.group(1), None), (list, tuple)):
        return f"{m.group(1)}.{m.group(2)}"
    return module.name


class FlaxHooks:
    """The interceptor, installed until remove() (hook_module's context manager calls it)."""

    def __init__(self, model, outputs: bool, inputs: bool, root_name: str, prefix: str, state: bool):
        import flax.linen as nn
        import jax
        self._jax = jax
        self._root_type = type(model)
        self._outputs, self._inputs, self._state = outputs, inputs, state
        self._root_name, self._prefix = root_name, prefix
        self._module_type = nn.Module
        self._warned_trace = False
        self._calls = 0  # module calls seen inside a Recorder
        self._cm = nn.intercept_methods(self._intercept)
        self._cm.__enter__()

    def remove(self):
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self._cm = None
            if not self._calls:
                # Not one call of the model reached the interceptor: a function jitted before
                # the hooks were installed runs its cached compiled code without them.
                warnings.warn(f"tensordiff: hook_module({self._root_type.__name__}) recorded nothing: the model was "
                              "not called inside a Recorder, or a jax.jit function compiled before hook_module "
                              "ran its cached code (jit it, or call jax.clear_caches(), after hook_module)",
                              stacklevel=3)

    def _name(self, module) -> str | None:
        """The module's path under this hook's model, or None for a module of another model."""
        parts = []
        while isinstance(module.parent, self._module_type):
            parts.append(_component(module))
            module = module.parent
        if type(module) is not self._root_type:
            return None
        return self._prefix + (".".join(reversed(parts)) if parts else self._root_name)

    def _intercept(self, next_fun, args, kwargs, context):
        if context.method_name != "__call__" or current() is None:
            return next_fun(*args, **kwargs)
        name = self._name(context.module)
        if name is None:
            return next_fun(*args, **kwargs)
        self._calls += 1
        from .hooks import _tensors
        source = type(context.module).__name__
        if self._inputs:
            pairs = []
            for k, v in [*enumerate(args), *kwargs.items()]:
                pairs += _tensors(v, f"{name}.input.{k}")
            self._record(pairs, source)
        out = next_fun(*args, **kwargs)
        if self._outputs:
            self._record(list(_tensors(out, name)), source)
        if self._state and context.module.is_mutable_collection("batch_stats"):
            stats = context.module.variables.get("batch_stats", {})
            names = {"mean": "running_mean", "var": "running_var"}
            self._record([(f"{name}.{names.get(k, k)}", v) for k, v in stats.items()
                          if not isinstance(v, dict)], source)
        return out

    def _record(self, pairs, source):
        if not pairs:
            return
        Tracer = self._jax.core.Tracer
        if not any(isinstance(t, Tracer) for _, t in pairs):
            _save(current(), [n for n, _ in pairs], [t for _, t in pairs], source)
            return
        names = [n for n, _ in pairs]
        try:
            # Names get their #k when the values arrive: a compiled function runs many times.
            self._jax.debug.callback(functools.partial(_save_from_callback, names, source),
                                     *[t for _, t in pairs], ordered=True)
        except Exception as e:  # noqa: BLE001 (a transformation that refuses ordered effects: vmap, pmap)
            if not self._warned_trace:
                self._warned_trace = True
                warnings.warn(f"tensordiff: hook_module: {names[0]} and what follows cannot be recorded inside "
                              f"this JAX transformation ({type(e).__name__}: {e}); call the model outside it",
                              stacklevel=4)


def _save(rec, names, values, source):
    if rec is None:
        return
    for n, t in zip(names, values):
        rec.save(rec.unique_name(n), t, source=source)


def _save_from_callback(names, source, *values):
    # JAX runs host callbacks on its own threads: the Recorder is the one active in any thread.
    _save(current() or active_recorder(), names, values, source)
