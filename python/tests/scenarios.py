"""Realistic migration scenarios for the first-jump tests (issue 9): small transformer and CNN
models run once as the fp32 reference and once as a low-precision run (bf16 autocast, or every
module output rounded to fp16), clean or with one typical slip in one module. Each run is
recorded with the capture package's module hooks, so the engine sees what a user would dump.

A slip is (name, where, how): `where` is the module path the first jump must name.
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

import tensordiff

SLIP_LAYER = 2


class Attention(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.softmax = torch.nn.Softmax(dim=-1)
        self.proj = torch.nn.Linear(dim, dim)
        self.scale = 1.0 / math.sqrt(dim // heads)
        self.low_precision_softmax = False

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-2, -1)) * self.scale
        if self.low_precision_softmax:  # the slip: softmax computed in bfloat16
            att = self.softmax(scores.to(torch.bfloat16)).to(scores.dtype)
        else:
            att = self.softmax(scores.float()).to(scores.dtype)
        out = (att @ v).transpose(1, 2).reshape(b, t, c)
        return self.proj(out)


class Mlp(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.act = torch.nn.GELU()
        self.fc2 = torch.nn.Linear(hidden, dim)
        self.drop = torch.nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(self.fc2(self.act(self.fc1(x))))


class Block(torch.nn.Module):
    """Pre-LN transformer block (GPT style)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Transformer(torch.nn.Module):
    def __init__(self, vocab=96, dim=96, heads=4, depth=6):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.blocks = torch.nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab)

    def forward(self, tokens):
        h = self.embed(tokens)
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.norm(h))


class EncoderStack(torch.nn.Module):
    """The issue's own case: torch's nn.TransformerEncoderLayer (post-LN), four of them."""

    def __init__(self, dim=64, heads=4, depth=4):
        super().__init__()
        self.inp = torch.nn.Linear(16, dim)
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(dim, heads, 4 * dim, batch_first=True) for _ in range(depth))

    def forward(self, x):
        # float32 residual stream, as mixed-precision training keeps it (and as CPU autocast
        # needs: its layer_norm refuses a bfloat16 input with float32 weights).
        h = self.inp(x)
        h = h.to(torch.promote_types(h.dtype, torch.float32))
        for layer in self.layers:
            h = layer(h)
        return h


class ConvBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.relu = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)
        self.drop = torch.nn.Dropout2d(0.1)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(x + self.drop(self.bn2(self.conv2(y))))


class Cnn(torch.nn.Module):
    def __init__(self, c=24, depth=5):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, c, 3, padding=1)
        self.blocks = torch.nn.ModuleList(ConvBlock(c) for _ in range(depth))
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(c, 10)

    def forward(self, x):
        h = self.stem(x)
        for blk in self.blocks:
            h = blk(h)
        return self.fc(self.pool(h).flatten(1))


def _randomise_bn(model):
    """Running statistics as a trained network has them (not the 0/1 of a fresh one)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.05)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


# -- slips: each returns the module path where it is introduced ---------------------------------
def _gelu_tanh(model, i):
    model.blocks[i].mlp.act.approximate = "tanh"
    return f"blocks.{i}.mlp.act"


def _ln_eps(model, i):
    model.blocks[i].norm2.eps = 1e-3
    return f"blocks.{i}.norm2"


def _dropout_on(model, i):
    model.blocks[i].mlp.drop.train()
    return f"blocks.{i}.mlp.drop"


def _transposed(model, i):
    w = model.blocks[i].attn.proj.weight
    w.data.copy_(w.data.t().clone())
    return f"blocks.{i}.attn.proj"


def _missing_scale(model, i):
    model.blocks[i].attn.scale = 1.0  # forgot the 1/sqrt(head_dim) of this layer's attention
    return f"blocks.{i}.attn.softmax"


def _softmax_low(model, i):
    model.blocks[i].attn.low_precision_softmax = True
    return f"blocks.{i}.attn.softmax"


def _enc_ln_eps(model, i):
    model.layers[i].norm1.eps = 1e-3
    return f"layers.{i}.norm1"


def _enc_dropout(model, i):
    model.layers[i].dropout1.train()
    return f"layers.{i}.dropout1"


def _bn_eps(model, i):
    model.blocks[i].bn2.eps = 1e-2
    return f"blocks.{i}.bn2"


def _cnn_dropout(model, i):
    model.blocks[i].drop.train()
    return f"blocks.{i}.drop"


def _conv_transposed(model, i):
    w = model.blocks[i].conv1.weight
    w.data.copy_(w.data.transpose(2, 3).clone())  # a 3x3 kernel read in the other layout
    return f"blocks.{i}.conv1"


MODELS = {"transformer": Transformer, "encoder": EncoderStack, "cnn": Cnn}
SLIPS = {
    "transformer": {"gelu_tanh": _gelu_tanh, "ln_eps": _ln_eps, "dropout": _dropout_on,
                    "transposed_weight": _transposed, "missing_scale": _missing_scale,
                    "softmax_bf16": _softmax_low},
    "encoder": {"ln_eps": _enc_ln_eps, "dropout": _enc_dropout},
    "cnn": {"bn_eps": _bn_eps, "dropout": _cnn_dropout, "transposed_weight": _conv_transposed},
}


def _inputs(kind):
    g = torch.Generator().manual_seed(7)
    if kind == "transformer":
        return torch.randint(0, 96, (4, 48), generator=g)
    if kind == "encoder":
        return torch.randn(4, 32, 16, generator=g)
    return torch.randn(4, 3, 24, 24, generator=g)


def record(path, kind, precision="fp32", slip=None, inputs=False, seed=0):
    """Runs model `kind` once and records every module's output (and inputs with inputs=True).

    precision: fp32; bf16 (CPU autocast, as a bf16 migration runs); fp16 (every module's
    output rounded to float16 and recorded as float16, the forward continuing with the rounded
    values in float32: CPU torch has no float16 matmul); or fp32port (computed in float64,
    stored as float32: a float32 port whose arithmetic rounds differently). Grad stays enabled so that torch's
    fused encoder fast path does not bypass the submodules' hooks. Returns the slip's module.
    """
    torch.manual_seed(seed)
    model = MODELS[kind]()
    if kind == "cnn":
        _randomise_bn(model)
    model.eval()
    where = SLIPS[kind][slip](model, SLIP_LAYER) if slip else None
    x = _inputs(kind)
    if precision in ("fp16", "fp32port"):
        # fp32port: a float32 run of another implementation (accumulating in float64, as a
        # different library or device would round differently), stored as float32.
        if precision == "fp32port":
            model = model.double()
            x = x if x.dtype == torch.int64 else x.double()

        def half_hook(mod, args, out, name):
            if not (torch.is_tensor(out) and out.is_floating_point()):
                return None
            h = out.detach().half() if precision == "fp16" else out.detach().float()
            rec = tensordiff.current()
            rec.save(rec.unique_name(name), h)
            return h.float() if precision == "fp16" else None
        with tensordiff.Recorder(path):
            hooks = [m.register_forward_hook(lambda mod, a, o, n=(n or "output"): half_hook(mod, a, o, n))
                     for n, m in model.named_modules()]
            model(x)
            for h in hooks:
                h.remove()
        return where
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    with tensordiff.Recorder(path), tensordiff.hook_module(model, inputs=inputs), ctx:
        model(x)
    return where
