"""Per-tensor summaries with the same fields and names as `tensordiff stats --json`, computed
by the engine in this process: docs/design.md §4 has one implementation, in C++, so a summary
recorded from Python and one the command line computes from a dump cannot disagree."""
from __future__ import annotations

from .compare import TensordiffError, _engine
from . import _args
from .convert import array_arg

SIDE_FIELDS = ("count", "nonzero", "nan", "pos_inf", "neg_inf", "min", "max", "mean", "std", "l2",
               "first_nonzero", "mag_hist", "checksum")
_DEFAULT_FIRST_K = 5  # the engine's (EngineOptions::first_k)


def summarize(arr, dtype: str | None = None, first_k: int = _DEFAULT_FIRST_K, name: str = "tensor") -> dict:
    """One array's summary: the side fields of docs/design.md §4, what `tensordiff stats
    --json` holds per tensor, computed by the engine.

    Arguments:
        arr: an array or tensor (numpy, torch, JAX, MindSpore) or a Python number.
        dtype: the element type when `arr` holds raw bits (a uint16 array of "bfloat16");
            by default the array's own.
        first_k: how many first nonzero elements to list.
        name: the tensor's name in errors.

    Returns:
        a dict of count, nonzero, nan, pos_inf, neg_inf, min, max, mean, std, l2,
        first_nonzero, mag_hist, checksum. Raises TensordiffError when the engine module is not
        built or does not read the dtype.

    Example:
        >>> tensordiff.summarize(np.array([0.0, 1.5, -2.0], np.float32))["nonzero"]
        2
    """
    _args.array("summarize", "arr", arr)
    if dtype is not None:
        _args.text("summarize", "dtype", dtype)
    eng = _engine()
    _, own, shape, buf, _ = array_arg(name, arr)
    arrays = [(name, dtype or own, shape, buf, "")]
    try:
        # summarize skips option parsing (0.3 ms, twice the whole call for a small tensor):
        # the recorder's summary mode calls this once per recorded tensor.
        if first_k == _DEFAULT_FIRST_K:
            result = eng.summarize(arrays)
        else:
            result = eng.stats_arrays(arrays, {"first_k": first_k})
    except eng.EngineError as e:
        raise TensordiffError(str(e)) from None
    t = result.report()["tensors"][0]
    return {k: t[k] for k in SIDE_FIELDS}
