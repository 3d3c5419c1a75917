// Every metric of docs/design.md §4 from the engine's kernel against the scalar long-double
// reference, on fresh random data of every dtype and on the edge cases, once per SIMD target
// this machine runs (per_target.hpp). The random seed is printed; TD_SEED=N repeats a run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "cpu/chunk_kernel.hpp"
#include "cpu/per_target.hpp"
#include "cpu/reference.hpp"
#include "engine/tolerance.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

constexpr DType kAll[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3,
                          DType::kF8E5M2, DType::kI8, DType::kI16, DType::kI32, DType::kI64,
                          DType::kU8, DType::kU16, DType::kU32, DType::kU64, DType::kBool};

// Float sums: identical definition, different association; 1e-12 (scaled by the terms' magnitude)
// is the normwise bound of docs/design.md §4 Determinism.
constexpr double kRel = 1e-12;

std::mt19937_64& rng() {
  static std::mt19937_64 r;
  return r;
}

uint64_t base_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("TD_SEED");
    return env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  }();
  return seed;
}

// Every test draws from the same seed on every target, so targets see the same data.
class MetricsReference : public PerTarget {
 protected:
  void SetUp() override {
    PerTarget::SetUp();
    rng().seed(base_seed());
    std::printf("[   seed   ] TD_SEED=%llu\n", static_cast<unsigned long long>(base_seed()));
  }
};
TD_PER_TARGET(MetricsReference);

// Encodes v into dtype t (floats by their usual rounding; narrow floats by bit patterns).
void put(DType t, uint8_t* p, double v) {
  switch (t) {
    case DType::kF64: std::memcpy(p, &v, 8); break;
    case DType::kF32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
    case DType::kI8: { int8_t x = static_cast<int8_t>(v); std::memcpy(p, &x, 1); break; }
    case DType::kI16: { int16_t x = static_cast<int16_t>(v); std::memcpy(p, &x, 2); break; }
    case DType::kI32: { int32_t x = static_cast<int32_t>(v); std::memcpy(p, &x, 4); break; }
    case DType::kI64: { int64_t x = static_cast<int64_t>(v); std::memcpy(p, &x, 8); break; }
    case DType::kU8: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(p, &x, 1); break; }
    case DType::kU16: { uint16_t x = static_cast<uint16_t>(v); std::memcpy(p, &x, 2); break; }
    case DType::kU32: { uint32_t x = static_cast<uint32_t>(v); std::memcpy(p, &x, 4); break; }
    case DType::kU64: { uint64_t x = static_cast<uint64_t>(v); std::memcpy(p, &x, 8); break; }
    case DType::kBool: *p = v != 0; break;
    default: break;
  }
}

// A: realistic values; B: A with small perturbations in some elements and a few large ones.
// Narrow floats use random bit patterns, which cover NaN, inf, subnormals and ±0.
void make_pair(DType t, uint64_t n, std::vector<uint8_t>& a, std::vector<uint8_t>& b) {
  const size_t es = dtype_size(t);
  a.assign(n * es, 0);
  b.assign(n * es, 0);
  std::uniform_real_distribution<double> u(-1, 1);
  std::uniform_int_distribution<int> pick(0, 99);
  for (uint64_t i = 0; i < n; ++i) {
    uint8_t* pa = &a[i * es];
    uint8_t* pb = &b[i * es];
    if (t == DType::kF16 || t == DType::kBF16 || t == DType::kF8E4M3 || t == DType::kF8E5M2) {
      const uint64_t bits = rng()();
      std::memcpy(pa, &bits, es);
      std::memcpy(pb, pa, es);
      const int r = pick(rng());
      if (r < 30) pb[0] ^= 1;                       // one ulp-ish
      else if (r < 35) pb[0] ^= 0x5;                // a few ulps
      else if (r < 37) std::memcpy(pb, &bits, es), pb[es - 1] ^= 0x40;  // big exponent change
      continue;
    }
    double x;
    if (dtype_is_float(t)) x = u(rng()) * std::pow(2.0, pick(rng()) % 20 - 10);
    else if (t == DType::kBool) x = pick(rng()) < 50;
    else if (t == DType::kI8 || t == DType::kU8) x = pick(rng()) + (t == DType::kI8 ? -50 : 0);
    else x = std::floor(u(rng()) * 1e4) + (t == DType::kU16 || t == DType::kU32 || t == DType::kU64 ? 1e4 : 0);
    put(t, pa, x);
    const int r = pick(rng());
    double y = x;
    if (dtype_is_float(t)) {
      if (r < 40) y = x * (1 + 1e-7 * u(rng()));
      else if (r < 45) y = x + 1e-2 * u(rng());
    } else if (t == DType::kBool) {
      if (r < 5) y = x == 0;
    } else if (r < 5) {
      y = x + 1;
    }
    put(t, pb, y);
  }
}

void check(DType ta, const std::vector<uint8_t>& a, DType tb, const std::vector<uint8_t>& b,
           uint64_t n, bool equal_nan, const std::string& label, uint64_t chunk = 1 << 16) {
  const Tolerance tol = default_tolerance(ta, tb);
  const RefResult want = reference_pair(ta, a, tb, b, n, tol, equal_nan, 5);
  const RefResult got = engine_pair(ta, a, tb, b, n, tol, equal_nan, 5, chunk);
  expect_side_eq(got.a, want.a, kRel, (label + " a").c_str());
  expect_side_eq(got.b, want.b, kRel, (label + " b").c_str());
  expect_diff_eq(got.d, want.d, kRel, (label + " diff").c_str());
}

TEST_P(MetricsReference, RandomDataEveryDtype) {
  for (DType t : kAll) {
    for (uint64_t n : {1ull, 7ull, 255ull, 256ull, 257ull, 5000ull, 70001ull}) {
      std::vector<uint8_t> a, b;
      make_pair(t, n, a, b);
      check(t, a, t, b, n, true, std::string(dtype_name(t)) + " n=" + std::to_string(n));
      check(t, a, t, b, n, false, std::string(dtype_name(t)) + " no-equal-nan n=" + std::to_string(n));
    }
  }
}

std::vector<uint8_t> f64_bytes(const std::vector<double>& v) {
  std::vector<uint8_t> b(8 * v.size());
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The single-side path (`tensordiff stats`, summaries) on the same data, in chunks.
SideStats engine_side(DType t, const std::vector<uint8_t>& raw, uint64_t n, uint64_t chunk) {
  Partial acc, part;
  const size_t es = dtype_size(t);
  for (uint64_t f = 0; f < n || (n == 0 && f == 0); f += chunk) {
    const uint64_t m = std::min(chunk, n - f);
    cpu_side_chunk(t, 5, raw.data() + f * es, f, m, part);
    if (f == 0) acc = part;
    else merge_partial(acc, part, 5, 5);
    if (n == 0) break;
  }
  return finalize_side(acc.a, acc.tree.total().a, n * es);
}

TEST_P(MetricsReference, SidePathEveryDtype) {
  for (DType t : kAll)
    for (uint64_t n : {1ull, 7ull, 256ull, 257ull, 5000ull, 70001ull}) {
      std::vector<uint8_t> a, b;
      make_pair(t, n, a, b);
      const std::string label = std::string("side ") + dtype_name(t) + " n=" + std::to_string(n);
      expect_side_eq(engine_side(t, a, n, 4096), reference_side(t, a, n, 5), kRel, label.c_str());
    }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double sub = std::numeric_limits<double>::denorm_min();
  for (const auto& v : std::vector<std::vector<double>>{
           {0.0, -0.0, 1.0, 2.0}, {-0.0, -0.0, -0.0, 0.0}, {nan, 1.0, INFINITY, -INFINITY},
           {sub, -sub, 4 * sub, 1e-310}, {1e300, -1e300, 3e307, 1e-300}, {0.0, 0.0, 0.0, 0.0}})
    for (size_t len : {v.size(), size_t{8}, size_t{256}, size_t{515}}) {
      std::vector<double> x(len);
      for (size_t i = 0; i < len; ++i) x[i] = v[i % v.size()];
      expect_side_eq(engine_side(DType::kF64, f64_bytes(x), len, 256),
                     reference_side(DType::kF64, f64_bytes(x), len, 5), kRel,
                     ("side edge n=" + std::to_string(len)).c_str());
    }
}

TEST_P(MetricsReference, MixedDtypesCompareThroughFloat64) {
  // float32 reference vs bfloat16 / float16 candidates of the same values.
  const uint64_t n = 10000;
  std::vector<uint8_t> a(4 * n), b16(2 * n), h16(2 * n);
  std::uniform_real_distribution<double> u(-4, 4);
  for (uint64_t i = 0; i < n; ++i) {
    const float f = static_cast<float>(u(rng()));
    std::memcpy(&a[4 * i], &f, 4);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint16_t bf = static_cast<uint16_t>(bits >> 16);  // truncation: within bf16 tolerance
    std::memcpy(&b16[2 * i], &bf, 2);
    // float16 by round-trip through the decoder table: nearest representable below.
    const uint16_t h = static_cast<uint16_t>((i * 2654435761u) & 0x7bff);
    std::memcpy(&h16[2 * i], &h, 2);
  }
  check(DType::kF32, a, DType::kBF16, b16, n, true, "f32 vs bf16");
  check(DType::kF32, a, DType::kF16, h16, n, true, "f32 vs f16");
  check(DType::kBF16, b16, DType::kF32, a, n, true, "bf16 vs f32");
  std::vector<uint8_t> i64(8 * n);
  for (uint64_t i = 0; i < n; ++i) put(DType::kI64, &i64[8 * i], std::floor(u(rng())));
  check(DType::kF32, a, DType::kI64, i64, n, true, "f32 vs i64");
}


TEST_P(MetricsReference, EdgeCases) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = INFINITY;
  const double sub = std::numeric_limits<double>::denorm_min();
  struct Case {
    const char* name;
    std::vector<double> a, b;
  } cases[] = {
      {"nan one side", {1, nan, 3, 4}, {1, 2, nan, 4}},
      {"nan both sides", {nan, nan, 1}, {nan, nan, 1}},
      {"inf", {inf, -inf, inf, 1, -inf}, {inf, -inf, -inf, inf, 2}},
      {"signed zeros", {0.0, -0.0, 0.0, -0.0}, {-0.0, 0.0, 0.0, -0.0}},
      // min/max whose extreme is a zero of either sign, in every position (the lane order of
      // hn::Min differs between targets; -0.0 < +0.0 is the contract).
      {"zero extremes", {0.0, 1.0, -0.0, 2.0}, {-1.0, -0.0, 0.0, -2.0}},
      {"only +0 and -0", {0.0, 0.0, 0.0, -0.0, 0.0}, {-0.0, -0.0, -0.0, 0.0, -0.0}},
      {"relu-like", {0.0, 3.0, 0.0, 0.5, 0.0, 2.0, 0.0}, {0.0, 3.0, 0.0, 0.5, 0.0, 2.0, -0.0}},
      {"all zero", {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}},
      {"one zero side", {0, 0, 0}, {1, 2, 3}},
      {"one element", {2.5}, {2.5000001}},
      {"argmax ties", {1, 2, 3, 4, 5, 6}, {2, 3, 4, 5, 6, 7}},
      {"rel ties at inf", {0, 1, 0, 1}, {1, 1, 2, 1}},
      {"large", {1e150, -1e150, 1e-150}, {1.0000001e150, -1e150, 2e-150}},
      // Squares of these overflow / underflow float64: the engine scales them (TreeNode).
      {"huge", {1e300, -1e300, 1e-300, 3e307}, {1.0000001e300, -1e300, 2e-300, -3e307}},
      {"tiny", {1e-300, -2e-300, 5e-310, 0.0}, {1.5e-300, -2e-300, 4e-310, 1e-320}},
      {"subnormal f64", {sub, -sub, 4 * sub, 1e-310}, {2 * sub, -sub, 0.0, 1e-310}},
      {"everything non-finite", {nan, inf}, {nan, -inf}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // As written, then repeated to lengths that fill whole vectors of every width (8, 64) and
    // whole blocks (256, 512 + a ragged tail): each kernel path (fast all-finite blocks, masked
    // tails) meets every case, whatever this target's lane count.
    for (size_t len : {c.a.size(), size_t{8}, size_t{64}, size_t{256}, size_t{515}}) {
      std::vector<double> a(len), b(len);
      for (size_t i = 0; i < len; ++i) a[i] = c.a[i % c.a.size()], b[i] = c.b[i % c.b.size()];
      const std::string label = std::string(c.name) + " n=" + std::to_string(len);
      check(DType::kF64, f64_bytes(a), DType::kF64, f64_bytes(b), len, true, label);
      check(DType::kF64, f64_bytes(a), DType::kF64, f64_bytes(b), len, false, label);
      // The same values as float32 (huge ones become inf, tiny ones 0 or subnormal) and as a
      // float32 reference against a float64 candidate: the decode paths meet every case too.
      std::vector<uint8_t> fa(4 * len), fb(4 * len);
      for (size_t i = 0; i < len; ++i) {
        const float x = static_cast<float>(a[i]), y = static_cast<float>(b[i]);
        std::memcpy(&fa[4 * i], &x, 4);
        std::memcpy(&fb[4 * i], &y, 4);
      }
      check(DType::kF32, fa, DType::kF32, fb, len, true, label + " f32");
      check(DType::kF32, fa, DType::kF32, fb, len, false, label + " f32");
      check(DType::kF32, fa, DType::kF64, f64_bytes(b), len, true, label + " f32 vs f64");
    }
  }
  // Subnormal inputs (float32 subnormals decode to normal float64 values).
  const float fsub = std::numeric_limits<float>::denorm_min();
  std::vector<float> sa = {fsub, -fsub, 4 * fsub, 1e-40f, 0.0f}, sb = {2 * fsub, -fsub, 0.0f, 1e-40f, fsub};
  std::vector<uint8_t> ba(4 * sa.size()), bb(4 * sb.size());
  std::memcpy(ba.data(), sa.data(), ba.size());
  std::memcpy(bb.data(), sb.data(), bb.size());
  check(DType::kF32, ba, DType::kF32, bb, sa.size(), true, "f32 subnormals");
  // Ties for the argmax across chunk boundaries: smallest index wins whatever the chunking.
  std::vector<double> a(5000, 1.0), b(5000, 1.0);
  for (size_t i : {300u, 1300u, 4999u}) b[i] = 3.0;
  for (uint64_t chunk : {256ull, 512ull, 4096ull})
    check(DType::kF64, f64_bytes(a), DType::kF64, f64_bytes(b), a.size(), true, "cross-chunk ties", chunk);
}

// Blocks of very different magnitudes in one tensor, and enough huge values that even the
// sum of the block sums would overflow without renormalisation.
TEST_P(MetricsReference, ExtremeMagnitudesAcrossBlocks) {
  std::uniform_real_distribution<double> u(-1, 1);
  const size_t n = 40000;
  std::vector<double> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    const double scale = (i / 256) % 3 == 0 ? 1e305 : (i / 256) % 3 == 1 ? 1e-305 : 1.0;
    a[i] = u(rng()) * scale;
    b[i] = a[i] * (1 + 1e-9 * u(rng()));
  }
  for (uint64_t chunk : {256ull, 4096ull, 1ull << 16})
    check(DType::kF64, f64_bytes(a), DType::kF64, f64_bytes(b), n, true, "mixed magnitudes", chunk);
  // A block of zeros must not impose its scale on the tiny block after it (their squares
  // would vanish), and F's sums keep their own scale beside a huge value whose partner is inf.
  std::vector<double> za(1024, 0.0), zb(1024, 0.0);
  for (size_t i = 512; i < 768; ++i) za[i] = 1e-300 * (1 + i % 7), zb[i] = za[i] * (1 + 1e-3);
  for (size_t i = 768; i < 1024; ++i) za[i] = (i % 2 ? 3e-310 : 2e-300), zb[i] = (i % 2 ? 1e-310 : 2e-300);
  za[900] = 3e307;
  zb[900] = INFINITY;
  for (uint64_t chunk : {256ull, 1024ull})
    check(DType::kF64, f64_bytes(za), DType::kF64, f64_bytes(zb), za.size(), true, "zeros then tiny", chunk);
  std::vector<double> big(20000, 1e300);
  check(DType::kF64, f64_bytes(big), DType::kF64, f64_bytes(big), big.size(), true, "sum of 1e600s");
  // The single-side path of `tensordiff stats` scales its squares the same way.
  const auto bytes = f64_bytes(a);
  Partial acc, part;
  for (uint64_t f = 0; f < n; f += 4096) {
    cpu_side_chunk(DType::kF64, 5, bytes.data() + 8 * f, f, std::min<uint64_t>(4096, n - f), part);
    if (f == 0) acc = part;
    else merge_partial(acc, part, 5, 5);
  }
  const TreeNode t = acc.tree.total();
  expect_side_eq(finalize_side(acc.a, t.a, 8 * n), reference_side(DType::kF64, bytes, n, 5),
                 kRel, "stats path, mixed magnitudes");
}

TEST_P(MetricsReference, ZeroElements) {
  const std::vector<uint8_t> none;
  const RefResult got = engine_pair(DType::kF32, none, DType::kF32, none, 0, {1e-6, 1e-6}, true, 5, 256);
  EXPECT_EQ(got.d.count, 0u);
  EXPECT_EQ(got.d.mismatches, 0u);
  EXPECT_FALSE(got.d.max_abs.has_value());
  EXPECT_FALSE(got.a.mean.has_value());
  EXPECT_EQ(got.d.cosine, 1.0);
  EXPECT_EQ(got.d.rel_l2, 0.0);
  const RefResult want = reference_pair(DType::kF32, none, DType::kF32, none, 0, {1e-6, 1e-6}, true, 5);
  EXPECT_EQ(got.a.checksum, want.a.checksum);
}

TEST_P(MetricsReference, StdHasNoCancellation) {
  // Large mean, tiny spread: sum-of-squares formulas lose every digit here.
  const uint64_t n = 100000;
  std::vector<double> a(n);
  std::uniform_real_distribution<double> u(-1e-3, 1e-3);
  for (auto& x : a) x = 1e8 + u(rng());
  const auto bytes = f64_bytes(a);
  const SideStats want = reference_side(DType::kF64, bytes, n, 5);
  const RefResult got = engine_pair(DType::kF64, bytes, DType::kF64, bytes, n, {0, 0}, true, 5, 4096);
  ASSERT_TRUE(got.a.std.has_value());
  // The block means themselves are doubles quantised at ulp(1e8) = 1.5e-8 against a spread of
  // 5.8e-4, which bounds the attainable accuracy near 1e-7; E[x²] − E[x]² would be all noise.
  EXPECT_NEAR(*got.a.std, *want.std, 1e-6 * *want.std);
}

}  // namespace
}  // namespace tdtest
