// run_jobs (engine/runner.hpp): jobs made a batch at a time give what one batch gives, stop
// where a verdict stops them, and count progress over every batch.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "engine/backend.hpp"
#include "core/sums.hpp"
#include "engine/runner.hpp"
#include "io/memory_source.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

struct Outcome {
  std::vector<size_t> done;      // job numbers in the order on_done saw them
  std::vector<double> sums;      // each done job's element count and sum of |a - b| (its partial)
  std::vector<uint64_t> progress;
  uint64_t total = 0;
};

class RunJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 23; ++i) {
      data_a_.emplace_back(17 + i, float(i));
      data_b_.emplace_back(17 + i, float(i) + (i % 3 == 0 ? 1.0f : 0.0f));
    }
    std::vector<ArrayView> a, b;
    for (int i = 0; i < 23; ++i) {
      a.push_back({"t" + std::to_string(i), DType::kF32, {data_a_[i].size()}, data_a_[i].data(), ""});
      b.push_back({"t" + std::to_string(i), DType::kF32, {data_b_[i].size()}, data_b_[i].data(), ""});
    }
    src_a_ = memory_source(a, "a");
    src_b_ = memory_source(b, "b");
    backend_ = make_backend(Backend::kCpu, 0, "", nullptr, nullptr);
  }

  Job job(size_t j) const {
    Job job;
    job.a = src_a_.get();
    job.ia = j;
    job.b = src_b_.get();
    job.ib = j;
    job.count = src_a_->tensors()[j].count;
    return job;
  }

  Outcome run(size_t batch, size_t stop_at = ~size_t(0)) {
    Outcome r;
    RunPlan plan;
    plan.threads = 2;
    plan.chunk_bytes = 64;
    plan.progress = [&](uint64_t done, uint64_t total, const std::string&) {
      r.progress.push_back(done);
      r.total = total;
    };
    run_jobs(23, [&](size_t j) { return job(j); }, plan, *backend_,
             [&](size_t j, const Job& made, Partial& p, const std::string* error) {
               EXPECT_EQ(error, nullptr);
               EXPECT_EQ(made.ia, j);
               r.done.push_back(j);
               const TreeNode t = p.tree.total();
               r.sums.push_back(t.a.n);
               r.sums.push_back(t.d.abs);
               return j != stop_at;
             },
             batch);
    return r;
  }

  std::vector<std::vector<float>> data_a_, data_b_;
  std::unique_ptr<Source> src_a_, src_b_;
  std::unique_ptr<ComputeBackend> backend_;
};

TEST_F(RunJobs, BatchesGiveWhatOneRunGives) {
  const Outcome whole = run(1000);
  ASSERT_EQ(whole.done.size(), 23u);
  for (size_t batch : {1u, 4u, 22u, 23u}) {
    const Outcome r = run(batch);
    EXPECT_EQ(r.done, whole.done) << "batch " << batch;
    EXPECT_EQ(r.sums, whole.sums) << "batch " << batch;
    // Progress never goes back and ends at the total of every batch.
    uint64_t all = 0;
    for (int i = 0; i < 23; ++i) all += uint64_t(17 + i) * 8;
    EXPECT_EQ(r.total, all) << "batch " << batch;
    ASSERT_FALSE(r.progress.empty());
    EXPECT_EQ(r.progress.back(), all) << "batch " << batch;
    for (size_t i = 1; i < r.progress.size(); ++i) EXPECT_LE(r.progress[i - 1], r.progress[i]);
  }
}

TEST_F(RunJobs, AFalseVerdictStopsTheNextBatchesToo) {
  const Outcome r = run(4, 5);  // job 5 is in the second batch
  EXPECT_EQ(r.done, (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace tdtest
