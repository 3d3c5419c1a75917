// core/ulp.hpp and core/bins.hpp against the independent definitions of docs/design.md §4 in
// tests/cpu/reference.cpp: the ULP distance as the difference of monotone 128-bit keys, the
// bin by frexp. (The decoders are decode_test.cpp's; the CPU kernel's vector versions are
// tests/cpu/narrow_values_test.cpp's.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/bins.hpp"
#include "core/ulp.hpp"
#include "cpu/reference.hpp"

namespace tensordiff {
namespace {

// tests/cpu/reference.cpp's, on raw bits zero-extended to 64 (read at the element's width).
uint64_t ref_ulp(DType t, uint64_t x, uint64_t y) {
  return tdtest::ref_ulp(t, reinterpret_cast<const uint8_t*>(&x), reinterpret_cast<const uint8_t*>(&y));
}

TEST(Ulp, EveryPairOfEightBitValues) {
  for (DType t : {DType::kF8E4M3, DType::kF8E5M2, DType::kI8, DType::kU8, DType::kBool})
    for (uint64_t x = 0; x < 256; ++x)
      for (uint64_t y = 0; y < 256; ++y) {
        const uint64_t want = ref_ulp(t, x, y);
        ASSERT_EQ(ulp_distance(t, x, y, 1), want) << dtype_name(t) << " " << x << " " << y;
        const uint32_t typed = ulp_order(t) == UlpOrder::kSigned
                                   ? ulp_distance<int8_t, false>(int8_t(x), int8_t(y))
                                   : ulp_order(t) == UlpOrder::kSignMagnitude
                                         ? ulp_distance<uint8_t, true>(uint8_t(x), uint8_t(y))
                                         : ulp_distance<uint8_t, false>(uint8_t(x), uint8_t(y));
        ASSERT_EQ(typed, want) << dtype_name(t) << " " << x << " " << y;
      }
}

// The wider types at the edges: zeros of both signs, the smallest and largest magnitudes.
TEST(Ulp, WideTypesAtTheirEdges) {
  for (DType t : {DType::kF16, DType::kF32, DType::kF64, DType::kI16, DType::kI32, DType::kI64, DType::kU16,
                  DType::kU32, DType::kU64}) {
    const int es = static_cast<int>(dtype_size(t));
    const uint64_t sign = uint64_t(1) << (8 * es - 1), all = sign | (sign - 1);
    const std::vector<uint64_t> edges = {0, 1, 2, sign - 2, sign - 1, sign, sign | 1, sign | 2, all - 1, all};
    for (uint64_t x : edges)
      for (uint64_t y : edges) ASSERT_EQ(ulp_distance(t, x, y, es), ref_ulp(t, x, y)) << dtype_name(t) << " " << x << " " << y;
  }
  EXPECT_EQ((ulp_distance<uint32_t, true>(0x80000000u, 0u)), 0u);  // -0 and +0
  EXPECT_EQ((ulp_distance<uint32_t, true>(0xff7fffffu, 0x7f7fffffu)), 0xfefffffeu);  // -max to max: 2 · 0x7f7fffff
  EXPECT_EQ((ulp_distance<int32_t, false>(INT32_MIN, INT32_MAX)), 0xffffffffu);
  EXPECT_EQ((ulp_distance<int64_t, false>(INT64_MIN, INT64_MAX)), ~uint64_t(0));
}

TEST(Bins, EveryFloat64ExponentAsFrexpSays) {
  for (uint64_t biased = 0; biased < 2047; ++biased)
    for (uint64_t man : {uint64_t(0), uint64_t(1), (uint64_t(1) << 52) - 1})
      for (uint64_t sign : {uint64_t(0), uint64_t(1) << 63}) {
        const double v = as_double(sign | biased << 52 | man);
        ASSERT_EQ(magnitude_bin(v), tdtest::ref_bin(v)) << v;
      }
  static_assert(exp_bin(1023) == ExpHistogram::kFirstExp - ExpHistogram::kMinExp, "1.0 is 2^0's bin");
}

}  // namespace
}  // namespace tensordiff
