"""Issue 23 on real model code nobody here wrote: one training step of Hugging Face GPT-2,
LLaMA and BERT (random-initialised small configs, transformers 4.49.0) dumped at module level
(L0) by msprobe's own dumper (mindstudio-probe 1.3.0 and 8.1.2), msprobe_hf_run.py. A module dump records
no scalar argument, so a LayerNorm/RMSNorm eps or a GELU formula that a port got wrong is
inferred from each side's recorded input, parameters and output (engine/module_replay.cpp):
the slipped module is the first jump with what differs in its reason, in fp32, bf16 autocast
and a bf16 model; clean steps (forward and backward) against fp32 have no jump and no setting
named."""
import concurrent.futures
import os
import subprocess

import pytest

import tensordiff

from msprobe_venv import HERE, MSVENV, MSVENV8, why_not

# Each msprobe whose venv has it and transformers: 1.3.0 (records module parameters) and 8.1.2
# (the module-level version; on torch 1.13 it records no module backward).
VENVS = [pytest.param(v, id=name, marks=pytest.mark.skipif(bool(why_not("msprobe, transformers", v)),
                                                           reason=str(why_not("msprobe, transformers", v))))
         for name, v in (("msprobe1.3.0", MSVENV), ("msprobe8.1.2", MSVENV8))]

# (model, slip, precision) -> the module the slip is in (None: clean).
SLIPPED = {
    "gpt2": {"eps": "Module.transformer.h.2.ln_1.LayerNorm.forward.0.output.0",
             "gelu": "Module.transformer.h.2.mlp.act.GELU.forward.0.output.0"},
    "llama": {"eps": "Module.model.layers.2.input_layernorm.LlamaRMSNorm.forward.0.output.0"},
    "gemma": {"eps": "Module.model.layers.2.input_layernorm.GemmaRMSNorm.forward.0.output.0"},
    "bert": {"eps": "Module.bert.encoder.layer.2.attention.output.LayerNorm.LayerNorm.forward.0.output.0",
             "gelu": "Module.bert.encoder.layer.2.intermediate.intermediate_act_fn.GELU.forward.0.output.0"},
}
SLIPS = [("gpt2", "eps", "fp32"), ("gpt2", "eps", "amp"), ("gpt2", "eps", "bf16"), ("gpt2", "gelu", "fp32"),
         ("llama", "eps", "fp32"), ("llama", "eps", "amp"), ("bert", "eps", "fp32"), ("bert", "gelu", "fp32"),
         ("gemma", "eps", "fp32"), ("gemma", "eps", "amp")]  # Gemma's norm scales by 1 + weight: fitted
# BERT's MLM head does not run under CPU autocast on torch 1.13 (a dtype error in msprobe's hook).
# Gemma's layer-0 RMSNorm backward reweights its gradient's error row by row (scale 0.998 ->
# 0.9925 in a clean autocast step): named a jump until the backward was replayed.
CLEAN = [(m, "clean", p) for m in ("gpt2", "llama", "bert", "gemma") for p in ("amp", "bf16")
         if (m, p) != ("bert", "amp")]
# float16 at module boundaries (torch 1.13 has no float16 CPU kernels), a step without loss
# scaling (its gradients underflow float16: Gemma's and BERT's first backward Linears were named
# jumps until a pair under the normal range was judged against the subnormal step) and with a
# loss scale of 1024 on both sides; and an eps slip in it.
FP16 = [("gemma", "clean", "fp16sim"), ("bert", "clean", "fp16sim"), ("llama", "clean", "fp16sim", "1024"),
        ("llama", "eps", "fp16sim", "1024")]
RUNS = ([(m, "clean", "fp32") for m in ("gpt2", "llama", "bert", "gemma")] + SLIPS + CLEAN + FP16 +
        [("llama", "clean", "fp32", "1024")])


@pytest.fixture(scope="module", params=VENVS)
def dumps(tmp_path_factory, request):
    d = tmp_path_factory.mktemp("msprobe_hf")

    def dump(run):
        out = str(d / "_".join(run))
        r = subprocess.run([request.param, os.path.join(HERE, "msprobe_hf_run.py"), *run[:1], out, *run[1:]],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        return run, out

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        return dict(pool.map(dump, RUNS))


def compare(dumps, run, **options):
    return tensordiff.compare(dumps[(run[0], "clean", "fp32", *run[3:])], dumps[run], **options)


@pytest.mark.parametrize("run", SLIPS, ids="-".join)
def test_the_slipped_module_is_the_first_jump_with_what_differs(dumps, run):
    rep = compare(dumps, run)
    want = "step0/rank:" + SLIPPED[run[0]][run[1]]
    assert rep["summary"]["first_jump"] == want, rep["summary"]["jumps"]
    row = next(t for t in rep["tensors"] if t["name"] == want)
    assert row["setting_differs"] and row["status"] == "mismatch" and row["jump"]
    assert ("eps differs" if run[1] == "eps" else "formula differs") in row["reason"], row["reason"]
    assert rep["exit_code"] == 1
    # Named once: no other module's setting is said to differ.
    assert [t["name"] for t in rep["tensors"] if t.get("setting_differs")] == [want]


@pytest.mark.parametrize("run", CLEAN, ids="-".join)
def test_a_clean_step_names_no_jump_and_no_setting(dumps, run):
    rep = compare(dumps, run)
    assert rep["summary"]["first_jump"] is None, rep["summary"]["jumps"]
    assert not [t["name"] for t in rep["tensors"] if t.get("setting_differs")]
    assert any(".parameters_grad" in t["name"] for t in rep["tensors"])  # the backward's gradients too


def test_the_eps_values_are_the_modules(dumps):
    """The inferred eps are the configs' (GPT-2 1e-5 slipped to 1e-3, in fp32)."""
    rep = compare(dumps, ("gpt2", "eps", "fp32"))
    row = next(t for t in rep["tensors"] if t.get("setting_differs"))
    assert ": A 1e-05 ± " in row["reason"] and ", B 0.001 ± " in row["reason"], row["reason"]


def _without_parameters(src, dst):
    """The dump as a dumper that records no module parameters writes it (msprobe 1.3.0 records
    them in L0; newer versions' analyze_forward records inputs and outputs only)."""
    import glob
    import json
    import shutil
    shutil.copytree(src, dst)
    for f in glob.glob(os.path.join(dst, "**", "dump.json"), recursive=True):
        with open(f) as fh:
            d = json.load(fh)
        for entry in d["data"].values():
            for p in (entry.pop("parameters", None) or {}).values():
                os.remove(os.path.join(os.path.dirname(f), "dump_tensor_data", p["data_name"]))
        with open(f, "w") as fh:
            json.dump(d, fh)
    return dst


@pytest.mark.parametrize("run", [("gpt2", "eps", "amp"), ("llama", "eps", "amp"), ("gpt2", "clean", "amp"),
                                 ("llama", "clean", "bf16")], ids="-".join)
def test_without_recorded_parameters_the_affine_is_fitted(dumps, run, tmp_path):
    a = _without_parameters(dumps[(run[0], "clean", "fp32")], str(tmp_path / "a"))
    b = _without_parameters(dumps[run], str(tmp_path / "b"))
    rep = tensordiff.compare(a, b)
    named = [t for t in rep["tensors"] if t.get("setting_differs")]
    if run[1] == "clean":
        assert not named and rep["summary"]["first_jump"] is None, rep["summary"]["jumps"]
        return
    want = "step0/rank:" + SLIPPED[run[0]][run[1]]
    assert rep["summary"]["first_jump"] == want, rep["summary"]["jumps"]
    assert [t["name"] for t in named] == [want]
    assert "weight and bias fitted: none recorded" in named[0]["reason"], named[0]["reason"]


def test_a_norm_backward_is_replayed_and_its_error_explained(dumps):
    """Every RMSNorm backward of a clean Gemma autocast step is replayed from its recorded
    gradient and forward: the error those inputs explain is the error its output shows."""
    rep = compare(dumps, ("gemma", "clean", "amp"))
    rows = [t for t in rep["tensors"] if "RMSNorm.backward." in t["name"] and t["name"].endswith(".output.0")]
    if not any(".backward." in t["name"] for t in rep["tensors"]):
        return  # msprobe 8.1.2 on torch 1.13 records no module backward: nothing to replay
    assert len(rows) == 9, [t["name"] for t in rows]  # 4 layers x 2 norms and the final norm
    for t in rows:
        assert "explained_rel_l2" in t, t["name"]
        assert abs(t["explained_rel_l2"] / t["diff"]["rel_l2"] - 1) < 0.01, (t["name"], t["explained_rel_l2"])
        assert not t["jump"]


@pytest.mark.parametrize("run", FP16, ids="-".join)
def test_float16_steps_underflow_is_said_and_no_false_jump(dumps, run):
    rep = compare(dumps, run, precision="fp16")
    if run[1] == "eps":
        want = "step0/rank:" + SLIPPED[run[0]][run[1]]
        assert rep["summary"]["jumps"] == [want]
        return
    assert rep["summary"]["first_jump"] is None, rep["summary"]["jumps"]
    underflow = [n for n in rep["notes"] if "under the normal range" in n]
    if len(run) == 3:  # no loss scale: the backward's gradients lie under float16's normal range
        if any(".backward." in t["name"] for t in rep["tensors"]):  # msprobe 8.1.2 records none
            assert underflow and ".backward." in underflow[0], rep["notes"]
    else:
        assert not underflow, underflow
