// The first-jump statistics on synthetic error chains (issue 9): noise that grows smoothly is
// never a jump; a step far above everything before, or a systematic rescaling that random
// error of that size cannot explain, is.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/diagnosis.hpp"
#include "engine/precision.hpp"

namespace tensordiff {
namespace {

constexpr double kBf16 = 0x1p-8;

// A pair with relative L2 error `rel` over n elements; `scale` = l2(b)/l2(a), `shift` the
// mean shift in units of rms(a).
PairReport pair(const std::string& name, double rel, double scale = 1, double shift = 0,
                uint64_t n = 100000) {
  PairReport r;
  r.name = name;
  SideStats a, b;
  a.count = b.count = a.finite = b.finite = n;
  a.l2 = std::sqrt(double(n));  // rms 1
  b.l2 = *a.l2 * scale;
  a.mean = 0.1;
  b.mean = 0.1 + shift;
  r.a = a;
  r.b = b;
  DiffStats d;
  d.count = d.finite_pairs = n;
  d.rel_l2 = rel;
  r.diff = d;
  r.status = rel > 0 ? Status::kMismatch : Status::kMatch;  // over a tolerance unless exact
  return r;
}

Report chain(const std::vector<PairReport>& pairs) {
  Report rep;
  rep.tensors = pairs;
  return rep;
}

TEST(Diagnosis, SmoothGrowthIsNeverAJump) {
  // x1.5 per layer for 40 layers (a 10^7-fold growth in all), and x5 per step: growth is
  // measured against the largest error before, so neither is a jump.
  for (double factor : {1.05, 1.5, 5.0}) {
    std::vector<PairReport> ps;
    double rel = 3e-3;
    for (int i = 0; i < 40; ++i, rel *= factor) ps.push_back(pair("l" + std::to_string(i), rel));
    Report rep = chain(ps);
    diagnose(rep, kBf16);
    EXPECT_FALSE(rep.summary.first_jump.has_value()) << factor << " at " << rep.summary.first_jump.value_or("");
    EXPECT_NEAR(*rep.tensors[10].growth, factor, 1e-9);
  }
}

TEST(Diagnosis, NoiseAroundTheFloorIsNotAJump) {
  // Errors scattered between 0.1 and 1.5 unit roundoffs, as bf16 storage rounding gives.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.1, 1.5);
  std::normal_distribution<double> g(0, 1);
  std::vector<PairReport> ps;
  for (int i = 0; i < 200; ++i) {
    const double rel = u(rng) * kBf16;
    // Random error: |scale - 1| and the shift a few rel/sqrt(n) at most.
    ps.push_back(pair("t" + std::to_string(i), rel, 1 + 3 * g(rng) * rel / std::sqrt(1e5),
                      3 * g(rng) * rel / std::sqrt(1e5)));
  }
  Report rep = chain(ps);
  diagnose(rep, kBf16);
  EXPECT_FALSE(rep.summary.first_jump.has_value()) << *rep.summary.first_jump;
}

TEST(Diagnosis, AStepFarAboveEverythingBeforeIsTheJump) {
  Report rep = chain({pair("a", 3e-3), pair("b", 4e-3), pair("c", 3.5e-3), pair("d", 0.3),
                      pair("e", 0.35), pair("f", 10)});
  diagnose(rep, kBf16);
  ASSERT_TRUE(rep.summary.first_jump.has_value());
  EXPECT_EQ(*rep.summary.first_jump, "d");
  EXPECT_NEAR(*rep.tensors[3].growth, 0.3 / 4e-3, 1e-9);
  EXPECT_TRUE(rep.tensors[3].jump);
  EXPECT_FALSE(rep.tensors[4].jump);
  EXPECT_TRUE(rep.tensors[5].jump);  // a second jump later is marked too
  // The first pair is measured against the unit roundoff.
  Report first = chain({pair("x", 0.5)});
  diagnose(first, kBf16);
  EXPECT_EQ(first.summary.first_jump.value_or(""), "x");
  EXPECT_NEAR(*first.tensors[0].growth, 0.5 / kBf16, 1e-9);
}

TEST(Diagnosis, SystematicRescalingBeyondNoiseIsAJump) {
  // 5e-4 of rescaling with an error of 6e-4: most of the error is the scale, 70 standard
  // deviations beyond what random error over 10^5 elements gives (fp16 run).
  const double u16 = 0x1p-11;
  Report rep = chain({pair("a", 5e-4, 1 + 1e-6), pair("norm", 6e-4, 1 - 5e-4), pair("c", 7e-4)});
  diagnose(rep, u16);
  EXPECT_EQ(rep.summary.first_jump.value_or(""), "norm");
  EXPECT_NEAR(*rep.tensors[1].scale, 1 - 5e-4, 1e-12);
  // The same rescaling where it is a small part of a larger error is not called systematic.
  Report mixed = chain({pair("a", 5e-4), pair("norm", 3e-3, 1 - 5e-4)});
  diagnose(mixed, u16);
  EXPECT_FALSE(mixed.summary.first_jump.has_value());
  // Nor one no larger than what earlier pairs already carry.
  Report inherited = chain({pair("a", 6e-4, 1 - 4e-4), pair("norm", 6e-4, 1 - 5e-4)});
  diagnose(inherited, u16);
  EXPECT_EQ(inherited.summary.first_jump.value_or(""), "a");
  // A mean shift counts like a rescaling.
  Report shifted = chain({pair("a", 5e-4), pair("bias", 6e-4, 1, 5e-4)});
  diagnose(shifted, u16);
  EXPECT_EQ(shifted.summary.first_jump.value_or(""), "bias");
  EXPECT_NEAR(*shifted.tensors[1].shift, 5e-4, 1e-12);
}

TEST(Diagnosis, RecordedInputsGiveAModuleItsOwnAmplification) {
  // m's input already carries 0.2: m's own growth is 0.25/0.2, not 0.25 over the earlier 3e-3.
  Report rep = chain({pair("x", 3e-3), pair("m.input.0", 0.2), pair("m", 0.25), pair("n", 0.26)});
  diagnose(rep, kBf16);
  EXPECT_NEAR(*rep.tensors[2].growth, 0.25 / 0.2, 1e-9);
  EXPECT_FALSE(rep.tensors[2].jump);
  // The input's error is 67x every output before it: the code between x and m made it (issue
  // 22: a functional call no hook sees). The input is the jump, and names the gap.
  EXPECT_TRUE(rep.tensors[1].jump);
  EXPECT_EQ(rep.summary.first_jump.value_or(""), "m.input.0");
  EXPECT_EQ(rep.tensors[1].gap_after.value_or(""), "x");
  // An input that is a copy of an earlier output carries its error: no jump.
  Report copy = chain({pair("a", 0.2), pair("b.input.0", 0.2), pair("b", 0.21)});
  diagnose(copy, kBf16);
  EXPECT_EQ(copy.summary.first_jump.value_or(""), "a");
  EXPECT_FALSE(copy.tensors[1].jump);
  // Parent modules: p's input is clean, its submodule's input is not: p's own code before the
  // submodule made it; the gap is between p's input and p.sub's.
  Report parent = chain({pair("p.input.0", 3e-3), pair("p.sub.input.0", 0.2), pair("p.sub", 0.2),
                         pair("p", 0.2)});
  diagnose(parent, kBf16);
  EXPECT_EQ(parent.summary.first_jump.value_or(""), "p.sub.input.0");
  EXPECT_EQ(parent.tensors[1].gap_after.value_or(""), "p.input.0");
  EXPECT_FALSE(parent.tensors[3].jump);
  // The root (hook_module's "output"), whose children are not named after it: its output
  // carries the jump made inside it, and is not named again.
  Report root = chain({pair("output.input.0", 0), pair("h.0", 3e-3), pair("h.1.input.0", 0.2), pair("h.1", 0.2),
                       pair("output", 0.2)});
  diagnose(root, kBf16);
  EXPECT_EQ(root.summary.jumps, std::vector<std::string>{"h.1.input.0"});
  // An input within tolerance is no gap, however far its error is from the outputs' (a bf16
  // mask of finfo.min against fp32's: exactly bf16's step, a systematic rescale).
  Report mask = chain({pair("x", 1e-4), pair("m.input.mask", 4e-3, 0.99609), pair("m", 1e-4)});
  mask.tensors[1].status = Status::kMatch;
  diagnose(mask, kBf16);
  EXPECT_FALSE(mask.tensors[1].jump);
  EXPECT_FALSE(mask.summary.first_jump.has_value());
}

TEST(Diagnosis, OutputsOfAnyStructureLinkToTheirModulesInputs) {
  // Tuple outputs (X.0, X.1.0), keyword inputs (X.input.mask) and repeated calls (X#2):
  // every output of X is measured against X's own inputs, not against all earlier pairs.
  Report rep = chain({pair("x", 1e-3), pair("blk.input.0", 0.2), pair("blk.input.mask", 0), pair("blk.0", 0.22),
                      pair("blk.1.0", 0.21), pair("blk.input.0#2", 0.01), pair("blk.0#2", 0.3)});
  diagnose(rep, kBf16);
  EXPECT_NEAR(*rep.tensors[3].growth, 0.22 / 0.2, 1e-9);
  EXPECT_NEAR(*rep.tensors[4].growth, 0.21 / 0.2, 1e-9);
  // The second call's input is clean; its output is 30x it: the second call is the jump.
  EXPECT_NEAR(*rep.tensors[6].growth, 0.3 / 0.01, 1e-9);
  EXPECT_TRUE(rep.tensors[6].jump);
  EXPECT_FALSE(rep.tensors[3].jump);
  EXPECT_FALSE(rep.tensors[4].jump);
}

TEST(Precision, RunPrecisionAndItsTolerances) {
  EXPECT_EQ(least_precise({DType::kF32, DType::kBF16, DType::kF64}), Precision::kBf16);
  EXPECT_EQ(least_precise({DType::kF32, DType::kI64}), Precision::kFp32);
  EXPECT_EQ(least_precise({DType::kI64, DType::kBool}), Precision::kFp32);
  EXPECT_EQ(least_precise({DType::kF16, DType::kF8E5M2}), Precision::kFp8);
  EXPECT_EQ(unit_roundoff(Precision::kBf16), 0x1p-8);
  EXPECT_EQ(*precision_from_name("tf32"), Precision::kTf32);
  EXPECT_FALSE(precision_from_name("fp12").has_value());
  EXPECT_EQ(precision_tolerance(Precision::kBf16).rtol, 1.6e-2);
}

TEST(Diagnosis, AShiftFarAboveItsPeersIsAJumpEvenAmongNoisierTensors) {
  // The LayerNorm eps slip in a bf16 run: attention outputs rescale by ~4e-4 from
  // rounding, LayerNorm outputs keep their norm to 1e-8, and the slipped LayerNorm rescales
  // by 4.7e-4 — no more than the attention outputs before it, 4e4 times its peers.
  auto run = [](double slipped) {
    std::vector<PairReport> ps;
    for (int i = 0; i < 4; ++i) {
      const std::string l = "layers." + std::to_string(i) + ".";
      ps.push_back(pair(l + "self_attn", 4e-3, 1 + 4.3e-4));
      ps.push_back(pair(l + "norm1", 3e-3, 1 + (i == 2 ? slipped : 1e-8)));
    }
    Report rep = chain(ps);
    diagnose(rep, kBf16);
    return rep.summary.first_jump;
  };
  EXPECT_EQ(run(4.7e-4).value_or("none"), "layers.2.norm1");
  EXPECT_FALSE(run(2e-8).has_value()) << *run(2e-8);  // a peer at twice the others: not a jump
  // Without peers (the first of its kind) the rule says nothing.
  Report rep = chain({pair("a.self_attn", 4e-3, 1 + 4.3e-4), pair("a.norm1", 3e-3, 1 + 4.7e-4)});
  diagnose(rep, kBf16);
  EXPECT_FALSE(rep.summary.first_jump.has_value());
}

}  // namespace
}  // namespace tensordiff

namespace tensordiff {
namespace {

TEST(Diagnosis, PeersAreTheSameModuleInAnotherLayerNotANeighbour) {
  // Issue 22: ln_1 and ln_2 of one block are not peers (only all-digit path components are
  // layer numbers), and a record's class (hook_module's "file:line (LayerNorm)") keeps modules
  // of another kind apart. With digits stripped everywhere, h.0.ln_2's shift (3e-4) was
  // 30000x h.0.ln_1's and a peer jump; it has no peer before it, and h.1.ln_2 is under 2x it.
  auto with_class = [](PairReport p, const std::string& cls) {
    TensorInfo i;
    i.name = p.name;
    i.source = "model.py:7 (" + cls + ")";
    p.info_b = std::make_shared<const TensorInfo>(i);
    return p;
  };
  Report rep = chain({with_class(pair("h.0.ln_1", 1e-4, 1 + 1e-8), "LayerNorm"),
                      with_class(pair("h.0.ln_2", 2e-3, 1 + 3e-4), "LayerNorm"),
                      with_class(pair("h.1.ln_1", 1e-4, 1 + 1e-8), "LayerNorm"),
                      with_class(pair("h.1.ln_2", 2e-3, 1 + 5e-4), "LayerNorm")});
  diagnose(rep, kBf16);
  EXPECT_FALSE(rep.summary.first_jump.has_value()) << *rep.summary.first_jump;
  // The same names, but h.1.ln_1's record says another class: not h.0.ln_1's peer.
  Report other = chain({with_class(pair("h.0.ln_1", 1e-4, 1 + 1e-8), "LayerNorm"),
                        with_class(pair("h.1.ln_1", 2e-3, 1 + 5e-4), "RMSNorm")});
  diagnose(other, kBf16);
  EXPECT_FALSE(other.tensors[1].jump);
  Report same = chain({with_class(pair("h.0.ln_1", 1e-4, 1 + 1e-8), "LayerNorm"),
                       with_class(pair("h.1.ln_1", 2e-3, 1 + 5e-4), "LayerNorm")});
  diagnose(same, kBf16);
  EXPECT_TRUE(same.tensors[1].jump);
}

}  // namespace
}  // namespace tensordiff

namespace tensordiff {
namespace {

// Both sides' data: a dtype, a shape and the two checksums.
PairReport with_data(PairReport p, uint64_t checksum_a, uint64_t checksum_b) {
  TensorInfo i;
  i.name = p.name;
  i.dtype = DType::kF32;
  i.shape = {100000};
  p.info_a = p.info_b = std::make_shared<const TensorInfo>(i);
  p.a->checksum = checksum_a;
  p.b->checksum = checksum_b;
  return p;
}

TEST(Diagnosis, ACopyOfAnEarlierPairCarriesItsErrorAndIsNeverAJump) {
  // Issue 22/23: a tensor recorded twice (a module's input that is the previous module's
  // output; msprobe's API output dumped again as the next API's input) was a second jump by
  // the peer rule: dec.2.norm holds enc.2.norm's data on both sides, and its peers dec.0/1 are
  // quiet. Same data, same error: it is reported as a copy, and the jump stays at enc.2.norm.
  Report rep = chain({with_data(pair("enc.0.norm", 3e-3, 1 + 1e-8), 1, 2),
                      with_data(pair("enc.1.norm", 3e-3, 1 + 1e-8), 3, 4),
                      with_data(pair("dec.0.norm", 3e-3, 1 + 1e-8), 5, 6),
                      with_data(pair("dec.1.norm", 3e-3, 1 + 1e-8), 7, 8),
                      with_data(pair("enc.2.norm", 3e-3, 1 + 4.7e-4), 9, 10),
                      with_data(pair("dec.2.norm", 3e-3, 1 + 4.7e-4), 9, 10)});
  diagnose(rep, kBf16);
  EXPECT_EQ(rep.summary.first_jump.value_or(""), "enc.2.norm");
  EXPECT_EQ(rep.summary.jumps.size(), 1u);
  EXPECT_EQ(rep.tensors[5].copy_of.value_or(""), "enc.2.norm");
  EXPECT_FALSE(rep.tensors[5].jump);
  // One side alike is no copy: dec.2.norm's B differs from enc.2.norm's B.
  Report one_side = chain(rep.tensors);
  one_side.tensors[5] = with_data(pair("dec.2.norm", 3e-3, 1 + 4.7e-4), 9, 11);
  diagnose(one_side, kBf16);
  EXPECT_FALSE(one_side.tensors[5].copy_of.has_value());
  EXPECT_EQ(one_side.summary.jumps.size(), 2u);
  // Two equal sides (nothing differs) are never called copies: no error to carry.
  Report exact = chain({with_data(pair("z.0", 0), 5, 5), with_data(pair("z.1", 0), 5, 5)});
  diagnose(exact, kBf16);
  EXPECT_FALSE(exact.tensors[1].copy_of.has_value());
  // The same checksums with another shape (the same bytes viewed otherwise) or dtype are no
  // copy: the key holds both sides' layouts, checked on a hit.
  for (const bool other_dtype : {false, true}) {
    Report reshaped = chain(rep.tensors);
    PairReport p = with_data(pair("dec.2.norm", 3e-3, 1 + 4.7e-4), 9, 10);
    TensorInfo i = *p.info_b;
    if (other_dtype) i.dtype = DType::kI32;
    else i.shape = {1000, 100};
    p.info_b = std::make_shared<const TensorInfo>(i);
    reshaped.tensors[5] = p;
    diagnose(reshaped, kBf16);
    EXPECT_FALSE(reshaped.tensors[5].copy_of.has_value()) << other_dtype;
  }
}

TEST(Diagnosis, PeersThatMatchExactlyMeasureNothing) {
  // Issue 23: msprobe's call-numbered API names ("Torch.matmul.2") make every earlier matmul a
  // peer; in an fp32 pair they match exactly (systematic part 0), and every matmul after the
  // slip was a peer jump (any shift >= 1000 x 0). The slip itself is the growth jump.
  Report rep = chain({pair("Torch.matmul.0.forward.output.0", 0), pair("Torch.matmul.1.forward.output.0", 0),
                      pair("layer_norm.4.forward.output.0", 1e-3, 1 + 5e-4),
                      pair("Torch.matmul.2.forward.output.0", 1e-3, 1 + 5e-4)});
  diagnose(rep, 0x1p-24);
  EXPECT_EQ(rep.summary.first_jump.value_or(""), "layer_norm.4.forward.output.0");
  EXPECT_EQ(rep.summary.jumps.size(), 1u) << rep.summary.jumps.back();
}

}  // namespace
}  // namespace tensordiff

namespace tensordiff {
namespace {

TEST(Diagnosis, ARescaleBelowOneRoundoffThatEveryLayerShowsIsThePrecisionsOwn) {
  // Issue 22: BERT with its weights in bf16: torch's CPU LayerNorm rescales by 1.002-1.004 in
  // every layer, under one bf16 roundoff (3.9e-3). The first one, with no peer before it, met
  // the systematic rule: a false jump in a clean run. Its later peers show the same, so it is
  // the precision's; the same rescale in one layer alone (a slip) is still named.
  uint64_t data = 0;  // distinct checksums: no pair is a copy of another
  auto bf16_pair = [&](const std::string& name, double rel, double scale) {
    PairReport p = pair(name, rel, scale, 0, 2048);
    p.a->checksum = ++data;
    p.b->checksum = ++data;
    TensorInfo a, b;
    a.name = b.name = name;
    a.dtype = DType::kF32;
    b.dtype = DType::kBF16;
    p.info_a = std::make_shared<const TensorInfo>(a);
    p.info_b = std::make_shared<const TensorInfo>(b);
    return p;
  };
  auto run = [&](bool every_layer) {
    std::vector<PairReport> ps{bf16_pair("embeddings", 4.5e-3, 1.0002)};
    for (int i = 0; i < 4; ++i)
      ps.push_back(bf16_pair("encoder.layer." + std::to_string(i) + ".attention.output.LayerNorm", 6.1e-3,
                             every_layer || i == 0 ? 1.0038 - 4e-4 * (i % 2) : 1.0001));
    Report rep = chain(ps);
    diagnose(rep, kBf16);
    return rep.summary.first_jump.value_or("none");
  };
  EXPECT_EQ(run(true), "none");
  EXPECT_EQ(run(false), "encoder.layer.0.attention.output.LayerNorm");
}

}  // namespace
}  // namespace tensordiff

namespace tensordiff {
namespace {

TEST(Diagnosis, ABackwardInheritsWhatItsForwardSavedAndParametersAreInputs) {
  // Issue 23, msprobe dumps: a weight gradient multiplies the activation its forward saved, so
  // it carries that activation's rescaling; a module's parameters are what it consumes (a
  // step's weights carry the previous step's updates), never its own error.
  Report rep = chain({pair("f.0.forward.input.0", 1e-7), pair("f.0.forward.output.0", 4.8e-4, 1 - 4.6e-4),
                      pair("g.0.backward.input.0", 2e-4, 1 + 7e-5), pair("g.0.backward.output.0", 2.1e-4, 1 + 7e-5),
                      pair("f.0.backward.input.0", 2.2e-4, 1 + 7.5e-5),
                      pair("f.0.backward.output.0", 5.9e-4, 1 - 5.3e-4)});
  diagnose(rep, 0x1p-24);
  EXPECT_EQ(rep.summary.jumps, std::vector<std::string>{"f.0.forward.output.0"});
  // A block whose children's parameters changed (after an optimizer step): its output is
  // explained by them; the parameters are inputs, judged against earlier outputs.
  Report step = chain({pair("earlier_step.forward.output.0", 5e-4, 1 + 4e-4), pair("b.0.forward.input.0", 0),
                       pair("b.0.fc.forward.input.0", 0),
                       pair("b.0.fc.forward.parameters.weight", 2e-4, 1, 3e-4),
                       pair("b.0.fc.forward.output.0", 2.5e-4, 1 + 1e-5), pair("b.0.forward.output.0", 2.4e-4, 1 + 1e-5)});
  diagnose(step, 0x1p-24);
  EXPECT_EQ(step.summary.jumps, std::vector<std::string>{"earlier_step.forward.output.0"});
  // A weight that differs where nothing did before is the jump (a wrong checkpoint), and no gap.
  Report wrong = chain({pair("x.forward.output.0", 1e-7), pair("m.forward.parameters.weight", 0.3)});
  diagnose(wrong, 0x1p-24);
  EXPECT_EQ(wrong.summary.first_jump.value_or(""), "m.forward.parameters.weight");
  EXPECT_FALSE(wrong.tensors[1].gap_after.has_value());
}

// A summary pair (no data): its sides' statistics only.
PairReport summary_pair(const std::string& name, double l2_a, double l2_b, Status status) {
  PairReport r;
  r.name = name;
  SideStats a, b;
  a.count = b.count = 512;
  a.l2 = l2_a;
  b.l2 = l2_b;
  a.min = b.min = -1;
  r.a = a;
  r.b = b;
  r.summary_diff = SummaryDiff{};
  r.status = status;
  return r;
}

TEST(Diagnosis, SummariesNameADifferenceOnlyAfterEqualOnes) {
  // Issue 23, msprobe statistics dumps of a module-level run: the first pair whose statistics
  // differ beyond tolerance after every earlier pair's were equal is where the error appeared.
  Report rep = chain({summary_pair("a.forward.output.0", 3, 3, Status::kConsistent),
                      summary_pair("ln.forward.output.0", 22.7449, 22.7346, Status::kMismatch),
                      summary_pair("fc.forward.output.0", 10, 11, Status::kMismatch)});
  diagnose(rep, 0x1p-24);
  EXPECT_EQ(rep.summary.jumps, std::vector<std::string>{"ln.forward.output.0"});
  EXPECT_NEAR(*rep.tensors[1].scale, 22.7346 / 22.7449, 1e-12);
  // Once any pair's statistics differed (within tolerance: a bf16 run against fp32), a later
  // difference cannot be told from what it inherited: no jump.
  Report bf16 = chain({summary_pair("a.forward.output.0", 3, 3.001, Status::kConsistent),
                       summary_pair("ln.forward.output.0", 22.7, 22.9, Status::kMismatch)});
  diagnose(bf16, 0x1p-8);
  EXPECT_TRUE(bf16.summary.jumps.empty());
  EXPECT_FALSE(bf16.summary.first_jump.has_value());
}

TEST(Diagnosis, AModuleComputesAtItsChildrensPrecisionAndABf16PairAtItsOwn) {
  // msprobe 8.1.2's module dump of a bf16-autocast step against float32: a run that is mostly
  // float32 by elements (the run's roundoff 2^-24), a bf16 Linear inside a float32 block.
  auto bf16 = [](PairReport r) {
    auto info = std::make_shared<TensorInfo>();
    info->dtype = DType::kBF16;
    auto f32 = std::make_shared<TensorInfo>();
    f32->dtype = DType::kF32;
    r.info_a = f32;
    r.info_b = info;
    return r;
  };
  Report rep = chain({pair("blk.forward.0.input.0", 0), pair("blk.fc.forward.0.input.0", 0),
                      bf16(pair("blk.fc.forward.0.output.0", 3e-3)), pair("blk.forward.0.output.0", 1.2e-3),
                      pair("blk.forward.0.output.1", 1e-3)});
  diagnose(rep, 0x1p-24);
  // The Linear's error is bf16's rounding (growth under 1 against its own roundoff); the block
  // computed at its child's precision: its outputs' floor is bf16's too.
  EXPECT_TRUE(rep.summary.jumps.empty()) << rep.summary.jumps.front();
  EXPECT_NEAR(*rep.tensors[2].growth, 3e-3 / 0x1p-8, 1e-9);
  EXPECT_NEAR(*rep.tensors[3].growth, 1.2e-3 / 0x1p-8, 1e-9);
  EXPECT_NEAR(*rep.tensors[4].growth, 1e-3 / 0x1p-8, 1e-9);
  // Error far beyond that precision made inside is still a jump: the child that made it, and
  // the block that carries it out is not named again.
  Report own = chain({pair("blk.forward.0.input.0", 0), pair("blk.fc.forward.0.input.0", 0),
                      bf16(pair("blk.fc.forward.0.output.0", 5e-2)), pair("blk.forward.0.output.0", 5e-2)});
  diagnose(own, 0x1p-24);
  EXPECT_EQ(own.summary.jumps, std::vector<std::string>{"blk.fc.forward.0.output.0"});
}

TEST(Diagnosis, ACancelledSumIsNoJump) {
  // A key projection's bias gradient is 0 but for rounding (softmax ignores a shift): under one
  // roundoff of its sibling weight gradient's norm (no backward recorded: msprobe 8.1.2 on
  // torch 1.13), its relative error of 2.5e4 is that rounding, no jump. A bias gradient of the
  // weight's size with the same error is one.
  auto grad = [](const std::string& name, double l2, double rel) {
    PairReport r = pair(name, rel);
    r.a->l2 = r.b->l2 = l2;
    r.a->checksum = std::hash<std::string>()(name);  // no copy of another pair
    r.b->checksum = r.a->checksum + 1;
    auto a = std::make_shared<TensorInfo>(), b = std::make_shared<TensorInfo>();
    a->dtype = DType::kF32;
    b->dtype = DType::kBF16;
    r.info_a = a;
    r.info_b = b;
    return r;
  };
  Report rep = chain({pair("q.forward.0.output.0", 1e-2), grad("k.Linear.parameters_grad.weight", 1.4e-4, 1e-2),
                      grad("k.Linear.parameters_grad.bias", 3.8e-12, 2.5e4)});
  diagnose(rep, kBf16);
  EXPECT_TRUE(rep.summary.jumps.empty());
  Report real = chain({pair("q.forward.0.output.0", 1e-2), grad("k.Linear.parameters_grad.weight", 1.4e-4, 1e-2),
                       grad("k.Linear.parameters_grad.bias", 1e-4, 2.5e4)});
  diagnose(real, kBf16);
  EXPECT_EQ(real.summary.jumps, std::vector<std::string>{"k.Linear.parameters_grad.bias"});
}

TEST(Diagnosis, ABackwardsRescaleIsItsGradientsPlusWhatItsForwardSaved) {
  // A backward multiplies the gradient it receives by what its forward saved: their rescalings
  // add (a bf16-autocast Gemma RMSNorm's backward: 0.9944 from 0.9972 and 0.9972). Three times
  // the sum is still a jump.
  auto chain_with = [](double out_scale) {
    return chain({pair("n.forward.0.input.0", 2.8e-3, 1 - 2.8e-3), pair("n.forward.0.output.0", 2.9e-3, 1 - 2.8e-3),
                  pair("n.backward.0.input.0", 5e-3, 1 - 2.8e-3),
                  pair("n.backward.0.output.0", 1.1e-2, out_scale)});
  };
  // (The first record, rescaled with nothing before it, is a jump of its own here.)
  Report sum = chain_with(1 - 5.6e-3);
  diagnose(sum, kBf16);
  EXPECT_FALSE(sum.tensors[3].jump);
  Report three = chain_with(1 - 3 * 5.6e-3);
  three.tensors[3].diff->rel_l2 = 2.5e-2;
  diagnose(three, kBf16);
  EXPECT_TRUE(three.tensors[3].jump);
}

TEST(Diagnosis, AReplayedBackwardInheritsWhatItsInputsExplainAndPassesItUp) {
  // A norm's backward reweights the gradient's error row by row (a clean Gemma step: 0.998 ->
  // 0.9925): a systematic jump by the statistics, none where the replay of its recorded inputs
  // explains it; its decoder layer's input gradient, recorded after it, inherits it; an error
  // the replay does not explain is still a jump.
  auto step = [](std::optional<double> explained) {
    Report rep = chain({pair("M.l.0.ln.Norm.forward.0.input.0", 0), pair("M.l.0.ln.Norm.forward.0.output.0", 0),
                        pair("M.l.0.ln.Norm.backward.0.input.0", 9.8e-3, 0.998),
                        pair("M.l.0.ln.Norm.backward.0.output.0", 1.45e-2, 0.9925),
                        pair("M.l.0.Layer.backward.0.input.0", 1.0e-2, 0.998),
                        pair("M.l.0.Layer.backward.0.output.0", 1.44e-2, 0.9926)});
    rep.tensors[3].explained_rel = explained;
    rep.tensors[3].explained_sys = explained ? std::optional<double>(0.0075) : std::nullopt;
    diagnose(rep, kBf16);
    return rep;
  };
  const Report plain = step(std::nullopt);
  EXPECT_TRUE(plain.tensors[3].jump);
  const Report replayed = step(1.45e-2);
  EXPECT_FALSE(replayed.tensors[3].jump);
  EXPECT_FALSE(replayed.tensors[5].jump);
  EXPECT_FALSE(replayed.summary.first_jump);
  // The replay explains a tenth of it: the norm's backward made the rest.
  Report made = step(1.45e-3);
  made.tensors[3].explained_sys = 7.5e-4;
  made.tensors[3].jump = false;
  made.summary = {};
  diagnose(made, kBf16);
  EXPECT_TRUE(made.tensors[3].jump);
}

TEST(Diagnosis, ValuesUnderTheNormalRangeAreJudgedAgainstTheSubnormalStep) {
  // A float16 gradient of rms 1e-7 (a step without loss scaling) rounds to float16's subnormal
  // step 2^-24: a relative error of 0.17 from rounding alone, no jump, and a note says so. In
  // a float32 run the same error is a jump.
  auto run = [](const char* precision) {
    Report rep = chain({pair("m.backward.0.input.0", 0), pair("m.backward.0.output.0", 0.17)});
    for (auto& r : rep.tensors) {
      const uint64_t n = 4096;
      r.a->l2 = 1e-7 * std::sqrt(double(n));
      r.b->l2 = *r.a->l2;
      r.diff->finite_pairs = n;
    }
    rep.tensors[0].a->l2 = 1.0;  // the gradient it received: in the normal range
    rep.tensors[0].b->l2 = 1.0;
    rep.summary.precision = precision;
    diagnose(rep, std::string(precision) == "fp16" ? 0x1p-11 : 0x1p-24);
    return rep;
  };
  const Report half = run("fp16");
  EXPECT_FALSE(half.tensors[1].jump);
  ASSERT_EQ(half.notes.size(), 1u);
  EXPECT_NE(half.notes[0].find("1 pair lies mostly under the normal range"), std::string::npos) << half.notes[0];
  const Report single = run("fp32");
  EXPECT_TRUE(single.tensors[1].jump);
  EXPECT_TRUE(single.notes.empty());
}

TEST(Diagnosis, ALinearPassesItsInputsRescalingOnGiveOrTakeItsRounding) {
  // LLaMA's k_proj after a float16 eps slip: its output's systematic part 0.0678 from its
  // recorded input's 0.0673, 1000 times its quiet peers in the other layers. Under twice its
  // input's it is theirs; three times is a jump of its own.
  auto run = [](double out_sys) {
    std::vector<PairReport> ps;
    for (int i = 0; i < 3; ++i) {
      const std::string l = "layers." + std::to_string(i) + ".";
      const double in_sys = i == 2 ? 0.0673 : 0;
      ps.push_back(pair(l + "norm.forward.0.output.0", i == 2 ? 0.07 : 1e-3, 1 - in_sys));
      ps.push_back(pair(l + "k.Linear.forward.0.input.0", i == 2 ? 0.07 : 1e-3, 1 - in_sys));
      ps.push_back(pair(l + "k.Linear.forward.0.output.0", i == 2 ? 0.0715 : 1e-3, 1 - (i == 2 ? out_sys : 1e-6)));
    }
    Report rep = chain(ps);
    diagnose(rep, 0x1p-11);
    return rep.summary.jumps;
  };
  EXPECT_EQ(run(0.0678), std::vector<std::string>{"layers.2.norm.forward.0.output.0"});
  EXPECT_EQ(run(3 * 0.0673).size(), 2u);
}

}  // namespace
}  // namespace tensordiff
