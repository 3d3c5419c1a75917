// Two dumps where the 7th of 20 tensors in creation order diverges and every later one
// inherits the error: the first divergence is the 7th by order, not by name.
#include <gtest/gtest.h>

#include <random>

#include "fixtures/h5_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

// Creation order: layer19, layer18, ..., layer0, so the 7th tensor (index 6) is layer13, while
// alphabetical or natural order would put layer0 (also diverging) first.
void write_model(const std::string& pa, const std::string& pb, bool stats_shapes = false) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> g(0, 1);
  H5Writer wa(pa, true), wb(pb, true);
  double drift = 0;
  for (int i = 0; i < 20; ++i) {
    std::vector<float> a(4096), b(4096);
    if (i == 6) drift = 1e-3;
    for (size_t k = 0; k < a.size(); ++k) {
      a[k] = static_cast<float>(g(rng));
      b[k] = static_cast<float>(a[k] + drift * g(rng));
    }
    drift *= 1.5;
    DatasetSpec s;
    s.shape = std::vector<uint64_t>{64, 64};
    if (stats_shapes && i == 3) s.shape = std::vector<uint64_t>{4096};
    const std::string name = "layer" + std::to_string(19 - i);
    wa.write(name, s, to_bytes(a));
    if (stats_shapes && i == 3) s.shape = std::vector<uint64_t>{64, 64};
    wb.write(name, s, to_bytes(b));
  }
}

TEST(EndToEnd, FirstDivergenceIsByExecutionOrder) {
  const std::string dir = temp_dir();
  write_model(dir + "/a.h5", dir + "/b.h5");
  CompareOptions o;
  const Report r = compare(dir + "/a.h5", dir + "/b.h5", o);
  ASSERT_TRUE(r.summary.first_divergence.has_value());
  EXPECT_EQ(*r.summary.first_divergence, "layer13");
  EXPECT_EQ(r.summary.compared, 20u);
  EXPECT_EQ(r.summary.matched, 6u);
  EXPECT_EQ(r.summary.mismatched, 14u);
  ASSERT_EQ(r.tensors.size(), 20u);
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(r.tensors[i].order, i);
    EXPECT_EQ(r.tensors[i].status, i < 6 ? Status::kMatch : Status::kMismatch) << i;
  }
  EXPECT_EQ(r.tensors[6].name, "layer13");
}

TEST(EndToEnd, StopAtFirstReadsNothingAfterIt) {
  const std::string dir = temp_dir();
  write_model(dir + "/a.h5", dir + "/b.h5");
  CompareOptions o;
  o.stop_at_first = true;
  o.engine.threads = 1;
  const Report r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(*r.summary.first_divergence, "layer13");
  EXPECT_EQ(r.tensors.size(), 7u);
  EXPECT_EQ(r.summary.skipped, 13u);
  EXPECT_EQ(r.summary.bytes, 7u * 2 * 4096 * 4);
}

TEST(EndToEnd, ShapeMismatchIsIncompatibleAndCanBeTheFirstDivergence) {
  const std::string dir = temp_dir();
  write_model(dir + "/a.h5", dir + "/b.h5", true);
  CompareOptions o;
  Report r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(r.tensors[3].status, Status::kIncompatible);
  EXPECT_EQ(r.tensors[3].reason, "shape (4096,) vs (64, 64)");
  EXPECT_EQ(*r.summary.first_divergence, "layer16");
  o.allow_reshape = true;
  r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(r.tensors[3].status, Status::kMatch);
  EXPECT_EQ(*r.summary.first_divergence, "layer13");
}

TEST(EndToEnd, FiltersMapsAndRules) {
  const std::string dir = temp_dir();
  write_model(dir + "/a.h5", dir + "/b.h5");
  CompareOptions o;
  o.include = {"layer1*"};
  o.exclude = {"layer13"};
  Report r = compare(dir + "/a.h5", dir + "/b.h5", o);
  for (const auto& t : r.tensors) EXPECT_EQ(t.name.rfind("layer1", 0), 0u) << t.name;
  EXPECT_EQ(r.summary.compared, 10u);  // layer1, layer10..19 minus layer13
  EXPECT_EQ(*r.summary.first_divergence, "layer12");

  // A loose rule for the diverging layers turns them into matches.
  o = CompareOptions{};
  o.tol_rules.push_back({"layer*", 1.0, 1.0});
  r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(r.summary.mismatched, 0u);
  // --min-cosine still catches them.
  o.min_cosine = 0.999999999;
  r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(*r.summary.first_divergence, "layer13");

  // --map renames B: with B's names shifted, nothing pairs up until mapped back, and a run
  // that compares nothing is an error, never a pass (issue 20).
  o = CompareOptions{};
  o.maps.push_back({"^layer(\\d+)$", "L$1"});
  try {
    compare(dir + "/a.h5", dir + "/b.h5", o);
    ADD_FAILURE() << "nothing compared, no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing compared: no tensor of"), std::string::npos) << e.what();
  }
  o.maps.push_back({"^L(\\d+)$", "layer$1"});
  r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(r.summary.compared, 20u);
}

TEST(EndToEnd, ExactMode) {
  const std::string dir = temp_dir();
  H5Writer wa(dir + "/a.h5"), wb(dir + "/b.h5");
  DatasetSpec s;
  s.shape = std::vector<uint64_t>{3};
  wa.write("z", s, to_bytes(std::vector<float>{0.0f, 1.0f, 2.0f}));
  wb.write("z", s, to_bytes(std::vector<float>{-0.0f, 1.0f, 2.0f}));
  wa.close();
  wb.close();
  CompareOptions o;
  EXPECT_EQ(compare(dir + "/a.h5", dir + "/b.h5", o).summary.mismatched, 0u);
  o.exact = true;
  const Report r = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(r.summary.mismatched, 1u);
  EXPECT_EQ(r.tensors[0].diff->bits_differ, 1u);
}

// keep_details false (the command line's -q with no JSON or HTML): the same verdicts, metrics
// and diagnosis; only the histograms, worst elements and first nonzeros are gone.
TEST(EndToEnd, WithoutDetailsTheVerdictsAndDiagnosisAreTheSame) {
  const std::string dir = temp_dir();
  write_model(dir + "/a.h5", dir + "/b.h5");
  CompareOptions o;
  const Report full = compare(dir + "/a.h5", dir + "/b.h5", o);
  o.engine.keep_details = false;
  const Report lean = compare(dir + "/a.h5", dir + "/b.h5", o);
  EXPECT_EQ(lean.summary.first_divergence, full.summary.first_divergence);
  EXPECT_EQ(lean.summary.first_jump, full.summary.first_jump);
  EXPECT_EQ(lean.summary.jumps, full.summary.jumps);
  EXPECT_EQ(lean.summary.mismatched, full.summary.mismatched);
  ASSERT_EQ(lean.tensors.size(), full.tensors.size());
  for (size_t i = 0; i < full.tensors.size(); ++i) {
    const PairReport &f = full.tensors[i], &l = lean.tensors[i];
    EXPECT_EQ(l.status, f.status) << i;
    EXPECT_EQ(l.reason, f.reason) << i;
    EXPECT_EQ(l.jump, f.jump) << i;
    EXPECT_EQ(l.growth, f.growth) << i;
    EXPECT_EQ(l.diff->rel_l2, f.diff->rel_l2) << i;
    EXPECT_EQ(l.diff->max_abs->value, f.diff->max_abs->value) << i;
    EXPECT_EQ(l.a->checksum, f.a->checksum) << i;
    EXPECT_FALSE(f.diff->err_hist.bins.empty());
    EXPECT_TRUE(l.diff->err_hist.bins.empty() && l.diff->worst.empty() && l.a->mag_hist.bins.empty() &&
                l.b->first_nonzero.empty());
  }
  EngineOptions e;
  e.keep_details = false;
  const StatsReport st = stats(dir + "/a.h5", e);
  ASSERT_EQ(st.tensors.size(), 20u);
  EXPECT_TRUE(st.tensors[0].stats->mag_hist.bins.empty());
  EXPECT_EQ(st.tensors[0].stats->checksum, full.tensors[0].a->checksum);
}

}  // namespace
}  // namespace tdtest
