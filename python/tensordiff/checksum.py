"""The tensordiff checksum (docs/design.md §4) of an array or tensor, computed by the engine:
the same function the command line reports. python/tests/checksum_oracle.py (docs/checksum.py)
is the few-line numpy definition the tests hold it to."""
from __future__ import annotations

import numpy as np

from . import _args
from .compare import _engine
from .convert import to_numpy


def checksum(a) -> str:
    """The checksum of docs/design.md §4, the one `tensordiff stats` reports: 16 hex digits
    over the stored bytes in little-endian order. The bytes go to the engine as they are, so
    any dtype has a checksum, read by the engine or not (complex, structured).

    Arguments:
        a: an array or tensor (numpy, torch, JAX, MindSpore) or a Python number.

    Returns:
        the checksum, a str of 16 hex digits; equal arrays (same dtype, shape-free bytes) have
        equal checksums.

    Example:
        >>> tensordiff.checksum(np.arange(4, dtype=np.int32))
        '31217be9b465b8ac'
        >>> tensordiff.stats("run.h5", "ids")["tensors"][0]["checksum"]  # the same array in a dump
        '31217be9b465b8ac'
    """
    _args.array("checksum", "a", a)
    arr, _ = to_numpy(a)
    arr = np.asarray(arr)
    le = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype)
    return f"{_engine().checksum(le.reshape(-1).view(np.uint8)):016x}"
