"""Issue 9's scenarios: real runs recorded with the capture package (scenarios.py), compared by
the engine; the first jump must name the module where the slip is, and clean runs must report
none. Slips whose effect is below the run's own rounding noise cannot be told from it by any
per-tensor statistic; for those the test asserts only that nothing earlier is blamed."""
import os

import numpy as np

import pytest
import torch

import scenarios
import tensordiff

# (model, precision, slip) whose effect hides in the run's noise: measured sizes in
# scenarios.py's docstring and docs/measurements.md. GELU tanh-vs-erf differs by ~1e-4
# relative, below bf16 (3.9e-3) and fp16 (4.9e-4) rounding; a LayerNorm eps of 1e-3 rescales
# by ~5e-4, inside bf16's own systematic rounding effects (up to 4e-4 in clean runs); a softmax
# rounded to bf16 is what every other bf16 tensor of the run already is.
HIDDEN = {
    ("transformer", "bf16", "gelu_tanh"), ("transformer", "bf16", "softmax_bf16"),
    ("transformer", "fp16", "gelu_tanh"), ("transformer", "fp16", "softmax_bf16"),
}

CASES = [(kind, prec, slip) for kind in scenarios.MODELS for prec in ("bf16", "fp16", "fp32port")
         for slip in [None, *scenarios.SLIPS[kind]]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    refs = {}
    for kind in scenarios.MODELS:
        for inputs in (False, True):
            path = str(d / f"{kind}_{inputs}.h5")
            scenarios.record(path, kind, "fp32", inputs=inputs)
            refs[kind, inputs] = path
    return refs


def names_in_order(report):
    return [t["name"] for t in report["tensors"]]


@pytest.mark.parametrize("kind,prec,slip", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_first_jump_names_the_slip(reference, tmp_path, kind, prec, slip):
    b = str(tmp_path / "b.h5")
    where = scenarios.record(b, kind, prec, slip)
    report = tensordiff.compare(reference[kind, False], b)
    jump = report["summary"]["first_jump"]
    expected_precision = {"bf16": "bf16", "fp16": "fp16", "fp32port": "fp32"}[prec]
    assert report["summary"]["precision"] == expected_precision
    if slip is None:
        assert jump is None, f"false alarm in a clean {prec} run at {jump}"
    elif (kind, prec, slip) in HIDDEN:
        order = names_in_order(report)
        assert jump is None or order.index(jump) >= order.index(where), jump
    else:
        assert jump == where
        row = next(t for t in report["tensors"] if t["name"] == where)
        assert row["jump"] is True and row["growth"] is not None and row["scale"] is not None


# With the modules' inputs recorded, growth is a module's own amplification, and a slip in a
# module's own code between its submodules is named as that gap (issue 22): the missing
# attention scale lives in Attention.forward between the qkv projection and the softmax, so the
# first jump is the softmax's input, after an earlier record inside blocks.2.attn.
INPUT_CASES = [("transformer", None, None), ("transformer", "dropout", "blocks.2.mlp.drop"),
               ("transformer", "transposed_weight", "blocks.2.attn.proj"),
               ("transformer", "missing_scale", "blocks.2.attn.softmax.input.0"),
               ("encoder", None, None), ("encoder", "dropout", "layers.2.dropout1"),
               ("cnn", None, None), ("cnn", "dropout", "blocks.2.drop"),
               ("cnn", "bn_eps", "blocks.2.bn2"), ("cnn", "transposed_weight", "blocks.2.conv1")]


@pytest.mark.parametrize("kind,slip,want", INPUT_CASES, ids=[f"{k}-{s}" for k, s, _ in INPUT_CASES])
def test_recorded_inputs_give_module_amplification(reference, tmp_path, kind, slip, want):
    b = str(tmp_path / "b.h5")
    scenarios.record(b, kind, "bf16", slip, inputs=True)
    report = tensordiff.compare(reference[kind, True], b)
    assert report["summary"]["first_jump"] == want
    # An input pair is a jump only as a gap, named with the record before it; never in a
    # clean run, never where a module's own slip explains it.
    for t in report["tensors"]:
        if ".input" in t["name"] and t["jump"]:
            assert t["name"] == want and t["gap_after"].startswith("blocks.2.attn."), t
        if ".input" not in t["name"] or not t["jump"]:
            assert "gap_after" not in t


def test_default_tolerances_follow_the_run_precision(reference, tmp_path):
    """LayerNorm outputs stay float32 under autocast, yet belong to a bf16 run."""
    b = str(tmp_path / "b.h5")
    scenarios.record(b, "transformer", "bf16")
    report = tensordiff.compare(reference["transformer", False], b)
    norm = next(t for t in report["tensors"] if t["name"] == "blocks.0.norm1")
    assert norm["dtype_b"] == "float32"
    assert norm["tolerance"]["rtol"] == pytest.approx(1.6e-2)
    # Forcing fp32 judges it at fp32's tolerance.
    forced = tensordiff.compare(reference["transformer", False], b, precision="fp32")
    norm = next(t for t in forced["tensors"] if t["name"] == "blocks.0.norm1")
    assert norm["tolerance"]["rtol"] == pytest.approx(1.3e-6)
    assert forced["summary"]["precision"] == "fp32"
    # Judged on rel L2 against the precision's threshold, the clean bf16 run matches.
    by_l2 = tensordiff.compare(reference["transformer", False], b, criterion="rel-l2")
    assert by_l2["summary"]["mismatched"] == 0
    assert by_l2["exit_code"] == 0


def test_no_false_jump_in_clean_runs_over_seeds(tmp_path):
    """The thresholds' margin, over more seeds than the cases above: 72 clean runs (seeds 1-4,
    with and without recorded inputs), none may name a jump (docs/design.md §4 Diagnosis: clean
    peers measured at most x24 apart against the peer rule's x1000)."""
    alarms = []
    for kind in scenarios.MODELS:
        for seed in range(1, 5):
            for inputs in (False, True):
                ref = str(tmp_path / "ref.h5")
                scenarios.record(ref, kind, "fp32", seed=seed, inputs=inputs)
                for prec in ("bf16", "fp16", "fp32port"):
                    b = str(tmp_path / "b.h5")
                    scenarios.record(b, kind, prec, None, seed=seed, inputs=inputs)
                    jump = tensordiff.compare(ref, b)["summary"]["first_jump"]
                    if jump:
                        alarms.append((kind, prec, seed, inputs, jump))
    assert not alarms, alarms


def _run_checked(kind, slip, ref, **recorder):
    """Run B (bf16 autocast, `slip` planted) checking itself against `ref` as it goes."""
    torch.manual_seed(0)
    model = scenarios.MODELS[kind]()
    model.eval()
    where = scenarios.SLIPS[kind][slip](model, scenarios.SLIP_LAYER) if slip else None
    with tensordiff.Recorder(reference=ref, on_divergence="mark", **recorder) as rec, \
            tensordiff.hook_module(model, inputs=True), torch.autocast("cpu", dtype=torch.bfloat16):
        model(scenarios._inputs(kind))
    return rec, where


def test_reference_mode_stops_at_the_jump_not_at_rounding(reference):
    """Issue 22: a bf16 run is over an fp32 reference's tolerance from its first layer on; the
    run checking itself parts from the reference where the slip is (its own error), unless
    asked to stop at the first tensor over tolerance."""
    ref = reference["transformer", True]
    rec, where = _run_checked("transformer", "dropout", ref)
    assert rec.divergence is not None and rec.divergence.name == where, rec.divergence
    assert "its own error" in str(rec.divergence)
    first_over = _run_checked("transformer", "dropout", ref, divergence="tolerance")[0].divergence
    assert first_over.name.startswith("blocks.0."), first_over.name
    clean, _ = _run_checked("transformer", None, ref)
    assert clean.divergence is None
    with pytest.raises(ValueError, match="divergence must be"):
        tensordiff.Recorder(reference=ref, divergence="first")


def test_replay_names_a_slip_below_the_runs_rounding(reference, tmp_path):
    """Issue 22 item 3: GELU tanh vs erf in a bf16 run is 1e-4 against the run's 5e-3 (HIDDEN
    above: no jump rule sees it); replaying run B's modules on A's recorded inputs at A's
    precision names it, and a faithful run B has nothing to name."""
    def model_b(slip):
        torch.manual_seed(0)
        model = scenarios.MODELS["transformer"]()
        model.eval()
        where = scenarios.SLIPS["transformer"][slip](model, scenarios.SLIP_LAYER) if slip else None
        return model, where
    model, where = model_b("gelu_tanh")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = tensordiff.replay(model, reference["transformer", True])
    assert r["named"] == where, [(m["name"], m["own_rel_l2"]) for m in r["modules"] if m["stands_out"]]
    row = next(m for m in r["modules"] if m["name"] == where)
    assert row["replayed"] and 1e-6 < row["own_rel_l2"] < 1e-2
    clean, _ = model_b(None)
    r = tensordiff.replay(clean, reference["transformer", True])
    assert r["named"] is None
    assert all(m["own_rel_l2"] == 0 for m in r["modules"] if m["replayed"]), "same code, same inputs: same bits"
    # A reference without inputs has nothing to replay on: an error that says why, never a pass.
    with pytest.raises(tensordiff.TensordiffError, match=r"nothing replayed.*hook_module\(inputs=True\)"):
        tensordiff.replay(clean, reference["transformer", False])
    with pytest.raises(tensordiff.TensordiffError, match="no such reference"):
        tensordiff.replay(clean, str(tmp_path / "missing.h5"))


def test_recorder_replay_names_what_the_jump_rules_cannot(reference):
    """Recorder(reference=..., replay=True): the run checks itself as it goes and, at the end,
    replays its hooked model on the reference's inputs. The GELU tanh slip of a bf16 run is no
    jump (no Divergence) but the replay names it."""
    torch.manual_seed(0)
    model = scenarios.MODELS["transformer"]()
    model.eval()
    where = scenarios.SLIPS["transformer"]["gelu_tanh"](model, scenarios.SLIP_LAYER)
    with tensordiff.Recorder(reference=reference["transformer", True], replay=True) as rec, \
            tensordiff.hook_module(model, inputs=True), torch.autocast("cpu", dtype=torch.bfloat16):
        model(scenarios._inputs("transformer"))
    assert rec.divergence is None
    assert len(rec.replayed) == 1 and rec.replayed[0]["named"] == where
    with pytest.raises(ValueError, match="needs reference"):
        tensordiff.Recorder("x.h5", replay=True)
    with pytest.raises(tensordiff.TensordiffError, match="no model was hooked"):
        with tensordiff.Recorder(reference=reference["transformer", True], replay=True):
            pass
    # A Divergence raised in the block carries the replay of the model it was hooked on.
    torch.manual_seed(0)
    model = scenarios.MODELS["transformer"]()
    model.eval()
    where = scenarios.SLIPS["transformer"]["dropout"](model, scenarios.SLIP_LAYER)
    with pytest.raises(tensordiff.Divergence) as info:
        with tensordiff.Recorder(reference=reference["transformer", True], replay=True), \
                tensordiff.hook_module(model, inputs=True), torch.autocast("cpu", dtype=torch.bfloat16):
            model(scenarios._inputs("transformer"))
    assert info.value.name == where and info.value.replay["named"] == where


def test_a_copy_of_an_error_is_reported_as_a_copy_not_a_second_jump(tmp_path):
    # Issue 22/23: the same differing data recorded again under another name (a cache returned
    # twice, msprobe's API output dumped again as the next API's input) carries `copy_of` and is
    # never a jump; with aliases=False the copy is stored whole and the engine finds it by
    # checksum all the same.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 64)).astype(np.float32)
    for aliases in (True, False):
        paths = []
        for run, scale in (("a", 1.0), ("b", 1.5)):
            paths.append(str(tmp_path / f"{run}_{aliases}.h5"))
            with tensordiff.Recorder(paths[-1], aliases=aliases):
                for i in range(3):
                    tensordiff.save(f"layers.{i}.norm", x * (1 + 1e-7 * i))
                tensordiff.save("layers.3.norm", x * scale)
                tensordiff.save("head.input.0", x * scale)
        report = tensordiff.compare(*paths)
        rows = {t["name"]: t for t in report["tensors"]}
        assert report["summary"]["jumps"] == ["layers.3.norm"]
        assert rows["head.input.0"]["copy_of"] == "layers.3.norm" and not rows["head.input.0"]["jump"]
        assert "copy_of" not in rows["layers.0.norm"]
