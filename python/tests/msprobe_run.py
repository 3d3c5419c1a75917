"""One training run dumped by msprobe's own dumper (mindstudio-probe, issue 23): a 4-block
model (LayerNorm, Linear, GELU, residual; trained-like LayerNorm weights), SGD over `steps` steps
with forward and backward, dumped at API level (L1) or module level (L0), as tensors or
statistics. `slip` sets block 2's LayerNorm eps to 1e-3 (1e-5 elsewhere); `precision` is fp32,
amp (bf16 autocast on the CPU) or bf16 (the model cast to bfloat16).

    build/venv-msprobe/bin/python python/tests/msprobe_run.py TASK LEVEL OUT_DIR clean|slip STEPS PRECISION [LOSS_SCALE]

LOSS_SCALE (default 1): the loss is multiplied by it before backward and the gradients divided
by it before the optimizer step (static loss scaling, as mixed-precision training does).

Run in its own interpreter (msprobe patches torch's functions while it dumps)."""
import contextlib
import json
import os
import sys

import torch
from msprobe.pytorch import PrecisionDebugger

# The size: the tests' default, or a benchmark's ($TD_WIDTH, $TD_BLOCKS, $TD_BATCH).
WIDTH, BLOCKS, BATCH = (int(os.environ.get(k, d)) for k, d in (("TD_WIDTH", 32), ("TD_BLOCKS", 4), ("TD_BATCH", 16)))
SLIP_BLOCK = 2


class Block(torch.nn.Module):
    def __init__(self, eps):
        super().__init__()
        self.ln = torch.nn.LayerNorm(WIDTH, eps=eps)
        self.fc = torch.nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        return x + torch.nn.functional.gelu(self.fc(self.ln(x)))


class Net(torch.nn.Module):
    def __init__(self, slip):
        super().__init__()
        self.blocks = torch.nn.ModuleList(Block(1e-3 if slip and i == SLIP_BLOCK else 1e-5) for i in range(BLOCKS))
        self.head = torch.nn.Linear(WIDTH, 8)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def main(task, level, out, slip, steps, precision, loss_scale=1.0):
    config = {"task": task, "dump_path": out, "rank": [], "step": [], "level": level, "seed": 1234,
              "is_deterministic": False, task: {"scope": [], "list": [], "data_mode": ["all"]}}
    if task == "statistics":
        config[task]["summary_mode"] = "statistics"
    with open(out + ".config.json", "w") as f:
        json.dump(config, f)
    torch.manual_seed(0)
    net = Net(slip == "slip")
    with torch.no_grad():  # trained-like norms, not the fresh 1 and 0
        for b in net.blocks:
            b.ln.weight.add_(0.1 * torch.randn(WIDTH))
            b.ln.bias.add_(0.05 * torch.randn(WIDTH))
    x = torch.randn(BATCH, WIDTH, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 8, (BATCH,), generator=torch.Generator().manual_seed(2))
    if precision == "bf16":
        net, x = net.to(torch.bfloat16), x.to(torch.bfloat16)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    debugger = PrecisionDebugger(config_path=out + ".config.json")
    for _ in range(steps):
        debugger.start(net)
        amp = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "amp" else contextlib.nullcontext()
        with amp:
            logits = net(x)
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        (loss * loss_scale).backward()
        debugger.stop()
        if loss_scale != 1:
            for p in net.parameters():
                p.grad.div_(loss_scale)
        opt.step()
        opt.zero_grad()
        debugger.step()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6],
         float(sys.argv[7]) if len(sys.argv) > 7 else 1.0)
