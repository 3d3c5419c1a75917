// The GPU's algorithm, emulated on the host (kernels/device_chunk.cpp), against the CPU backend:
// every dtype, mixed pairs, edge values, chunk sizes and thread counts. Exact fields must agree
// bit for bit (-0.0 is not 0.0, NaN payloads aside); float sums within docs/design.md §4's normwise
// bound: two summation orders of the same n terms differ by at most 2^-40 · Σ|terms| (the
// trees are at most ~300 additions deep, 300·2^-53 < 2^-44, with room for the leaf's scaling).
// Seeds are fixed and printed with every failure.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "core/leaf_core.hpp"
#include "core/decode.hpp"
#include "engine/backend.hpp"
#include "engine/runner.hpp"
#include "kernels/device_chunk.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

constexpr double kBound = 0x1p-40;

uint64_t bits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}
// Bitwise equality; every NaN equals every NaN (payloads are not part of the contract).
bool same_bits(double x, double y) { return (std::isnan(x) && std::isnan(y)) || bits(x) == bits(y); }

Partial run(ComputeBackend& be, const PairParams& p, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b,
            uint64_t n, uint64_t chunk, bool side) {
  Partial acc, part;
  const size_t ea = dtype_size(p.type_a), eb = dtype_size(p.type_b);
  for (uint64_t f = 0; f < n; f += chunk) {
    const uint64_t m = std::min(chunk, n - f);
    if (side) be.side_chunk(p.type_a, p.first_k, a.data() + f * ea, f, m, part);
    else be.pair_chunk(p, a.data() + f * ea, b.data() + f * eb, f, m, part);
    if (f == 0) acc = std::move(part);
    else merge_partial(acc, part, p.first_k, p.worst_k);
  }
  return acc;
}

void expect_side_bits(const SideExact& x, const SideExact& y, const std::string& what) {
  EXPECT_EQ(x.count, y.count) << what;
  EXPECT_EQ(x.finite, y.finite) << what;
  EXPECT_EQ(x.nonzero, y.nonzero) << what;
  EXPECT_EQ(x.nan, y.nan) << what;
  EXPECT_EQ(x.pos_inf, y.pos_inf) << what;
  EXPECT_EQ(x.neg_inf, y.neg_inf) << what;
  EXPECT_TRUE(same_bits(x.min, y.min)) << what << " min " << x.min << " vs " << y.min;
  EXPECT_TRUE(same_bits(x.max, y.max)) << what << " max " << x.max << " vs " << y.max;
  EXPECT_EQ(x.checksum_sum, y.checksum_sum) << what;
  EXPECT_EQ(x.mag_hist.counts, y.mag_hist.counts) << what;
  ASSERT_EQ(x.first_nonzero.size(), y.first_nonzero.size()) << what;
  for (size_t i = 0; i < x.first_nonzero.size(); ++i) {
    EXPECT_EQ(x.first_nonzero[i].flat_index, y.first_nonzero[i].flat_index) << what;
    EXPECT_TRUE(same_bits(x.first_nonzero[i].value, y.first_nonzero[i].value)) << what;
  }
}

void expect_at_bits(const ExtremeAt& x, const ExtremeAt& y, const std::string& what) {
  EXPECT_TRUE(same_bits(x.value, y.value)) << what << " " << x.value << " vs " << y.value;
  EXPECT_EQ(x.flat_index, y.flat_index) << what;
  EXPECT_TRUE(same_bits(x.a, y.a)) << what;
  EXPECT_TRUE(same_bits(x.b, y.b)) << what;
}

void expect_diff_bits(const DiffExact& x, const DiffExact& y, const std::string& what) {
  EXPECT_EQ(x.finite_pairs, y.finite_pairs) << what;
  EXPECT_EQ(x.mismatches, y.mismatches) << what;
  EXPECT_EQ(x.nan_mismatch, y.nan_mismatch) << what;
  EXPECT_EQ(x.inf_mismatch, y.inf_mismatch) << what;
  EXPECT_EQ(x.bits_differ, y.bits_differ) << what;
  EXPECT_EQ(x.max_ulp, y.max_ulp) << what;
  EXPECT_EQ(x.has_max, y.has_max) << what;
  if (x.has_max && y.has_max) {
    expect_at_bits(x.max_abs, y.max_abs, what + " max_abs");
    expect_at_bits(x.max_rel, y.max_rel, what + " max_rel");
  }
  EXPECT_EQ(x.err_hist.counts, y.err_hist.counts) << what;
  ASSERT_EQ(x.worst.size(), y.worst.size()) << what;
  for (size_t i = 0; i < x.worst.size(); ++i) expect_at_bits(x.worst[i], y.worst[i], what + " worst");
}

// Sums within the normwise bound, in x's units (values beyond 2^±500 live scaled).
double in_units(double y, int y_scale, int x_scale, int k) { return std::ldexp(y, k * (y_scale - x_scale)); }

void expect_side_sums(const SideSums& x, const SideSums& y, const std::string& what) {
  EXPECT_EQ(x.n, y.n) << what;
  const double sq = x.sumsq, rms = x.n ? std::sqrt(sq / x.n) : 0;
  const double my = in_units(y.mean, y.scale, x.scale, 1);
  EXPECT_LE(std::fabs(x.mean - my), kBound * rms) << what << " mean " << x.mean << " vs " << my;
  EXPECT_LE(std::fabs(x.sumsq - in_units(y.sumsq, y.scale, x.scale, 2)), kBound * sq) << what << " sumsq";
  const double vy = in_units(y.m2, y.scale, x.scale, 2);
  EXPECT_LE(std::fabs(x.m2 - vy), kBound * sq) << what << " m2 " << x.m2 << " vs " << vy;
}

void expect_diff_sums(const DiffSums& x, const DiffSums& y, const std::string& what) {
  auto u = [&](double v, int k) { return in_units(v, y.scale, x.scale, k); };
  EXPECT_LE(std::fabs(x.abs - u(y.abs, 1)), kBound * x.abs) << what << " abs";
  EXPECT_LE(std::fabs(x.d2 - u(y.d2, 2)), kBound * x.d2) << what << " d2";
  EXPECT_LE(std::fabs(x.a2 - u(y.a2, 2)), kBound * x.a2) << what << " a2";
  EXPECT_LE(std::fabs(x.b2 - u(y.b2, 2)), kBound * x.b2) << what << " b2";
  // Σ|a·b| ≥ |ab| and, by Cauchy-Schwarz, ≤ sqrt(a2·b2) — unless the squares underflowed in
  // the group's units while the products did not (tiny a next to a huge b): then |ab| itself.
  const double dot = std::max(std::sqrt(x.a2) * std::sqrt(x.b2), std::fabs(x.ab));
  EXPECT_LE(std::fabs(x.ab - u(y.ab, 2)), kBound * dot) << what << " ab " << x.ab << " vs " << y.ab;
}

void expect_parity(const Partial& emu, const Partial& cpu, bool side, const std::string& what) {
  expect_side_bits(emu.a, cpu.a, what + " a");
  const TreeNode te = emu.tree.total(), tc = cpu.tree.total();
  expect_side_sums(te.a, tc.a, what + " a");
  if (side) return;
  expect_side_bits(emu.b, cpu.b, what + " b");
  expect_diff_bits(emu.d, cpu.d, what + " d");
  expect_side_sums(te.b, tc.b, what + " b");
  expect_diff_sums(te.d, tc.d, what + " d");
}

const DType kAll[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3, DType::kF8E5M2,
                      DType::kI8,  DType::kI16, DType::kI32, DType::kI64,  DType::kU8,     DType::kU16,
                      DType::kU32, DType::kU64, DType::kBool};

// Values of every kind, stored as `t`: normal, tiny, huge, zeros of both signs, inf, NaN.
std::vector<uint8_t> values_as(DType t, const std::vector<double>& v) {
  std::vector<uint8_t> out(v.size() * dtype_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    uint8_t* p = out.data() + i * dtype_size(t);
    const double x = v[i];
    switch (t) {
      case DType::kF64: std::memcpy(p, &x, 8); break;
      case DType::kF32: { const float f = static_cast<float>(x); std::memcpy(p, &f, 4); break; }
      default: {  // integers and narrow floats: random bits are their own edge cases
        const uint64_t r = bits(x) * 0x9E3779B97F4A7C15ull;
        std::memcpy(p, &r, dtype_size(t));
        if (t == DType::kBool) *p &= 1;
      }
    }
  }
  return out;
}

std::vector<double> edge_values(std::mt19937_64& rng, uint64_t n) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = INFINITY;
  const double pool[] = {0.0, -0.0, 1e300, -1e300, 1e-310, -1e-310, 5e-324, inf, -inf, nan, 1.0, -1.0, 3e38, 1e-40};
  std::normal_distribution<double> g(0, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = (rng() % 8 == 0) ? pool[rng() % 14] : g(rng) * std::ldexp(1.0, static_cast<int>(rng() % 40) - 20);
  return v;
}

TEST(GpuEmulator, EveryDtypeChunkSizeAndEdgeCaseMatchesTheCpuBackend) {
  auto cpu = make_backend(Backend::kCpu, 0, "", nullptr);
  auto emu = gpu::make_emulator_backend();
  const uint64_t seed = 20261126;
  std::mt19937_64 rng(seed);
  for (DType t : kAll)
    for (uint64_t n : {1ull, 255ull, 257ull, 8191ull, 8193ull, 70001ull}) {
      const size_t es = dtype_size(t);
      std::vector<uint8_t> a(n * es);
      for (auto& x : a) x = static_cast<uint8_t>(rng());
      if (t == DType::kBool)
        for (auto& x : a) x &= 1;
      if (t == DType::kF64 || t == DType::kF32) a = values_as(t, edge_values(rng, n));
      std::vector<uint8_t> b = a;
      for (size_t i = 0; i < b.size(); i += 7 * es) b[i] ^= 1;
      for (size_t i = 3 * es; i < b.size(); i += 11 * es) b[i + es - 1] ^= 0x80;  // signs, -0.0
      for (uint64_t chunk : {256ull, 8192ull, 1ull << 16, 1ull << 20}) {
        PairParams p;
        p.type_a = p.type_b = t;
        p.tol = {1e-5, 1e-6};
        p.worst_k = 7;
        p.first_k = 6;
        const std::string what = std::string(dtype_name(t)) + " n=" + std::to_string(n) + " chunk=" +
                                 std::to_string(chunk) + " seed=" + std::to_string(seed);
        expect_parity(run(*emu, p, a, b, n, chunk, false), run(*cpu, p, a, b, n, chunk, false), false, what);
        expect_parity(run(*emu, p, a, b, n, chunk, true), run(*cpu, p, a, b, n, chunk, true), true, what + " stats");
        p.exact = true;
        expect_parity(run(*emu, p, a, b, n, chunk, false), run(*cpu, p, a, b, n, chunk, false), false, what + " exact");
        if (HasFailure()) return;
      }
    }
}

TEST(GpuEmulator, MixedDtypePairsMatchTheCpuBackend) {
  auto cpu = make_backend(Backend::kCpu, 0, "", nullptr);
  auto emu = gpu::make_emulator_backend();
  const uint64_t seed = 7;
  std::mt19937_64 rng(seed);
  const std::pair<DType, DType> pairs[] = {{DType::kF64, DType::kF32}, {DType::kF32, DType::kBF16},
                                           {DType::kF16, DType::kF64}, {DType::kU8, DType::kF32},
                                           {DType::kI64, DType::kF16}, {DType::kF8E4M3, DType::kF32},
                                           {DType::kF32, DType::kF8E5M2}, {DType::kBool, DType::kF64}};
  for (auto [ta, tb] : pairs)
    for (uint64_t n : {10ull, 300ull, 9000ull, 40000ull}) {
      const auto v = edge_values(rng, n);
      std::vector<double> w = v;
      for (auto& x : w) x = x * (1 + 1e-3 * static_cast<double>(rng() % 3));
      const auto a = values_as(ta, v), b = values_as(tb, w);
      for (uint64_t chunk : {512ull, 1ull << 14}) {
        PairParams p;
        p.type_a = ta;
        p.type_b = tb;
        p.tol = {1e-3, 1e-8};
        const std::string what = std::string(dtype_name(ta)) + "/" + dtype_name(tb) + " n=" + std::to_string(n) +
                                 " chunk=" + std::to_string(chunk) + " seed=" + std::to_string(seed);
        expect_parity(run(*emu, p, a, b, n, chunk, false), run(*cpu, p, a, b, n, chunk, false), false, what);
        if (HasFailure()) return;
      }
    }
}

// Signed zeros at the extremes: -0.0 orders below +0.0 whatever the lane or block order.
TEST(GpuEmulator, SignedZeroExtremesAreBitExact) {
  auto cpu = make_backend(Backend::kCpu, 0, "", nullptr);
  auto emu = gpu::make_emulator_backend();
  // Patterns 4-6 put -0.0 only where no lane sees it first (odd elements, the last one), so a
  // min that keeps the first zero it meets answers +0.0.
  for (int pattern = 0; pattern < 7; ++pattern) {
    std::vector<double> v(1000, 0.0);
    for (size_t i = 0; i < v.size(); ++i)
      if ((i * 7 + pattern) % 5 == 0) v[i] = -0.0;
    if (pattern == 3) v.assign(1000, -0.0);
    if (pattern == 4)
      for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2 ? -0.0 : 0.0;
    if (pattern == 5) v.back() = -0.0, std::fill(v.begin(), v.end() - 1, 0.0);
    if (pattern == 6)
      for (size_t i = 0; i < v.size(); ++i) v[i] = i % 256 == 255 ? -0.0 : 0.0;
    const auto a = values_as(DType::kF64, v);
    PairParams p;
    p.type_a = p.type_b = DType::kF64;
    const Partial e = run(*emu, p, a, a, v.size(), 256, false), c = run(*cpu, p, a, a, v.size(), 256, false);
    EXPECT_EQ(bits(e.a.min), bits(c.a.min)) << pattern;
    EXPECT_EQ(bits(e.a.max), bits(c.a.max)) << pattern;
    EXPECT_EQ(bits(e.a.min), bits(-0.0)) << pattern;
  }
}

// Whole reports through the engine: thread counts and chunk sizes change nothing.
TEST(GpuEmulator, WholeReportsAgreeAcrossThreadsAndChunks) {
  const uint64_t seed = 99;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  std::vector<std::vector<float>> xs, ys;
  for (int i = 0; i < 4; ++i) {
    std::vector<float> x(50000 + 7777 * i), y(x.size());
    for (size_t k = 0; k < x.size(); ++k)
      y[k] = static_cast<float>((x[k] = static_cast<float>(g(rng))) * (1 + (i > 1 ? 1e-3 : 1e-7) * g(rng)));
    xs.push_back(std::move(x));
    ys.push_back(std::move(y));
  }
  auto report = [&](Backend be, unsigned threads, double chunk_mib) {
    std::vector<ArrayView> va, vb;
    for (size_t i = 0; i < xs.size(); ++i) {
      va.push_back({"t" + std::to_string(i), DType::kF32, {xs[i].size()}, xs[i].data(), ""});
      vb.push_back({"t" + std::to_string(i), DType::kF32, {ys[i].size()}, ys[i].data(), ""});
    }
    CompareOptions o;
    o.engine.backend = be;
    o.engine.threads = threads;
    o.engine.chunk_bytes = static_cast<uint64_t>(chunk_mib * (1 << 20));
    auto j = nlohmann::json::parse(to_json(compare_arrays(va, vb, o)));
    j.erase("backend");
    j.erase("options");
    j["summary"].erase("seconds");
    j["summary"].erase("gb_per_s");
    return j;
  };
  const auto c = report(Backend::kCpu, 2, 2);
  const auto e1 = report(Backend::kGpuEmu, 1, 0.0625), e2 = report(Backend::kGpuEmu, 2, 1);
  EXPECT_EQ(e1, e2) << "the emulator's report depends on threads or chunks (seed " << seed << ")";
  ASSERT_EQ(c["tensors"].size(), e1["tensors"].size());
  for (size_t i = 0; i < c["tensors"].size(); ++i) {
    const auto& x = c["tensors"][i];
    const auto& y = e1["tensors"][i];
    EXPECT_EQ(x["status"], y["status"]);
    for (const char* side : {"a", "b"})
      for (const char* k : {"count", "nonzero", "nan", "min", "max", "first_nonzero", "mag_hist", "checksum"})
        EXPECT_EQ(x[side][k], y[side][k]) << i << " " << side << " " << k;
    for (const char* k : {"max_abs", "max_abs_at", "max_rel", "max_rel_at", "mismatches", "bits_differ", "max_ulp",
                          "err_hist"})
      EXPECT_EQ(x["diff"][k], y["diff"][k]) << i << " " << k;
  }
  EXPECT_EQ(c["summary"]["first_divergence"], e1["summary"]["first_divergence"]);
}

// The device's per-element decoding (decode_raw) and the CPU's bulk decoding (to_double: lookup
// tables and loops built from the same core/element.hpp decoders) agree for every value of
// every narrow type.
TEST(LeafCore, DecodingMatchesTheCpuForEveryNarrowValue) {
  for (DType t : {DType::kF16, DType::kBF16, DType::kF8E4M3, DType::kF8E5M2, DType::kI8, DType::kU8, DType::kI16,
                  DType::kU16, DType::kBool}) {
    const uint32_t count = dtype_size(t) == 1 ? 256 : 65536;
    for (uint32_t r = 0; r < count; ++r) {
      uint8_t raw[8] = {static_cast<uint8_t>(r), static_cast<uint8_t>(r >> 8)};  // 8: the switch sees every width
      double want = 0;
      decode::to_double(t, raw, 1, &want);
      const double got = decode::decode_raw(t, r);
      ASSERT_TRUE(same_bits(got, want) || (std::isnan(got) && std::isnan(want))) << dtype_name(t) << " " << r;
    }
  }
}

}  // namespace
}  // namespace tdtest

namespace tdtest {
namespace {

// The chunk size: the user's when given, else the backend's (2 MiB CPU, 32 MiB GPU), always
// within the memory budget; the JSON report records what ran.
struct BigChunks final : tensordiff::ComputeBackend {
  std::string name() const override { return "big"; }
  uint64_t preferred_chunk_bytes() const override { return 32ull << 20; }
  void pair_chunk(const tensordiff::PairParams&, const uint8_t*, const uint8_t*, uint64_t, uint64_t,
                  tensordiff::Partial&) override {}
  void side_chunk(tensordiff::DType, int, const uint8_t*, uint64_t, uint64_t, tensordiff::Partial&) override {}
};

TEST(RunPlan, TheBackendChoosesTheChunkWhenTheUserDoesNot) {
  using namespace tensordiff;
  EngineOptions o;
  o.threads = 2;
  BigChunks gpu;
  auto cpu = make_backend(Backend::kCpu, 0, "", nullptr);
  EXPECT_EQ(plan_run(o, *cpu).chunk_bytes, 2ull << 20);
  EXPECT_EQ(plan_run(o, gpu).chunk_bytes, 32ull << 20);
  o.chunk_bytes = 1 << 20;
  EXPECT_EQ(plan_run(o, gpu).chunk_bytes, 1ull << 20);
  o.chunk_bytes = 0;
  o.memory_bytes = 16ull << 20;  // 2 threads x 2 sides: 4 MiB each at most
  EXPECT_EQ(plan_run(o, gpu).chunk_bytes, 4ull << 20);
  std::vector<float> x(1000, 1.0f);
  std::vector<ArrayView> a{{"x", DType::kF32, {x.size()}, x.data(), ""}};
  CompareOptions c;
  auto j = nlohmann::json::parse(to_json(compare_arrays(a, a, c)));
  EXPECT_EQ(j["options"]["chunk_mib"], 2.0) << j["options"];
}

}  // namespace
}  // namespace tdtest
