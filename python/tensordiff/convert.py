"""Turning anything tensor-like into a numpy array without importing a framework.

A tensor is anything with `.numpy()` (PyTorch, TensorFlow), `.asnumpy()` (MindSpore) or
`__array__` (JAX, CuPy, numpy). bfloat16 has no numpy dtype: its raw bits come back as uint16
with the dtype name "bfloat16", so that nothing is silently upcast.
"""
from __future__ import annotations

import numpy as np


def framework_of(value) -> str:
    mod = type(value).__module__.split(".")[0]
    return {"torch": "pytorch", "mindspore": "mindspore", "jax": "jax", "jaxlib": "jax",
            "numpy": "numpy", "tensorflow": "tensorflow"}.get(mod, mod)


def _torch_to_numpy(t):
    t = t.detach()
    if t.is_cuda or getattr(t, "device", None) is not None and str(t.device) != "cpu":
        t = t.cpu()
    name = str(t.dtype).replace("torch.", "")
    if name == "bfloat16":
        import torch  # only reached when the value already is a torch tensor

        return t.contiguous().view(torch.int16).numpy().view(np.uint16), "bfloat16"
    if name.startswith("float8"):
        import torch

        return t.contiguous().view(torch.uint8).numpy(), name
    return t.numpy(), name


def is_tensor(value) -> bool:
    return (isinstance(value, np.ndarray) or hasattr(value, "asnumpy")
            or (hasattr(value, "numpy") and callable(value.numpy)) or hasattr(value, "__array__"))


def is_number(value) -> bool:
    """A Python or numpy scalar: recorded as a 0-d tensor (a loss after .item())."""
    return isinstance(value, (bool, int, float, np.generic)) and not isinstance(value, complex)


def to_numpy(value):
    """Returns (array, dtype_name). array holds raw bits for bfloat16/float8; Python numbers
    become 0-d arrays (bool, int64, float64)."""
    if isinstance(value, np.ndarray):
        return value, value.dtype.name
    if is_number(value):
        arr = np.asarray(value)
        return arr, arr.dtype.name
    if framework_of(value) == "pytorch":
        return _torch_to_numpy(value)
    if hasattr(value, "asnumpy"):
        arr = value.asnumpy()
    elif hasattr(value, "numpy") and callable(value.numpy):
        arr = value.numpy()
    else:
        arr = np.asarray(value)
    if arr.dtype.name == "bfloat16":  # ml_dtypes (JAX): keep the bits
        return arr.view(np.uint16), "bfloat16"
    return arr, arr.dtype.name


def array_arg(name: str, value, source: str = ""):
    """(name, dtype, shape, buffer, source) for the engine: C-contiguous, little-endian, raw
    bits for bfloat16/float8. Memory that already is so is passed as it is (zero-copy)."""
    arr, dtype = to_numpy(value)
    if arr.dtype.name.startswith("float8"):  # ml_dtypes (JAX): keep the bits
        arr = arr.view(np.uint8)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    # C order without np.ascontiguousarray, which turns a 0-d array into shape (1,).
    arr = np.require(arr, requirements="C")
    return (name, dtype, [int(d) for d in arr.shape], arr, source)
