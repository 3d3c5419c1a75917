#include "io/flat_range.hpp"

#include <gtest/gtest.h>

#include <random>

namespace tensordiff {
namespace {

// Expands boxes to flat indices in row-major order within each box.
std::vector<uint64_t> expand(const std::vector<uint64_t>& shape, const std::vector<Box>& boxes) {
  std::vector<uint64_t> out;
  const size_t r = shape.size();
  for (const auto& b : boxes) {
    std::vector<uint64_t> idx(r, 0);
    uint64_t total = 1;
    for (auto c : b.count) total *= c;
    for (uint64_t k = 0; k < total; ++k) {
      uint64_t rem = k, flat = 0;
      for (size_t d = r; d-- > 0;) {
        idx[d] = b.start[d] + rem % b.count[d];
        rem /= b.count[d];
      }
      for (size_t d = 0; d < r; ++d) flat = flat * shape[d] + idx[d];
      out.push_back(flat);
    }
  }
  return out;
}

TEST(FlatRange, EveryRangeOfSmallShapesIsCoveredInOrder) {
  const std::vector<std::vector<uint64_t>> shapes = {{10}, {3, 4}, {2, 3, 5}, {4, 1, 3, 2}, {1, 7}};
  for (const auto& shape : shapes) {
    uint64_t total = 1;
    for (auto d : shape) total *= d;
    for (uint64_t first = 0; first < total; ++first)
      for (uint64_t n = 1; first + n <= total; ++n) {
        const auto boxes = flat_range_boxes(shape, first, n);
        EXPECT_LE(boxes.size(), 2 * shape.size());
        const auto flat = expand(shape, boxes);
        ASSERT_EQ(flat.size(), n);
        for (uint64_t k = 0; k < n; ++k) ASSERT_EQ(flat[k], first + k);
      }
  }
}

TEST(FlatRange, LargeShapeFewBoxes) {
  std::mt19937_64 rng(7);
  const std::vector<uint64_t> shape = {64, 1000, 333};
  const uint64_t total = 64ull * 1000 * 333;
  for (int t = 0; t < 200; ++t) {
    const uint64_t first = rng() % total;
    const uint64_t n = 1 + rng() % (total - first);
    const auto boxes = flat_range_boxes(shape, first, n);
    EXPECT_LE(boxes.size(), 5u);
    uint64_t covered = 0;
    for (const auto& b : boxes) covered += b.count[0] * b.count[1] * b.count[2];
    EXPECT_EQ(covered, n);
  }
}

TEST(FlatRange, ScalarAndEmpty) {
  EXPECT_EQ(flat_range_boxes({}, 0, 1).size(), 1u);
  EXPECT_TRUE(flat_range_boxes({5}, 2, 0).empty());
}

}  // namespace
}  // namespace tensordiff
