"""tensordiff.summarize and tensordiff.checksum, which the engine computes, against the numpy
definitions in oracle.py and checksum_oracle.py (docs/design.md §4)."""
import sys

import numpy as np
import pytest

import tensordiff
from checksum_oracle import checksum as numpy_checksum
from oracle import summarize as numpy_summarize

EXACT = ("count", "nonzero", "nan", "pos_inf", "neg_inf", "min", "max", "first_nonzero", "mag_hist", "checksum")


def arrays():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(4097) * np.exp2(rng.integers(-60, 60, 4097))  # every bin, under- and overflow
    x[[5, 70, 900]] = [np.nan, np.inf, -np.inf]
    x[:3] = 0
    bits = (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    yield "float64", x, None
    yield "float32", x.astype(np.float32), None
    with np.errstate(over="ignore"):  # beyond 65504: inf, as the cast says
        yield "float16", x.astype(np.float16), None
    yield "bfloat16", bits, "bfloat16"
    yield "float64 big-endian", x.reshape(17, 241).astype(">f8"), None
    yield "int8", rng.integers(-128, 127, 1001, dtype=np.int8), None
    yield "uint16", rng.integers(0, 65535, 333, dtype=np.uint16), None
    yield "int64", rng.integers(-2**62, 2**62, 257, dtype=np.int64), None
    yield "bool", rng.integers(0, 2, 9).astype(bool), None
    yield "0-d", np.float32(3.25), None


@pytest.mark.parametrize("what,arr,dtype", list(arrays()), ids=[a[0] for a in arrays()])
def test_summarize_is_the_numpy_oracle(what, arr, dtype):
    got = tensordiff.summarize(arr, dtype)
    want = numpy_summarize(np.asarray(arr), dtype or np.asarray(arr).dtype.name)
    for k in EXACT:
        assert got[k] == want[k], k
    for k in ("mean", "std", "l2"):  # sums: the engine's tree and numpy's pairwise order round apart
        assert got[k] == pytest.approx(want[k], rel=1e-12, abs=1e-300), k


def test_first_k_is_the_engine_option():
    x = np.arange(1, 20, dtype=np.float32)
    got = tensordiff.summarize(x, first_k=12)
    assert got["first_nonzero"] == numpy_summarize(x, "float32", first_k=12)["first_nonzero"]


@pytest.mark.parametrize("arr", [np.arange(13, dtype=np.uint8), np.arange(301, dtype=np.uint8), np.float32(3.25), np.zeros(0, np.float32),
                                 np.arange(10, dtype=">i4"), (np.arange(7) * (1 + 2j)).astype(np.complex64),
                                 np.random.default_rng(1).standard_normal((7, 13))[:, ::2]],
                         ids=["u8", "u8-4k+1-words-and-a-tail", "0-d", "empty", "big-endian", "complex", "strided"])
def test_checksum_is_the_numpy_oracle(arr):
    assert tensordiff.checksum(arr) == numpy_checksum(np.asarray(arr))


def test_without_the_engine_nothing_is_computed(monkeypatch):
    monkeypatch.setattr(sys.modules["tensordiff.compare"], "engine", lambda: None)
    for call in (lambda: tensordiff.summarize(np.ones(3)), lambda: tensordiff.checksum(np.ones(3))):
        with pytest.raises(tensordiff.TensordiffError, match="engine module is not built"):
            call()
