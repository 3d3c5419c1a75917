// engine/ordered_pool.hpp: merges in item order whatever the thread count, and never starts
// more workers than there are items (a one-chunk summary runs on the caller's thread: issue 22,
// summaries at memory speed on a loaded machine).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "engine/ordered_pool.hpp"

namespace tensordiff {
namespace {

TEST(OrderedPool, MergesInItemOrderOnEveryThreadCount) {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    std::vector<size_t> merged;
    std::vector<std::atomic<int>> computed(100);
    ordered_parallel_for(
        100, threads, 5, [&](size_t i, unsigned) { computed[i]++; },
        [&](size_t i) {
          merged.push_back(i);
          return true;
        });
    ASSERT_EQ(merged.size(), 100u) << threads;
    for (size_t i = 0; i < merged.size(); ++i) EXPECT_EQ(merged[i], i);
    for (auto& c : computed) EXPECT_EQ(c.load(), 1);
  }
}

TEST(OrderedPool, NoMoreWorkersThanItems) {
  const auto caller = std::this_thread::get_id();
  std::mutex m;
  std::set<std::thread::id> ids;
  std::set<unsigned> workers;
  ordered_parallel_for(
      1, 16, 64,
      [&](size_t, unsigned w) {
        std::lock_guard<std::mutex> lock(m);
        ids.insert(std::this_thread::get_id());
        workers.insert(w);
      },
      [](size_t) { return true; });
  EXPECT_EQ(ids, std::set<std::thread::id>{caller}) << "one item ran on a started thread";
  EXPECT_EQ(workers, std::set<unsigned>{0});
  // Three items, sixteen threads asked: workers 0..2 at most.
  workers.clear();
  ordered_parallel_for(
      3, 16, 64,
      [&](size_t, unsigned w) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // others would claim meanwhile
        std::lock_guard<std::mutex> lock(m);
        workers.insert(w);
      },
      [](size_t) { return true; });
  for (unsigned w : workers) EXPECT_LT(w, 3u);
}

TEST(OrderedPool, StopsClaimingWhenMergeSaysSo) {
  std::atomic<size_t> computed{0};
  size_t merged = 0;
  ordered_parallel_for(
      1000, 2, 4, [&](size_t, unsigned) { computed++; },
      [&](size_t i) {
        ++merged;
        return i < 9;
      });
  EXPECT_EQ(merged, 10u);
  EXPECT_LE(computed.load(), 10u + 4u);
}

}  // namespace
}  // namespace tensordiff
