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
  std::mt19937_64 rng(std::random_device{}());
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
      const std::string label = std::string(dtype_name(t)) + " n=" + std::to_string(n);
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
