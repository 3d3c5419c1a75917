"""Issue 20: every command the README shows runs, as written, in the test suite. Each shell
line that starts with `tensordiff` (code blocks and inline code) runs on fixtures of the format
it names; every option of the options table runs with concrete values; every Python block runs
with a prelude that gives it its model and files. A README line this file does not know fails
the test, so a new example cannot go untested."""
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import torch

import tensordiff

from test_formats import (BIN, MSPROBE_SET, tensors, torch_state, write_h5, write_msprobe,
                          write_safetensors)

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
TEXT = open(README).read()


def blocks(lang):
    return re.findall(r"^```" + lang + r"\n(.*?)^```", TEXT, re.S | re.M)


def shell_commands():
    """Every `tensordiff ...` of the README: inline code and lines of code blocks."""
    found = set(re.findall(r"`((?:~/venvs/td/bin/)?tensordiff [^`]*)`", TEXT))
    for block in blocks("sh") + blocks("text") + re.findall(r"^    (\S.*)$", TEXT, re.M):
        for line in (block.splitlines() if "\n" in block else [block]):
            line = re.split(r"\s{2,}", line.strip())[0]  # a synopsis' description, a comment
            if re.match(r"^(mpirun .*)?(~/venvs/td/bin/)?tensordiff ", line) or line.startswith("scripts/"):
                found.add(line)
    return sorted(found)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    a, b = tensors(0), tensors(0, slip=True)
    for name in ("A.h5", "a.h5", "run_a.h5"):
        write_h5(d / name, a)
    for name in ("B.h5", "b.h5", "run_b.h5"):
        write_h5(d / name, b)
    write_safetensors(d / "a.safetensors", a)
    write_safetensors(d / "b.safetensors", b)
    torch.save(torch_state(a), d / "a.pt")
    torch.save(torch_state(b), d / "b.pt")
    np.save(d / "a.npy", np.asarray(a["layers.0.weight"]))
    np.savez(d / "b.npz", arr_0=np.asarray(b["layers.0.weight"]))
    write_msprobe(d / "dump_a" / "step0" / "rank0", MSPROBE_SET)
    write_msprobe(d / "dump_b" / "step0" / "rank0", {k: v * 1.01 for k, v in MSPROBE_SET.items()})
    subprocess.run([BIN, "stats", "-q", d / "a.h5", "--json", d / "a.jsonl"], check=True)
    for side, data in (("run_a", a), ("run_b", b)):
        (d / side).mkdir()
        write_h5(d / side / "rank0.h5", data)
    return d


# What each README line is run as (None: run as written, from the fixtures' folder). Synopsis
# lines with [options] are checked against --help instead; scripts/ are the README's set-up
# commands, which CI itself runs (scripts/test.sh is this suite; demo.sh has its own test).
KNOWN = {
    "tensordiff [options] A.h5 B.h5 [TENSOR...]": "synopsis",
    "tensordiff stats [options] A.h5 [TENSOR...]": "synopsis",
    "tensordiff show [options] A.h5 B.h5 NAME": "synopsis",
    "tensordiff show A B NAME": "tensordiff show A.h5 B.h5 layers.0.weight",
    "tensordiff show": "tensordiff show A.h5 B.h5 layers.0.weight",
    "tensordiff A B": "tensordiff a.jsonl b.h5",
    "tensordiff a.h5 b.h5": None,
    "tensordiff a.safetensors b.safetensors": None,
    "tensordiff a.npy b.npz": "tensordiff a.npy b.npz --map arr_0=a",
    "tensordiff a.pt b.pt": None,
    "tensordiff dump_a/step0/rank0 dump_b/step0/rank0": None,
    "tensordiff a.jsonl b.h5": None,
    "tensordiff run_a.safetensors run_b.h5": "tensordiff a.safetensors run_b.h5",
    "tensordiff stats --json": "tensordiff stats --json - a.h5",
    "~/venvs/td/bin/tensordiff --version": "tensordiff --version",
    "mpirun --quiet -np 64 --map-by node tensordiff run_a/ run_b/ --json report.json": "mpi",
    "scripts/demo.sh": "setup",
    "scripts/test.sh": "setup",
}


def run_line(line, cwd):
    args = shlex.split(line)
    assert args[0] == "tensordiff"
    return subprocess.run([BIN, *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_every_readme_command_is_known_and_runs(fixtures):
    unknown = [c for c in shell_commands() if c not in KNOWN]
    assert not unknown, f"README commands with no test: {unknown} (add them to KNOWN in {__file__})"
    help_text = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    for line, how in KNOWN.items():
        if how == "synopsis":
            assert line.replace("[options] ", "").split(" [")[0].split(" A.h5")[0] in help_text
            continue
        if how in ("setup", "mpi"):
            continue  # CI runs the set-up commands; tests/mpi_test.sh runs mpirun on folders
        r = run_line(how or line, fixtures)
        assert r.returncode in (0, 1, 3), f"{line!r} ({how}): exit {r.returncode}: {r.stderr}"


def test_mpirun_line_runs_when_mpi_is_there(fixtures):
    import shutil
    if not shutil.which("mpirun"):
        pytest.skip("no mpirun on this machine")
    line = "mpirun --quiet -np 64 --map-by node tensordiff run_a/ run_b/ --json report.json"
    args = shlex.split(line.replace("-np 64 --map-by node", "--allow-run-as-root --oversubscribe -np 2"))
    args[args.index("tensordiff")] = BIN
    r = subprocess.run(args, cwd=fixtures, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMPI_MCA_rmaps_base_oversubscribe": "1"})
    assert r.returncode == 1, r.stderr
    assert json.load(open(fixtures / "report.json"))["summary"]["mismatched"] > 0


# Concrete values for the options table's placeholders.
VALUES = {"FILE": "r.json", "X": "0.001", "Y": "1e-5", "P": "bf16", "C": "cosine", "K": "3",
          "GLOB": "layers.*", "TENSOR...": "layers.0.weight", "N": "2", "T": "avx2"}


def table_options():
    start = TEXT.index("Options that matter most:")
    table = TEXT[start:TEXT.index("\n\n", TEXT.index("| --- |", start))]
    cells = [row.split(" | ")[0].strip("| ") for row in table.splitlines()[3:]]
    return [o for cell in cells for o in re.findall(r"`([^`]+)`", cell)]


def concrete(option):
    if option.startswith("--map"):
        return ["--map", "^layers=layers"]
    if option.startswith("--tol"):
        return ["--tol", "layers.*:rtol=0.001,atol=1e-5"]
    if option.startswith("--exclude"):
        return ["--exclude", "layers.1*"]
    if option.startswith("--backend"):
        return ["--backend", "cpu"]
    if option.startswith("TENSORDIFF_SIMD"):
        return []
    words = option.replace("\\|", "|").split()
    out = []
    for w in words:
        if "|" in w:
            w = w.split("|")[1 if "cpu" in w else 0]
        out.append(VALUES.get(w, w))
    return out


def test_every_option_in_the_table_runs(fixtures):
    opts = table_options()
    assert len(opts) > 20, opts
    for opt in opts:
        args = concrete(opt)
        if not args:
            continue
        r = subprocess.run([BIN, *args[:1], *args[1:], "A.h5", "B.h5"] if not args[0].startswith("layers")
                           else [BIN, "A.h5", "B.h5", *args], cwd=fixtures, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode in (0, 1), f"README option {opt!r} as {args}: exit {r.returncode}: {r.stderr}"


PRELUDE = """
import torch, numpy as np, tensordiff
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.GELU(), torch.nn.Linear(8, 4))
x = torch.randn(3, 8)
W = torch.randn(8, 8)
x_torch = y_jax = torch.ones(5)
q1 = q2 = torch.ones(4)
k1 = k2 = torch.zeros(4)
"""


@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_every_python_block_runs(tmp_path, index, monkeypatch):
    code = blocks("python")[index]
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(PRELUDE, ns)
    if "mindspore" in code:  # the port example: the test's model and its MindSpore port (defaults kept)
        ms = pytest.importorskip("mindspore", reason="MindSpore (CPU) is installed by scripts/python-venv.sh")
        import test_mindspore_port as port
        ms.set_context(mode=ms.PYNATIVE_MODE)
        torch.manual_seed(0)
        ns["net"] = port.TorchNet().eval()
        ns.update(port=port.port(ns["net"]), x=np.ones((2, port.WIDTH), np.float32), mindspore=ms)
        exec(code, ns)
        return
    if "flax.linen.Module" in code:  # the flax example: the test's port with the torch model's weights
        jax = pytest.importorskip("jax", reason="JAX is installed by scripts/python-venv.sh")
        pytest.importorskip("flax", reason="flax is installed by scripts/python-venv.sh")
        import test_flax_port as fx
        torch.manual_seed(0)
        net = fx.TorchNet().eval()
        ns.update(port=fx.FlaxNet(), params=fx.port_params(net), x=jax.numpy.ones((2, fx.WIDTH)))
        exec(code, ns)
        assert [t["name"] for t in tensordiff.stats("flax.h5")["tensors"]][-1] == "output"
        return
    # The files a block reads are those of a run recorded the same way: run it once as run B.
    with tensordiff_recording(ns):
        pass
    if "range(100)" in code:  # records and compares run_a and run_b: make run_b first
        exec(code.replace('"run_a.h5"', '"run_b.h5"'), dict(ns))
    exec(code, ns)


class tensordiff_recording:
    """run_a.h5 and run_b.h5 of the prelude's model (equal runs), for blocks that read them."""
    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        import tensordiff
        for path in ("run_a.h5", "run_b.h5"):
            with tensordiff.Recorder(path), tensordiff.hook_module(self.ns["model"]):
                self.ns["model"](self.ns["x"])

    def __exit__(self, *exc):
        return False
