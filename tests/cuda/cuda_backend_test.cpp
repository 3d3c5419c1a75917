// The CUDA backend against the CPU backend: each chunk reduction on fresh random data of every
// dtype and the edge cases, and whole reports (tests/parity). Skipped only where no usable GPU
// exists (GTEST_SKIP names the reason).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "cpu/reference.hpp"
#include "engine/backend.hpp"
#include "fixtures/h5_writer.hpp"
#include "kernels/cuda_backend.hpp"
#include "kernels/device_chunk.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

std::unique_ptr<ComputeBackend> cuda_or_skip(std::string& why) {
  try {
    return make_cuda_backend(0, nullptr);
  } catch (const Error& e) {
    why = e.what();
    return nullptr;
  }
}

RefResult run_backend(ComputeBackend& be, DType ta, const std::vector<uint8_t>& a, DType tb,
                      const std::vector<uint8_t>& b, uint64_t n, uint64_t chunk) {
  PairParams p;
  p.type_a = ta;
  p.type_b = tb;
  p.tol = {1e-5, 1e-6};
  Partial acc, part;
  const size_t ea = dtype_size(ta), eb = dtype_size(tb);
  for (uint64_t f = 0; f < n; f += chunk) {
    be.pair_chunk(p, a.data() + f * ea, b.data() + f * eb, f, std::min(chunk, n - f), part);
    if (f == 0) acc = part;
    else merge_partial(acc, part, p.first_k, p.worst_k);
  }
  const TreeNode t = acc.tree.total();
  return {finalize_side(acc.a, t.a, n * ea), finalize_side(acc.b, t.b, n * eb),
          finalize_diff(acc.d, t.d, n, ta == tb)};
}

TEST(CudaBackend, EveryDtypeMatchesTheCpuBackend) {
  std::string why;
  auto gpu = cuda_or_skip(why);
  if (!gpu) GTEST_SKIP() << why;
  auto cpu = make_backend(Backend::kCpu, 0, "", nullptr);
  const uint64_t seed = 54321;  // fixed, printed with every failure
  std::mt19937_64 rng(seed);
  for (DType t : {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3,
                  DType::kF8E5M2, DType::kI8, DType::kI16, DType::kI32, DType::kI64, DType::kU8,
                  DType::kU16, DType::kU32, DType::kU64, DType::kBool}) {
    for (uint64_t n : {1ull, 255ull, 257ull, 100003ull}) {
      const size_t es = dtype_size(t);
      std::vector<uint8_t> a(n * es), b;
      for (auto& x : a) x = static_cast<uint8_t>(rng());
      if (t == DType::kBool)
        for (auto& x : a) x &= 1;
      b = a;
      for (size_t i = 0; i < b.size(); i += 7 * es) b[i] ^= 1;  // low bits differ
      const auto want = run_backend(*cpu, t, a, t, b, n, 1 << 14);
      const auto got = run_backend(*gpu, t, a, t, b, n, 1 << 14);
      const std::string label = std::string(dtype_name(t)) + " n=" + std::to_string(n) + " seed=" + std::to_string(seed);
      expect_side_eq(got.a, want.a, 1e-12, (label + " a").c_str());
      expect_side_eq(got.b, want.b, 1e-12, (label + " b").c_str());
      expect_diff_eq(got.d, want.d, 1e-12, (label + " diff").c_str());
    }
  }
}

TEST(CudaBackend, MixedDtypesAndExtremeValues) {
  std::string why;
  auto gpu = cuda_or_skip(why);
  if (!gpu) GTEST_SKIP() << why;
  auto cpu = make_backend(Backend::kCpu, 0, "", nullptr);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> av = {1e300, -1e300, 1e-310, 0.0, -0.0, nan, INFINITY, 3.0, nan, 5.0};
  std::vector<float> bv = {1e30f, -1e30f, 0.0f, -0.0f, 0.0f, nan, INFINITY, 3.0f, 1.0f, -INFINITY};
  std::vector<uint8_t> a(8 * av.size()), b(4 * bv.size());
  std::memcpy(a.data(), av.data(), a.size());
  std::memcpy(b.data(), bv.data(), b.size());
  const auto want = run_backend(*cpu, DType::kF64, a, DType::kF32, b, av.size(), 256);
  const auto got = run_backend(*gpu, DType::kF64, a, DType::kF32, b, av.size(), 256);
  expect_side_eq(got.a, want.a, 1e-12, "a");
  expect_side_eq(got.b, want.b, 1e-12, "b");
  expect_diff_eq(got.d, want.d, 1e-12, "diff");
}

// On a GPU the device's nodes must equal the emulator's bit for bit (issue 13): every field of
// the chunk result and of every group, for every element-size pairing, one side and pairs,
// partial leaves and groups, chunks that start mid-tensor. Seed fixed and printed.
uint64_t dbits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}
void expect_node_bits(const TreeNode& x, const TreeNode& y, const std::string& what) {
  const double xs[] = {x.a.n, x.a.mean, x.a.m2, x.a.sumsq, x.b.n, x.b.mean, x.b.m2, x.b.sumsq,
                       x.d.abs, x.d.d2, x.d.a2, x.d.b2, x.d.ab};
  const double ys[] = {y.a.n, y.a.mean, y.a.m2, y.a.sumsq, y.b.n, y.b.mean, y.b.m2, y.b.sumsq,
                       y.d.abs, y.d.d2, y.d.a2, y.d.b2, y.d.ab};
  for (int i = 0; i < 13; ++i) EXPECT_EQ(dbits(xs[i]), dbits(ys[i])) << what << " field " << i << ": " << xs[i] << " vs " << ys[i];
  EXPECT_EQ(x.a.scale, y.a.scale) << what;
  EXPECT_EQ(x.b.scale, y.b.scale) << what;
  EXPECT_EQ(x.d.scale, y.d.scale) << what;
}

TEST(CudaEmulator, DeviceResultsEqualTheEmulatorBitForBit) {
  std::string why;
  auto gpu = cuda_or_skip(why);
  if (!gpu) GTEST_SKIP() << why;
  const uint64_t seed = 1313;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  const DType kinds[] = {DType::kF64, DType::kF32, DType::kBF16, DType::kF16, DType::kF8E4M3, DType::kU8,
                         DType::kI32, DType::kI64};
  for (DType ta : kinds)
    for (DType tb : kinds)
      for (bool pair : {true, false}) {
        if (!pair && ta != tb) continue;
        for (uint64_t n : {1ull, 255ull, 8193ull, 100003ull, (1ull << 20) + 77}) {
          const size_t ea = dtype_size(ta), eb = dtype_size(tb);
          std::vector<uint8_t> a(n * ea), b(n * eb);
          auto fill = [&](DType t, std::vector<uint8_t>& v) {
            const size_t es = dtype_size(t);
            for (uint64_t i = 0; i < n; ++i) {
              if (t == DType::kF64 || t == DType::kF32) {
                const double x = (rng() % 16 == 0) ? std::ldexp(g(rng), static_cast<int>(rng() % 2000) - 1000)
                                                    : g(rng) * std::ldexp(1.0, static_cast<int>(rng() % 20) - 10);
                if (t == DType::kF64) std::memcpy(&v[i * es], &x, 8);
                else { const float f = static_cast<float>(x); std::memcpy(&v[i * es], &f, 4); }
              } else {
                for (size_t k = 0; k < es; ++k) v[i * es + k] = static_cast<uint8_t>(rng());
              }
            }
          };
          fill(ta, a);
          fill(tb, b);
          PairParams p;
          p.type_a = ta;
          p.type_b = tb;
          const leaf::PairRule r = pair ? gpu::pair_rule(p) : gpu::side_rule(ta);
          for (uint64_t first : {0ull, 1ull << 20}) {
            const std::string what = std::string(dtype_name(ta)) + "/" + dtype_name(tb) + (pair ? " pair" : " side") +
                                     " n=" + std::to_string(n) + " first=" + std::to_string(first) +
                                     " seed=" + std::to_string(seed);
            auto want = std::make_unique<leaf::ChunkResult>(), got = std::make_unique<leaf::ChunkResult>();
            std::vector<leaf::GroupInfo> gw, gg;
            gpu::emulate_chunk(r, a.data(), pair ? b.data() : nullptr, first, n, *want, gw);
            cuda_device_result(*gpu, r, a.data(), pair ? b.data() : nullptr, first, n, *got, gg);
            const leaf::Exact& x = got->exact;
            const leaf::Exact& y = want->exact;
            const unsigned long long* cx = &x.fin_a;
            const unsigned long long* cy = &y.fin_a;
            for (int i = 0; i < 15; ++i) EXPECT_EQ(cx[i], cy[i]) << what << " count " << i;
            for (auto [u, v] : {std::pair{x.min_a, y.min_a}, {x.max_a, y.max_a}, {x.min_b, y.min_b},
                                {x.max_b, y.max_b}, {x.abs_v, y.abs_v}, {x.rel_v, y.rel_v}})
              EXPECT_EQ(dbits(u), dbits(v)) << what << " " << u << " vs " << v;
            EXPECT_EQ(x.ulp, y.ulp) << what;
            EXPECT_EQ(x.cks_a, y.cks_a) << what;
            EXPECT_EQ(x.cks_b, y.cks_b) << what;
            EXPECT_EQ(x.abs_i, y.abs_i) << what;
            EXPECT_EQ(x.rel_i, y.rel_i) << what;
            for (int i = 0; i < leaf::kHist; ++i) EXPECT_EQ(got->hist[i], want->hist[i]) << what << " hist " << i;
            ASSERT_EQ(got->stack_size, want->stack_size) << what;
            for (int i = 0; i < got->stack_size; ++i) {
              EXPECT_EQ(got->stack[i].level, want->stack[i].level) << what;
              expect_node_bits(got->stack[i].node, want->stack[i].node, what + " node " + std::to_string(i));
            }
            ASSERT_EQ(gg.size(), gw.size()) << what;
            for (size_t i = 0; i < gg.size(); ++i) {
              EXPECT_EQ(gg[i].nz_a, gw[i].nz_a) << what;
              EXPECT_EQ(gg[i].nz_b, gw[i].nz_b) << what;
              EXPECT_EQ(dbits(gg[i].max_ad), dbits(gw[i].max_ad)) << what;
            }
            if (HasFailure()) return;
          }
        }
      }
}

// tests/parity: the whole report from --backend cpu and --backend cuda on the same dumps.
TEST(CudaParity, WholeReportsAgree) {
  std::string why;
  if (!cuda_or_skip(why)) GTEST_SKIP() << why;
  const std::string dir = temp_dir();
  std::mt19937_64 rng(9);
  std::normal_distribution<double> g(0, 1);
  {
    H5Writer wa(dir + "/a.h5", true), wb(dir + "/b.h5", true);
    for (int i = 0; i < 6; ++i) {
      std::vector<float> x(300000 + 1000 * i), y(x.size());
      for (size_t k = 0; k < x.size(); ++k) y[k] = static_cast<float>((x[k] = static_cast<float>(g(rng))) * (1 + (i > 3 ? 1e-3 : 1e-7) * g(rng)));
      DatasetSpec s;
      s.shape = {x.size()};
      wa.write("t" + std::to_string(i), s, to_bytes(x));
      wb.write("t" + std::to_string(i), s, to_bytes(y));
    }
  }
  auto report = [&](Backend be) {
    CompareOptions o;
    o.engine.backend = be;
    auto j = nlohmann::json::parse(to_json(compare(dir + "/a.h5", dir + "/b.h5", o)));
    j.erase("backend");
    j.erase("options");
    j["summary"].erase("seconds");
    j["summary"].erase("gb_per_s");
    return j;
  };
  const auto c = report(Backend::kCpu), u = report(Backend::kCuda);
  // Exact fields bitwise; float sums within 1e-12 relative.
  ASSERT_EQ(c["tensors"].size(), u["tensors"].size());
  for (size_t i = 0; i < c["tensors"].size(); ++i) {
    const auto& x = c["tensors"][i];
    const auto& y = u["tensors"][i];
    EXPECT_EQ(x["status"], y["status"]);
    for (const char* side : {"a", "b"}) {
      for (const char* k : {"count", "nonzero", "nan", "min", "max", "first_nonzero", "mag_hist", "checksum"})
        EXPECT_EQ(x[side][k], y[side][k]) << i << " " << side << " " << k;
      for (const char* k : {"mean", "std", "l2"})
        EXPECT_NEAR(x[side][k].get<double>(), y[side][k].get<double>(),
                    1e-12 * std::max(1.0, std::fabs(x[side][k].get<double>())));
    }
    for (const char* k : {"max_abs", "max_abs_at", "max_rel", "max_rel_at", "mismatches",
                          "bits_differ", "max_ulp", "err_hist"})
      EXPECT_EQ(x["diff"][k], y["diff"][k]) << i << " " << k;
    for (const char* k : {"mean_abs", "rmse", "rel_l2", "cosine"})
      EXPECT_NEAR(x["diff"][k].get<double>(), y["diff"][k].get<double>(),
                  1e-12 * std::max(1e-300, std::fabs(x["diff"][k].get<double>())));
  }
  EXPECT_EQ(c["summary"], u["summary"]);
}

}  // namespace
}  // namespace tdtest
