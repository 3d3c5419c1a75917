// The typed kernels' element rule (issue 24): leaf_kernel.cu runs exact_element with the dtypes
// and `pair` fixed at compile time for float32, bfloat16 and float16 pairs and sides; the
// emulator (kernels/device_chunk.cpp) runs it with them read from the rule. These must give the
// same fields, bit for bit, for every class of value: here, on the host, the same template
// instantiated both ways over every 16-bit pattern (bf16, f16) and over float32 patterns chosen
// by class (zeros, subnormals, normals, the largest finite, infinities, NaNs, and random bits).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/decode.hpp"
#include "core/leaf_core.hpp"

namespace tensordiff::leaf {
namespace {

PairRule rule_of(DType t, bool pair, double rtol, double atol, bool equal_nan) {
  PairRule r{};
  r.ta = r.tb = t;
  r.ea = r.eb = static_cast<int>(dtype_size(t));
  r.rtol = rtol;
  r.atol = atol;
  r.equal_nan = equal_nan;
  r.same = true;
  r.pair = pair;
  return r;
}

bool same_bits(const LaneExact& x, const LaneExact& y) {
  // Field by field: padding is not compared.
  return x.fin_a == y.fin_a && x.fin_b == y.fin_b && x.nz_a == y.nz_a && x.nz_b == y.nz_b &&
         x.nan_a == y.nan_a && x.nan_b == y.nan_b && x.pinf_a == y.pinf_a && x.pinf_b == y.pinf_b &&
         x.ninf_a == y.ninf_a && x.ninf_b == y.ninf_b && x.fp == y.fp && x.mis == y.mis && x.nanm == y.nanm &&
         x.infm == y.infm && x.bits == y.bits && bits_of(x.min_a) == bits_of(y.min_a) &&
         bits_of(x.max_a) == bits_of(y.max_a) && bits_of(x.min_b) == bits_of(y.min_b) &&
         bits_of(x.max_b) == bits_of(y.max_b) && x.ulp == y.ulp && x.cks_a == y.cks_a && x.cks_b == y.cks_b &&
         bits_of(x.abs_v) == bits_of(y.abs_v) && bits_of(x.rel_v) == bits_of(y.rel_v) && x.abs_i == y.abs_i &&
         x.rel_i == y.rel_i;
}

// Runs the pairs (ra[k], rb[k]) through both instantiations, element by element, and compares
// the accumulated fields after every element (an early difference is not hidden by a later max).
template <DType T, int PAIR>
void expect_typed_equals_runtime(const std::vector<uint64_t>& ra, const std::vector<uint64_t>& rb) {
  for (const bool equal_nan : {false, true})
    for (const double rtol : {0.0, 1.3e-6, 1e-2}) {
      const PairRule r = rule_of(T, PAIR == 1, rtol, rtol == 0 ? 0.0 : 1e-5, equal_nan);
      LaneExact typed, runtime;
      exact_init(typed);
      exact_init(runtime);
      for (size_t k = 0; k < ra.size(); ++k) {
        const double a = decode::decode_fixed<T>(ra[k]), b = PAIR ? decode::decode_fixed<T>(rb[k]) : 0.0;
        int bt[3], br[3];
        exact_element<int(T), int(T), PAIR>(typed, r, a, b, ra[k], PAIR ? rb[k] : 0, static_cast<uint32_t>(k), bt);
        exact_element(runtime, r, a, b, ra[k], PAIR ? rb[k] : 0, static_cast<uint32_t>(k), br);
        ASSERT_EQ(0, std::memcmp(bt, br, sizeof bt)) << dtype_name(T) << " element " << k;
        ASSERT_TRUE(same_bits(typed, runtime))
            << dtype_name(T) << " pair " << PAIR << " element " << k << ": raw " << std::hex << ra[k] << " "
            << rb[k];
      }
    }
}

// Every 16-bit pattern against a neighbour, its negation and a random pattern.
template <DType T>
void every_16_bit_pattern() {
  std::mt19937_64 rng(16);
  std::vector<uint64_t> ra, rb;
  for (uint32_t x = 0; x < 65536; ++x) {
    for (const uint32_t y : {x ^ 1u, x ^ 0x8000u, static_cast<uint32_t>(rng() & 0xffff), (x + 7) & 0xffff}) {
      ra.push_back(x);
      rb.push_back(y);
    }
  }
  expect_typed_equals_runtime<T, 1>(ra, rb);
  expect_typed_equals_runtime<T, 0>(ra, rb);
}

TEST(LeafTyped, BFloat16EveryPattern) { every_16_bit_pattern<DType::kBF16>(); }
TEST(LeafTyped, Float16EveryPattern) { every_16_bit_pattern<DType::kF16>(); }

TEST(LeafTyped, Float32EveryClass) {
  std::mt19937_64 rng(32);
  std::vector<uint32_t> special = {0u,          0x80000000u, 1u,          0x80000001u, 0x007fffffu, 0x00800000u,
                                   0x3f800000u, 0xbf800000u, 0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u,
                                   0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x3f800001u, 0x33800000u, 0x4b000000u};
  std::vector<uint64_t> ra, rb;
  for (uint32_t x : special)
    for (uint32_t y : special) {
      ra.push_back(x);
      rb.push_back(y);
    }
  for (int k = 0; k < 200000; ++k) {
    const uint32_t x = static_cast<uint32_t>(rng());
    // Neighbours (ULP 1..3), sign flips, far values and random bits.
    const uint32_t y = k % 4 == 0 ? x + 1 + (k & 3) : k % 4 == 1 ? x ^ 0x80000000u : static_cast<uint32_t>(rng());
    ra.push_back(x);
    rb.push_back(y);
  }
  expect_typed_equals_runtime<DType::kF32, 1>(ra, rb);
  expect_typed_equals_runtime<DType::kF32, 0>(ra, rb);
}

}  // namespace
}  // namespace tensordiff::leaf
