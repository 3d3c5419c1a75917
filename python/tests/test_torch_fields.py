"""bench/torch_fields.py (issue 24's (c): the torch script a user writes instead, timed on the
GPU by scripts/gpu_check.sh) computes the same fields as the engine: held to the engine's report
on the CPU here, exactly for counts, extremes, indices, histograms, bits, ULP and checksum, to
1e-12 relative for the sums. A timing of it is then a timing of the same work."""
import math
import os
import sys

import pytest

torch = pytest.importorskip("torch")
import tensordiff  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import torch_fields  # noqa: E402

EXACT_SIDE = ("count", "nonzero", "nan", "pos_inf", "neg_inf", "min", "max", "mag_hist", "checksum")
CLOSE_SIDE = ("mean", "std", "l2")
EXACT_DIFF = ("count", "finite_pairs", "mismatches", "nan_mismatch", "inf_mismatch", "max_abs", "max_rel",
              "err_hist", "bits_differ", "max_ulp")
CLOSE_DIFF = ("mean_abs", "rmse", "rel_l2", "cosine")


def pair(dtype, n=50_000, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, generator=g) * torch.exp(4 * torch.randn(n, generator=g))
    b = a * (1 + 1e-3 * torch.randn(n, generator=g))
    a[::997] = 0
    b[5::1013] = 0
    a[7] = b[7] = float("nan")
    a[11] = float("nan")
    b[13] = float("inf")
    a[17] = b[17] = float("-inf")
    a[19] = 1e-40  # a float32 subnormal (a bfloat16 one after rounding)
    return a.to(dtype), b.to(dtype)


def num(v):
    """The report's JSON spelling of non-finite numbers ("Infinity") as floats."""
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else v


def close(x, y):
    if x is None or y is None:
        return x is y
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= 1e-12 * max(abs(x), abs(y)) + 1e-300


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_torch_fields_equal_the_engines(dtype):
    a, b = pair(dtype)
    rtol, atol = 1e-3, 1e-5
    rep = tensordiff.compare_arrays(a, b, rtol=rtol, atol=atol, backend="cpu")
    t = rep["tensors"][0]
    mine = torch_fields.pair_fields(a, b, rtol, atol)
    for side in ("a", "b"):
        for k in EXACT_SIDE:
            assert mine[side][k] == t[side][k], (side, k, mine[side][k], t[side][k])
        for k in CLOSE_SIDE:
            assert close(mine[side][k], t[side][k]), (side, k, mine[side][k], t[side][k])
    d = t["diff"]
    for k in EXACT_DIFF:
        assert mine["diff"][k] == num(d[k]), (k, mine["diff"][k], d[k])
    for k in CLOSE_DIFF:
        assert close(mine["diff"][k], num(d[k])), (k, mine["diff"][k], d[k])
    assert mine["diff"]["max_abs_flat"] == d["max_abs_at"]["flat_index"]
    assert mine["diff"]["max_rel_flat"] == d["max_rel_at"]["flat_index"]
    # The data is what the fields are about: the pair differs, and the script sees it.
    assert d["mismatches"] > 0 and d["nan_mismatch"] == 1 and d["inf_mismatch"] >= 1


def test_the_timing_entry_point_runs():
    """The benchmark's own loop (what gpu_check.sh runs with --device cuda), on the CPU."""
    import subprocess
    out = subprocess.run([sys.executable, torch_fields.__file__, "--device", "cpu", "--mib", "4", "--repeats", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "GB/s of input" in out.stdout
