"""Issue 10: every framework we name, for real. JAX and MindSpore come from PyPI into build/venv
(scripts/python-venv.sh); where they could not be installed these tests skip and say so.
The cross-framework tests record the same small model in PyTorch and in JAX / MindSpore with
the weights copied across, and the engine finds the one op that differs."""
import numpy as np
import pytest
import torch

import tensordiff

jax = pytest.importorskip("jax", reason="jax is not installed (scripts/python-venv.sh installs it)")
jnp = pytest.importorskip("jax.numpy")


def weights():
    g = torch.Generator().manual_seed(3)
    return [torch.randn(16, 32, generator=g) * 0.3, torch.randn(32, generator=g) * 0.1,
            torch.randn(32, 8, generator=g) * 0.3]


X = np.random.default_rng(5).standard_normal((64, 16)).astype(np.float32)


@tensordiff.watch("h1", "h2", "out", name="mlp")
def torch_mlp(x, w1, b1, w2):
    h1 = x @ w1 + b1
    h2 = torch.nn.functional.gelu(h1)
    out = h2 @ w2
    return out


def run_torch(path):
    w1, b1, w2 = weights()
    with tensordiff.Recorder(path):
        torch_mlp(torch.from_numpy(X), w1, b1, w2)


def test_jax_arrays_are_recorded_with_their_dtype(tmp_path):
    path = str(tmp_path / "j.h5")
    with tensordiff.Recorder(path) as rec:
        rec.save("x16", jnp.ones((2, 3), dtype=jnp.bfloat16))
        rec.save("x32", jnp.arange(6, dtype=jnp.float32).reshape(2, 3))
        rec.save("scalar", jnp.float32(2.5))
    report = tensordiff.compare(path, path)
    rows = {t["name"]: t for t in report["tensors"]}
    assert rows["x16"]["dtype_a"] == "bfloat16"
    assert rows["scalar"]["shape_a"] == []
    assert report["exit_code"] == 0


@tensordiff.watch("h1", "h2", "out", name="mlp")
def jax_mlp(x, w1, b1, w2, approximate):
    h1 = x @ w1 + b1
    h2 = jax.nn.gelu(h1, approximate=approximate)
    out = h2 @ w2
    return out


@pytest.mark.parametrize("approximate", [False, True])
def test_torch_vs_jax_finds_the_op_that_differs(tmp_path, approximate):
    a, b = str(tmp_path / "torch.h5"), str(tmp_path / "jax.h5")
    run_torch(a)
    w1, b1, w2 = (jnp.asarray(w.numpy()) for w in weights())
    with tensordiff.Recorder(b):
        jax_mlp(jnp.asarray(X), w1, b1, w2, approximate)
    report = tensordiff.compare(a, b)
    assert report["summary"]["compared"] == 3
    if approximate:  # JAX's tanh GELU against torch's erf GELU: h2 is where it starts
        assert report["summary"]["first_jump"] == "mlp[0]/h2#1"
        assert report["summary"]["first_divergence"] == "mlp[0]/h2#1"
    else:  # the same model: float32 rounding of two libraries, no jump
        assert report["summary"]["first_jump"] is None


def test_mindspore_vs_torch_finds_the_op_that_differs(tmp_path):
    ms = pytest.importorskip("mindspore", reason="mindspore is not installed (scripts/python-venv.sh installs it)")
    from mindspore import ops

    @tensordiff.watch("h1", "h2", "out", name="mlp")
    def ms_mlp(x, w1, b1, w2):
        h1 = ops.matmul(x, w1) + b1
        h2 = ops.gelu(h1, approximate="tanh")  # the port's slip: MindSpore's tanh GELU
        out = ops.matmul(h2, w2)
        return out

    a, b = str(tmp_path / "torch.h5"), str(tmp_path / "ms.h5")
    run_torch(a)
    w1, b1, w2 = (ms.Tensor(w.numpy()) for w in weights())
    with tensordiff.Recorder(b):
        ms_mlp(ms.Tensor(X), w1, b1, w2)
    report = tensordiff.compare(a, b)
    assert report["summary"]["compared"] == 3
    assert report["summary"]["first_jump"] == "mlp[0]/h2#1"
    rows = {t["name"]: t for t in report["tensors"]}
    assert rows["mlp[0]/h1#1"]["status"] == "match"
    # The recording says which framework produced each side.
    import h5py
    with h5py.File(b) as f:
        assert f["mlp[0]/h2#1"].attrs["framework"] == "mindspore"
    with tensordiff.Recorder(str(tmp_path / "bf.h5")) as rec:
        rec.save("bf", ms.Tensor(np.ones(3, np.float32)).astype(ms.bfloat16))
    with h5py.File(str(tmp_path / "bf.h5")) as f:
        assert f["bf"].attrs["dtype"] == "bfloat16"
