// The canonical sum tree: merging chunk subtrees reproduces leaf-by-leaf pushing bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/partial.hpp"

namespace tensordiff {
namespace {

bool same_bits(double x, double y) { return std::memcmp(&x, &y, 8) == 0; }

TEST(SumTree, ChunkedMergeEqualsLeafByLeaf) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(-1e3, 1e3);
  for (int leaves : {1, 2, 3, 7, 64, 100, 1000}) {
    std::vector<TreeNode> nodes(leaves);
    for (auto& n : nodes) {
      n.a = {256, u(rng), std::fabs(u(rng)), std::fabs(u(rng))};
      n.d = {std::fabs(u(rng)), std::fabs(u(rng)), 1, 2, u(rng)};
    }
    SumTree whole;
    for (const auto& n : nodes) whole.push(0, n);
    const TreeNode want = whole.total();
    for (int chunk : {1, 2, 4, 8, 64, 1024}) {
      SumTree merged;
      for (int f = 0; f < leaves; f += chunk) {
        SumTree part;
        for (int k = f; k < std::min(leaves, f + chunk); ++k) part.push(0, nodes[k]);
        merged.append(part);
      }
      const TreeNode got = merged.total();
      EXPECT_TRUE(same_bits(got.a.mean, want.a.mean)) << leaves << " " << chunk;
      EXPECT_TRUE(same_bits(got.a.m2, want.a.m2)) << leaves << " " << chunk;
      EXPECT_TRUE(same_bits(got.d.ab, want.d.ab)) << leaves << " " << chunk;
      EXPECT_TRUE(same_bits(got.d.abs, want.d.abs)) << leaves << " " << chunk;
    }
  }
}

TEST(ExpHistogram, QuantileUpperBound) {
  ExpHistogram h;
  EXPECT_FALSE(h.quantile_upper_bound(0.5).has_value());
  h.counts[ExpHistogram::kZero] = 50;
  h.counts[ExpHistogram::kFirstExp + 40 - 10] = 49;  // [2^-10, 2^-9)
  h.counts[ExpHistogram::kOverflow] = 1;
  EXPECT_EQ(*h.quantile_upper_bound(0.5), 0.0);
  EXPECT_EQ(*h.quantile_upper_bound(0.99), std::ldexp(1.0, -9));
  EXPECT_TRUE(std::isinf(*h.quantile_upper_bound(1.0)));
}

TEST(Checksum, MixIsSplitmix64Finalizer) {
  // splitmix64's first output for seed 0 is mix(0 + φ).
  EXPECT_EQ(splitmix64_mix(kGolden), 0xE220A8397B1DCDAFull);
}

}  // namespace
}  // namespace tensordiff
