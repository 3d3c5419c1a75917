"""The side fields of `tensordiff stats --json` (docs/design.md §4) in numpy: an independent
definition that the tests hold the engine's (tensordiff.summarize) to. The package itself
computes nothing: every number it reports comes from the engine."""
from __future__ import annotations

import numpy as np

from checksum_oracle import checksum

MIN_EXP, MAX_EXP = -40, 40


def _values(arr: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":  # raw bits: the upper half of a float32
        return (arr.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
    return arr.astype(np.float64)


def _num(x: float):
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def mag_hist(v: np.ndarray) -> dict:
    """|x| binned by binary exponent (docs/design.md §4), over finite values."""
    v = np.abs(v[np.isfinite(v)])
    zero = int(np.count_nonzero(v == 0))
    nz = v[v != 0]
    _, e = np.frexp(nz)
    exp = e.astype(np.int64) - 1  # 2^exp <= |x| < 2^(exp+1)
    inner = (exp >= MIN_EXP) & (exp <= MAX_EXP)
    counts = np.bincount(exp[inner] - MIN_EXP, minlength=MAX_EXP - MIN_EXP + 1)
    # Schema 2: only the non-empty exponent bins, keyed by the exponent.
    return {"zero": zero, "underflow": int(np.count_nonzero(exp < MIN_EXP)), "min_exp": MIN_EXP,
            "max_exp": MAX_EXP, "exp": {str(MIN_EXP + i): int(c) for i, c in enumerate(counts) if c},
            "overflow": int(np.count_nonzero(exp > MAX_EXP))}


def summarize(arr: np.ndarray, dtype: str, first_k: int = 5) -> dict:
    """The side fields for one tensor (arr holds raw bits for bfloat16)."""
    v = _values(np.asarray(arr), dtype).reshape(-1)
    fin = v[np.isfinite(v)]
    nonzero_idx = np.flatnonzero((v != 0) | np.isnan(v))[:first_k]
    shape = list(np.shape(arr))
    return {
        "count": int(v.size),
        "nonzero": int(np.count_nonzero((v != 0) | np.isnan(v))),
        "nan": int(np.count_nonzero(np.isnan(v))),
        "pos_inf": int(np.count_nonzero(v == np.inf)),
        "neg_inf": int(np.count_nonzero(v == -np.inf)),
        "min": _num(fin.min()) if fin.size else None,
        "max": _num(fin.max()) if fin.size else None,
        "mean": _num(fin.mean()) if fin.size else None,
        "std": _num(fin.std()) if fin.size else None,
        "l2": _num(np.sqrt(np.sum(fin * fin))) if fin.size else None,
        "first_nonzero": [{"index": [int(i) for i in np.unravel_index(int(k), shape)] if shape else [],
                           "flat_index": int(k), "value": _num(v[k])} for k in nonzero_idx],
        "mag_hist": mag_hist(v),
        "checksum": checksum(np.asarray(arr)),
    }
