"""Issue 22 item 0 for JAX: a PyTorch model and its flax port, weights copied, both captured with
hook_module. The names line up with no --map (flax's list member `blocks_0` is `blocks.0`), and
the first jump names each framework-default pitfall a port keeps: flax's LayerNorm epsilon 1e-6
against torch's 1e-5, its gelu approximate=True against torch's exact erf, BatchNorm's momentum
convention (flax's weighs the old statistics, torch's the batch). The faithful port has no
jump, jitted or not."""
import numpy as np
import pytest
import torch

import tensordiff
from port_models import BLOCKS, PITFALLS, WIDTH, TorchBnNet, TorchNet, check_pitfall, torch_reference

jax = pytest.importorskip("jax", reason="JAX is installed by scripts/python-venv.sh")
nn = pytest.importorskip("flax.linen", reason="flax is installed by scripts/python-venv.sh")
jnp = jax.numpy





class Gelu(nn.Module):  # flax's activations are functions; a port that keeps torch's modules
    approximate: bool = True

    def __call__(self, x):
        return nn.gelu(x, approximate=self.approximate)


class FlaxBlock(nn.Module):
    epsilon: float
    approximate: bool

    def setup(self):
        self.fc = nn.Dense(WIDTH)
        self.norm = nn.LayerNorm(epsilon=self.epsilon)
        self.act = Gelu(self.approximate)

    def __call__(self, x):
        return self.act(self.norm(self.fc(x)))


class FlaxNet(nn.Module):
    # flax's defaults unless told: LayerNorm epsilon 1e-6, gelu approximate=True.
    epsilon: float = 1e-6
    approximate: bool = True

    def setup(self):
        self.blocks = [FlaxBlock(self.epsilon, self.approximate) for _ in range(BLOCKS)]
        self.head = nn.Dense(4)

    def __call__(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def _dense(linear):
    return {"kernel": jnp.asarray(linear.weight.detach().numpy().T), "bias": jnp.asarray(linear.bias.detach().numpy())}


def port_params(net: TorchNet) -> dict:
    """The torch weights in flax's layout (Dense kernel = Linear weight transposed; LayerNorm
    scale/bias = weight/bias)."""
    p = {f"blocks_{i}": {"fc": _dense(b.fc), "norm": {"scale": jnp.asarray(b.norm.weight.detach().numpy()),
                                                      "bias": jnp.asarray(b.norm.bias.detach().numpy())}}
         for i, b in enumerate(net.blocks)}
    p["head"] = _dense(net.head)
    return {"params": p}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("flax_port")
    ref = str(d / "torch.h5")
    net, x = torch_reference(ref)  # trained-like norms, not the fresh 1 and 0
    params = port_params(net)
    out = {}
    for case, defaults in {"faithful": dict(epsilon=1e-5, approximate=False),
                           "ln_eps": dict(epsilon=1e-6, approximate=False),
                           "gelu_tanh": dict(epsilon=1e-5, approximate=True),
                           "defaults": {}}.items():
        m = FlaxNet(**defaults)
        path = str(d / f"flax_{case}.h5")
        with tensordiff.Recorder(path), tensordiff.hook_module(m):
            m.apply(params, jnp.asarray(x))
        out[case] = tensordiff.compare(ref, path)
    # the faithful port under jax.jit: recorded when the compiled function runs, twice
    m = FlaxNet(epsilon=1e-5, approximate=False)
    with tensordiff.hook_module(m):
        f = jax.jit(m.apply)
        for k in range(2):
            path = str(d / f"flax_jit_{k}.h5")
            with tensordiff.Recorder(path):
                f(params, jnp.asarray(x)).block_until_ready()
            out[f"jit_{k}"] = tensordiff.compare(ref, path)
    return out


def test_same_names_no_map(runs):
    rep = runs["faithful"]
    assert rep["summary"]["only_in_a"] == 0 and rep["summary"]["only_in_b"] == 0, \
        [(t["name"], t["status"]) for t in rep["tensors"] if t["status"].startswith("only")]
    assert rep["summary"]["compared"] == 1 + BLOCKS * 4 + 1  # root, blocks and their 3 parts, head
    assert {t["name"] for t in rep["tensors"]} >= {"blocks.0.norm", "blocks.2.act", "head", "output"}


@pytest.mark.parametrize("case", ["faithful", "jit_0", "jit_1"])
def test_faithful_port_matches_without_a_jump(runs, case):
    rep = runs[case]
    assert rep["summary"]["first_jump"] is None, rep["summary"]["jumps"]
    assert rep["exit_code"] == 0, [(t["name"], t["reason"]) for t in rep["tensors"] if t["status"] != "match"]
    assert rep["summary"]["compared"] == 1 + BLOCKS * 4 + 1


@pytest.mark.parametrize("case,where", PITFALLS)
def test_each_pitfall_is_the_first_jump(runs, case, where):
    check_pitfall(runs[case], where)



class FlaxBnNet(nn.Module):
    momentum: float  # flax: new = momentum old + (1 - momentum) batch

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(WIDTH, name="fc")(x)
        return nn.BatchNorm(use_running_average=False, momentum=self.momentum, epsilon=1e-5, name="bn")(x)


@pytest.mark.parametrize("momentum,first_jump", [(0.9, "bn.running_var"), (0.1, "bn.running_mean")])
def test_batchnorm_running_statistics_in_training(tmp_path, momentum, first_jump):
    """flax's BatchNorm momentum is the weight of the old running statistics, torch's the weight
    of the batch: a port that copies torch's 0.1 normalises the batch the same (outputs match)
    and keeps other running means. Even with the momentum right, flax's running variance is the
    batch's biased variance where torch's is unbiased (x n/(n-1)): the port differs there, and
    the diagnosis says so. hook_module records them in training (X.running_mean, X.running_var
    from flax's batch_stats mean/var)."""
    torch.manual_seed(0)
    net = TorchBnNet().train()
    m = FlaxBnNet(momentum)
    # (+0.5: with +3 flax's one-pass variance, E[x^2] - E[x]^2, loses digits to cancellation, and
    # its output's own error, 14 float32 roundoffs against torch's, is a jump within tolerance)
    x = np.random.default_rng(2).standard_normal((32, WIDTH)).astype(np.float32) + 0.5
    variables = m.init(jax.random.PRNGKey(0), jnp.asarray(x))
    variables = {"params": {"fc": _dense(net.fc), "bn": variables["params"]["bn"]},
                 "batch_stats": variables["batch_stats"]}
    a, b = str(tmp_path / "torch.h5"), str(tmp_path / "flax.h5")
    with tensordiff.Recorder(a), tensordiff.hook_module(net):
        net(torch.from_numpy(x))
    with tensordiff.Recorder(b), tensordiff.hook_module(m):
        m.apply(variables, jnp.asarray(x), mutable=["batch_stats"])
    rep = tensordiff.compare(a, b)
    rows = {t["name"]: t for t in rep["tensors"]}
    assert {"bn.running_mean", "bn.running_var"} <= set(rows), sorted(rows)
    assert rows["bn"]["status"] == "match"  # training mode normalises with the batch's statistics
    assert rep["summary"]["first_jump"] == first_jump, rep["summary"]["jumps"]
    assert (rows["bn.running_mean"]["status"] == "match") == (momentum == 0.9)


def test_hooks_removed_and_errors_named(tmp_path):
    m = FlaxNet(epsilon=1e-5, approximate=False)
    x = jnp.ones((2, WIDTH))
    params = m.init(jax.random.PRNGKey(0), x)
    path = str(tmp_path / "r.h5")
    with tensordiff.Recorder(path):
        with tensordiff.hook_module(m, inputs=True, prefix="fx."):
            m.apply(params, x)
        m.apply(params, x)  # after the with-block: not recorded
    names = [t["name"] for t in tensordiff.stats(path)["tensors"]]
    assert names[:3] == ["fx.output.input.0", "fx.blocks.0.input.0", "fx.blocks.0.fc.input.0"]
    assert len([n for n in names if not n.startswith("fx.")]) == 0 and "fx.output" in names
    assert not any("#2" in n for n in names)
    with pytest.raises(TypeError, match=r"grads=True\) is for PyTorch"):
        tensordiff.hook_module(m, grads=True)
    with pytest.warns(UserWarning, match="recorded nothing"):
        with tensordiff.hook_module(m):
            pass
