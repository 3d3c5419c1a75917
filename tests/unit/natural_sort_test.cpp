#include "io/natural_sort.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace tensordiff {
namespace {

TEST(NaturalSort, NumbersCompareByValue) {
  EXPECT_TRUE(natural_less("layer2", "layer10"));
  EXPECT_FALSE(natural_less("layer10", "layer2"));
  EXPECT_TRUE(natural_less("encoder.layers.2.act", "encoder.layers.10"));
  EXPECT_TRUE(natural_less("a", "b"));
  EXPECT_TRUE(natural_less("x", "x1"));
  EXPECT_TRUE(natural_less("x01", "x2"));
  EXPECT_FALSE(natural_less("same", "same"));
}

TEST(NaturalSort, SortsAModelsLayers) {
  std::vector<std::string> v = {"layers.10.w", "layers.9.w", "layers.1.w", "embed", "layers.0.w"};
  std::sort(v.begin(), v.end(), natural_less);
  EXPECT_EQ(v, (std::vector<std::string>{"embed", "layers.0.w", "layers.1.w", "layers.9.w", "layers.10.w"}));
}

TEST(NaturalSort, IsAStrictWeakOrder) {
  const std::vector<std::string> v = {"a1", "a01", "a001", "a1b", "a", "a10", "b", "", "0", "00"};
  for (const auto& x : v) {
    EXPECT_FALSE(natural_less(x, x)) << x;
    for (const auto& y : v)
      if (natural_less(x, y)) {
        EXPECT_FALSE(natural_less(y, x)) << x << " " << y;
      }
  }
}

}  // namespace
}  // namespace tensordiff
