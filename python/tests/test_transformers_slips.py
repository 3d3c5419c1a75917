"""Issue 22: slips planted in real Hugging Face `transformers` model code (GPT-2, BERT, LLaMA;
random-initialised small configs, no downloads), captured with hook_module and diagnosed by the
engine (transformers_slips.py builds the runs; run it as a script for the whole table).

These tests assert what the tool achieves today, as a floor the diagnosis must not fall below:
- in fp32, every slip (module or functional) is named in the right module, outputs only and
  with inputs recorded, and clean runs have no jump;
- under bf16 autocast, the first jump never names another module than the slip's (a slip below
  the run's rounding may go unnamed), and clean runs have no jump.
- with the weights in bf16 too, neither (and BERT's bf16 LayerNorm rescaling, shared by every
  layer, is no jump): the LLaMA-style 4D attention mask (finfo(bfloat16).min
  against finfo(float32).min, a match) named as a gap first was fixed (gaps must be over
  tolerance).
Known gaps (the full table, docs in the harness): bf16 slips below the run's rounding unnamed
(GELU tanh/erf, eps, GPT-2's 1/sqrt(d)): module replay (issue 22 item 3) is what would see them.
"""
import pytest

import transformers_slips as ts

if ts.transformers is None:
    pytest.skip(f"transformers cannot be imported ({ts.IMPORT_ERROR}); scripts/python-venv.sh installs it",
                allow_module_level=True)

MODELS = ("gpt2", "bert", "llama")
FP32 = [(m, s, mode) for m in MODELS for s in ts.SLIPS[m] for mode in ts.MODES]
BF16 = [(m, s, mode) for m in MODELS for s in ts.SLIPS[m] for mode in ts.MODES]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    return ts.Harness(str(tmp_path_factory.mktemp("tf_slips")))


@pytest.mark.parametrize("model,slip,mode", FP32, ids=["-".join(c) for c in FP32])
def test_fp32_slip_named_in_its_module(harness, model, slip, mode):
    row = harness.run(model, "fp32", slip, mode, "trained")
    assert row.verdict == "right", row


@pytest.mark.parametrize("model,slip,mode", BF16, ids=["-".join(c) for c in BF16])
def test_bf16_autocast_never_blames_another_module(harness, model, slip, mode):
    row = harness.run(model, "bf16", slip, mode, "trained")
    assert row.verdict in ("right", "missed"), row


@pytest.mark.parametrize("model,slip,mode", BF16, ids=["-".join(c) for c in BF16])
def test_bf16_weights_never_blame_another_module(harness, model, slip, mode):
    row = harness.run(model, "bf16w", slip, mode, "trained")
    assert row.verdict in ("right", "missed"), row


@pytest.mark.parametrize("model,slip", [(m, s) for m in MODELS for s in ts.SLIPS[m]])
def test_replay_names_every_bf16_slip_even_below_the_runs_rounding(harness, model, slip):
    """Module replay (tensordiff.replay): run B's modules re-run on A's recorded inputs at A's
    precision see B's code alone, so GELU tanh/erf (2e-5) and eps slips under 5e-3 of bf16
    rounding are named in their module."""
    row = harness.run(model, "bf16", slip, "replay", "trained")
    assert row.verdict in ("right", "no-op"), row


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "bf16w"])
@pytest.mark.parametrize("mode", ts.MODES)
@pytest.mark.parametrize("model", MODELS)
def test_clean_run_has_no_jump(harness, model, mode, dtype):
    row = harness.run(model, dtype, None, mode, "trained")
    assert row.verdict == "none", row


def test_harness_places_slips_where_they_change_the_run(harness):
    """A dropped bias on fresh weights (biases 0) changes nothing; on trained-like ones it does."""
    assert harness.is_noop("gpt2", "dropped_bias", "fresh")
    assert not harness.is_noop("gpt2", "dropped_bias", "trained")
    assert not harness.is_noop("llama", "dropout_functional", "fresh")


@pytest.mark.parametrize("mode", ["outputs", "inputs"])
@pytest.mark.parametrize("seed", ts.CLEAN_SEEDS)
def test_bf16_layernorm_rounding_in_every_layer_is_no_jump(harness, seed, mode):
    """BERT with fresh weights cast to bf16: torch's CPU LayerNorm rescales by 1.002-1.004 in
    every layer (under one bf16 roundoff). Seed 2's first one met the systematic rule, with no
    peer before it; its later peers show the same, so it is the precision's, not a slip."""
    row = harness.run("bert", "bf16w", None, mode, "fresh", seed)
    assert row.verdict == "none", row


# With the weights themselves in bf16, what replay still misses (trained-like weights): the eps
# slips of BERT and LLaMA and GPT-2's missing 1/sqrt(d) are under the bf16 rounding of the
# weights, which run B's modules carry into the replay.
BF16W_REPLAY_MISSES = {("gpt2", "missing_scale"), ("bert", "norm_eps"), ("llama", "norm_eps")}


@pytest.mark.parametrize("model,slip", [(m, s) for m in MODELS for s in ts.SLIPS[m]])
def test_replay_with_bf16_weights_names_systematic_slips(harness, model, slip):
    """Rounding the weights to bf16 gives every module an own error of ~1e-3 (the floor), but a
    random one: an eps or a scaled query rescales the output, a systematic part far above its
    peers' (replay's second rule). Known misses never become another module's name."""
    row = harness.run(model, "bf16w", slip, "replay", "trained")
    if (model, slip) in BF16W_REPLAY_MISSES:
        assert row.verdict in ("right", "missed"), row
    else:
        assert row.verdict in ("right", "no-op"), row
