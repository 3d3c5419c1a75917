"""Issue 22 item 0: a PyTorch model and its MindSpore port, weights copied, both captured with
hook_module: the same names for the same architecture (no --map), and the first jump names
each framework-default pitfall a port keeps (MindSpore's LayerNorm epsilon 1e-7 against torch's
1e-5, its GELU approximate=True against torch's exact erf); the faithful port has no jump."""
import numpy as np
import pytest
import torch

import tensordiff
from port_models import BLOCKS, PITFALLS, WIDTH, TorchBnNet, TorchNet, check_pitfall, torch_reference

ms = pytest.importorskip("mindspore", reason="MindSpore (CPU) is installed by scripts/python-venv.sh")
from mindspore import nn as msnn  # noqa: E402





class MsBlock(msnn.Cell):
    def __init__(self, epsilon, approximate):
        super().__init__()
        self.fc = msnn.Dense(WIDTH, WIDTH)
        self.norm = msnn.LayerNorm((WIDTH,), epsilon=epsilon)
        self.act = msnn.GELU(approximate=approximate)

    def construct(self, x):
        return self.act(self.norm(self.fc(x)))


class MsNet(msnn.Cell):
    # MindSpore's defaults unless told: LayerNorm epsilon 1e-7, GELU approximate=True.
    def __init__(self, epsilon=1e-7, approximate=True):
        super().__init__()
        self.blocks = msnn.CellList([MsBlock(epsilon, approximate) for _ in range(BLOCKS)])
        self.head = msnn.Dense(WIDTH, 4)

    def construct(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def port(net: TorchNet, **defaults) -> MsNet:
    """The MindSpore port with the torch model's weights (Dense.weight is (out, in) as in torch;
    LayerNorm's gamma/beta are torch's weight/bias)."""
    m = MsNet(**defaults)
    params = {p.name: p for p in m.get_parameters()}
    for i, b in enumerate(net.blocks):
        for ms_name, t in [("fc.weight", b.fc.weight), ("fc.bias", b.fc.bias),
                           ("norm.gamma", b.norm.weight), ("norm.beta", b.norm.bias)]:
            params[f"blocks.{i}.{ms_name}"].set_data(ms.Tensor(t.detach().numpy()))
    params["head.weight"].set_data(ms.Tensor(net.head.weight.detach().numpy()))
    params["head.bias"].set_data(ms.Tensor(net.head.bias.detach().numpy()))
    return m


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    d = tmp_path_factory.mktemp("port")
    ref = str(d / "torch.h5")
    net, x = torch_reference(ref)  # trained-like norms, not the fresh 1 and 0
    out = {}
    for case, defaults in {"faithful": dict(epsilon=1e-5, approximate=False),
                           "ln_eps": dict(epsilon=1e-7, approximate=False),
                           "gelu_tanh": dict(epsilon=1e-5, approximate=True),
                           "defaults": {}}.items():
        m = port(net, **defaults)
        path = str(d / f"ms_{case}.h5")
        with tensordiff.Recorder(path), tensordiff.hook_module(m):
            m(ms.Tensor(x))
        out[case] = tensordiff.compare(ref, path)
    return out


def test_same_names_no_map(runs):
    rep = runs["faithful"]
    assert rep["summary"]["only_in_a"] == 0 and rep["summary"]["only_in_b"] == 0
    assert rep["summary"]["compared"] == 1 + BLOCKS * 4 + 1  # root, blocks and their 3 parts, head
    assert {t["name"] for t in rep["tensors"]} >= {"blocks.0.norm", "blocks.2.act", "head", "output"}


def test_faithful_port_matches_without_a_jump(runs):
    rep = runs["faithful"]
    assert rep["summary"]["first_jump"] is None, rep["summary"]["jumps"]
    assert rep["exit_code"] == 0, [(t["name"], t["reason"]) for t in rep["tensors"] if t["status"] != "match"]


@pytest.mark.parametrize("case,where", PITFALLS)
def test_each_pitfall_is_the_first_jump(runs, case, where):
    check_pitfall(runs[case], where)


def test_graph_mode_is_refused_with_the_reason():
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        with pytest.raises(RuntimeError, match="PyNative"):
            tensordiff.hook_module(MsNet())
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)



class MsBnNet(msnn.Cell):
    def __init__(self, momentum):
        super().__init__()
        self.fc = msnn.Dense(WIDTH, WIDTH)
        self.bn = msnn.BatchNorm1d(WIDTH, momentum=momentum)  # new = momentum old + (1 - momentum) batch

    def construct(self, x):
        return self.bn(self.fc(x))


@pytest.mark.parametrize("momentum,pitfall", [(0.9, False), (0.1, True)])
def test_batchnorm_momentum_convention_in_training(tmp_path, momentum, pitfall):
    """MindSpore's BatchNorm momentum is the weight of the old running statistics, torch's the
    weight of the batch: a port that copies torch's 0.1 normalises the batch the same (outputs
    match) but keeps other running statistics. hook_module records them in training mode
    (X.running_mean, X.running_var; MindSpore's moving_* under torch's names)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    torch.manual_seed(0)
    net = TorchBnNet().train()
    m = MsBnNet(momentum)
    params = {p.name: p for p in m.get_parameters()}
    params["fc.weight"].set_data(ms.Tensor(net.fc.weight.detach().numpy()))
    params["fc.bias"].set_data(ms.Tensor(net.fc.bias.detach().numpy()))
    m.set_train(True)
    x = np.random.default_rng(2).standard_normal((32, WIDTH)).astype(np.float32) + 3
    a, b = str(tmp_path / "torch.h5"), str(tmp_path / "ms.h5")
    with tensordiff.Recorder(a), tensordiff.hook_module(net):
        net(torch.from_numpy(x))
    with tensordiff.Recorder(b), tensordiff.hook_module(m):
        m(ms.Tensor(x))
    rep = tensordiff.compare(a, b)
    rows = {t["name"]: t for t in rep["tensors"]}
    assert {"bn.running_mean", "bn.running_var"} <= set(rows), sorted(rows)
    assert rows["bn"]["status"] == "match"  # training mode normalises with the batch's statistics
    if pitfall:
        assert rep["summary"]["first_jump"] == "bn.running_mean", rep["summary"]["jumps"]
    else:
        assert rep["summary"]["first_jump"] is None and rep["exit_code"] == 0, \
            [(t["name"], t["reason"]) for t in rep["tensors"] if t["status"] != "match"]
