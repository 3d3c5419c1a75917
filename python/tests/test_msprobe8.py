"""Issue 23 on module dumps (L0) written by mindstudio-probe 8.1.2's own dumper (build/venv-msprobe8),
the version of the issue's module-level dumps: the 4-block model of msprobe_run.py trained two
steps, fp32 and bf16 autocast, clean and with block 2's LayerNorm eps slipped. On torch 1.13
8.1.2 records no module backward entries (seen here): a step is its forward and its parameter
gradients, and an autocast step reads as float32 by elements (10 of 124 pairs bf16, where 1.3.0's
dump reads as bf16), so a bf16 Linear's rounding inside a float32 block must not read as a jump."""
import concurrent.futures
import os
import subprocess

import pytest

import tensordiff
from msprobe_venv import HERE, MSVENV8, why_not

WHY = why_not("msprobe", MSVENV8)
if WHY:
    pytest.skip(WHY, allow_module_level=True)

RUNS = [("tensor", p, s) for p in ("fp32", "amp") for s in ("clean", "slip")] + \
       [("statistics", "fp32", s) for s in ("clean", "slip")]
LN = "Module.blocks.2.ln.LayerNorm.forward.0.output.0"


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    d = tmp_path_factory.mktemp("msprobe8")

    def dump(run):
        task, precision, slip = run
        out = str(d / "_".join(run))
        r = subprocess.run([MSVENV8, os.path.join(HERE, "msprobe_run.py"), task, "L0", out, slip, "2", precision],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        return run, out

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(dump, RUNS))


@pytest.mark.parametrize("precision", ["fp32", "amp"])
def test_the_slipped_layernorm_is_the_jump_in_each_step(dumps, precision):
    rep = tensordiff.compare(dumps[("tensor", "fp32", "clean")], dumps[("tensor", precision, "slip")])
    assert rep["summary"]["jumps"] == [f"step{k}/rank:{LN}" for k in (0, 1)], rep["summary"]["jumps"]
    row = next(t for t in rep["tensors"] if t["name"] == f"step0/rank:{LN}")
    assert row["setting_differs"] and "LayerNorm eps differs" in row["reason"], row["reason"]
    steps = [t["name"].split("/")[0] for t in rep["tensors"]]
    assert steps == sorted(steps)


def test_a_clean_bf16_step_has_no_jump(dumps):
    rep = tensordiff.compare(dumps[("tensor", "fp32", "clean")], dumps[("tensor", "amp", "clean")])
    assert rep["summary"]["first_jump"] is None, rep["summary"]["jumps"]
    # On torch 1.13, 8.1.2 records no module backward; the parameter gradients it writes right
    # after each module's forward are made in backward: they come after the step's forward.
    for step in ("step0", "step1"):
        names = [t["name"] for t in rep["tensors"] if t["name"].startswith(step + "/")]
        grads = [i for i, n in enumerate(names) if ".parameters_grad" in n]
        assert grads and min(grads) > max(i for i, n in enumerate(names) if ".forward." in n), names


def test_statistics_name_the_first_difference_after_equal_ones(dumps):
    rep = tensordiff.compare(dumps[("statistics", "fp32", "clean")], dumps[("statistics", "fp32", "slip")])
    assert rep["summary"]["jumps"] == [f"step0/rank:{LN}"], rep["summary"]["jumps"]
