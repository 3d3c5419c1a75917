"""The PyTorch side of the framework-port tests (test_mindspore_port.py, test_flax_port.py): a
3-block model (Linear, LayerNorm, GELU) and a Linear + BatchNorm one, whose ports in another
framework copy their weights."""
import torch

WIDTH, BLOCKS = 16, 3


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.norm, self.act = torch.nn.Linear(WIDTH, WIDTH), torch.nn.LayerNorm(WIDTH), torch.nn.GELU()

    def forward(self, x):
        return self.act(self.norm(self.fc(x)))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.ModuleList(TorchBlock() for _ in range(BLOCKS))
        self.head = torch.nn.Linear(WIDTH, 4)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class TorchBnNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(WIDTH, WIDTH)
        self.bn = torch.nn.BatchNorm1d(WIDTH)  # momentum 0.1: new = 0.9 old + 0.1 batch

    def forward(self, x):
        return self.bn(self.fc(x))


def trained_like(net: TorchNet) -> TorchNet:
    """LayerNorm weights and biases off the fresh 1 and 0 (seed 0 before the call)."""
    with torch.no_grad():
        for b in net.blocks:
            b.norm.weight.add_(0.1 * torch.randn(WIDTH))
            b.norm.bias.add_(0.1 * torch.randn(WIDTH))
    return net


def torch_reference(path: str):
    """Records the reference run: the trained-like TorchNet (seed 0) on 8 inputs (seed 1) into
    `path`; returns (net, x) for the port to copy and replay."""
    import numpy as np

    import tensordiff
    torch.manual_seed(0)
    net = trained_like(TorchNet().eval())
    x = np.random.default_rng(1).standard_normal((8, WIDTH)).astype(np.float32)
    with tensordiff.Recorder(path), tensordiff.hook_module(net):
        net(torch.from_numpy(x))
    return net, x


# Each framework-default pitfall a port keeps, and where its first jump must be: the LayerNorm
# epsilon, the GELU approximation, and both defaults kept (the epsilon comes first).
PITFALLS = [("ln_eps", "blocks.0.norm"), ("gelu_tanh", "blocks.0.act"), ("defaults", "blocks.0.norm")]


def check_pitfall(rep: dict, where: str):
    assert rep["summary"]["first_jump"] == where, rep["summary"]["jumps"]
    assert rep["exit_code"] == 1
