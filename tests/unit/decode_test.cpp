#include "core/decode.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "io/byte_order.hpp"

namespace tensordiff {
namespace {

TEST(Decode, Float16KnownValues) {
  EXPECT_EQ(decode::f16_to_double(0x3c00), 1.0);
  EXPECT_EQ(decode::f16_to_double(0xc000), -2.0);
  EXPECT_EQ(decode::f16_to_double(0x7bff), 65504.0);
  EXPECT_EQ(decode::f16_to_double(0x0001), std::ldexp(1.0, -24));  // smallest subnormal
  EXPECT_EQ(decode::f16_to_double(0x0400), std::ldexp(1.0, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(decode::f16_to_double(0x7c00)));
  EXPECT_TRUE(std::isnan(decode::f16_to_double(0x7e00)));
  EXPECT_TRUE(std::signbit(decode::f16_to_double(0x8000)));
}

TEST(Decode, BFloat16KnownValues) {
  EXPECT_EQ(decode::bf16_to_double(0x3f80), 1.0);
  EXPECT_EQ(decode::bf16_to_double(0x4049), 3.140625);
  EXPECT_TRUE(std::isinf(decode::bf16_to_double(0xff80)));
  EXPECT_TRUE(std::isnan(decode::bf16_to_double(0x7fc1)));
}

TEST(Decode, Float8KnownValues) {
  EXPECT_EQ(decode::e4m3_to_double(0x38), 1.0);
  EXPECT_EQ(decode::e4m3_to_double(0x7e), 448.0);  // largest e4m3fn
  EXPECT_EQ(decode::e4m3_to_double(0x01), std::ldexp(1.0, -9));
  EXPECT_TRUE(std::isnan(decode::e4m3_to_double(0x7f)));
  EXPECT_TRUE(std::isnan(decode::e4m3_to_double(0xff)));
  EXPECT_EQ(decode::e5m2_to_double(0x3c), 1.0);
  EXPECT_EQ(decode::e5m2_to_double(0x7b), 57344.0);
  EXPECT_TRUE(std::isinf(decode::e5m2_to_double(0x7c)));
}

// Every decoder's NaN is the host's quiet NaN, 0x7ff8..., with the sign of the element where
// the format has one there: backends and reports see the same bits.
TEST(Decode, NaNBits) {
  EXPECT_EQ(bits_of(decode::f16_to_double(0x7e00)), kQuietNaN);
  EXPECT_EQ(bits_of(decode::f16_to_double(0xfc01)), kQuietNaN | uint64_t(1) << 63);
  EXPECT_EQ(bits_of(decode::e5m2_to_double(0x7d)), kQuietNaN);
  EXPECT_EQ(bits_of(decode::e4m3_to_double(0x7f)), kQuietNaN);
  EXPECT_EQ(bits_of(decode::e4m3_to_double(0xff)), kQuietNaN);  // S.1111.111: no sign applied
  EXPECT_EQ(bits_of(decode::decode_raw(DType::kF16, 0xfe00)), kQuietNaN | uint64_t(1) << 63);
}

TEST(Decode, TablesMatchScalarConverters) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const double a = decode::f16_table()[i], b = decode::f16_to_double(static_cast<uint16_t>(i));
    ASSERT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << i;
  }
}

TEST(Decode, ToDoubleAllInts) {
  const int16_t v[3] = {-32768, 0, 32767};
  double out[3];
  decode::to_double(DType::kI16, reinterpret_cast<const uint8_t*>(v), 3, out);
  EXPECT_EQ(out[0], -32768.0);
  EXPECT_EQ(out[2], 32767.0);
  const uint64_t big = (uint64_t(1) << 53) + 1;  // loses its low bit in float64 (documented)
  decode::to_double(DType::kU64, reinterpret_cast<const uint8_t*>(&big), 1, out);
  EXPECT_EQ(out[0], 9007199254740992.0);
}

TEST(ByteOrder, SwapsEveryWidth) {
  uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  swap_bytes_inplace(b, 2, 4);
  EXPECT_EQ(b[0], 4);
  EXPECT_EQ(b[3], 1);
  EXPECT_EQ(b[4], 8);
  swap_bytes_inplace(b, 1, 8);
  EXPECT_EQ(b[0], 5);
  swap_bytes_inplace(b, 4, 2);
  EXPECT_EQ(b[0], 6);
}

}  // namespace
}  // namespace tensordiff
