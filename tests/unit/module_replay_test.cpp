// Module replay (issue 23): the settings inferred from one side's recorded call on synthetic
// calls. A normalisation's eps is found in float32 and bfloat16 outputs, whatever its weight
// and bias; a gain error (a precision's rescaling) is not taken for an eps; rows of one variance
// decide nothing; a dropout's p and a GELU's formula are told apart, a wrong form fits nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/module_replay.hpp"

namespace tensordiff {
namespace {

double to_bf16(double v) {
  float f = static_cast<float>(v);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Call {
  std::vector<double> x, y, w, b;
};

// rows x n inputs with per-row scales from 0.5 to 2 (so variances spread), a LayerNorm (or
// RMSNorm) with eps, trained-like weight and bias, the output scaled by `gain` and rounded to
// float32 or bfloat16.
Call norm_call(double eps, bool centered, bool bf16, double gain = 1, size_t rows = 64, size_t n = 64,
               bool row_scales = true, unsigned seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Call c;
  for (size_t j = 0; j < n; ++j) {
    c.w.push_back(1 + 0.1 * g(rng));
    c.b.push_back(centered ? 0.05 * g(rng) : 0.0);
  }
  if (!centered) c.b.clear();
  for (size_t i = 0; i < rows; ++i) {
    const double s = row_scales ? 0.5 + 1.5 * static_cast<double>(i) / static_cast<double>(rows) : 1.0;
    std::vector<double> x(n);
    double mean = 0, var = 0;
    for (auto& v : x) v = static_cast<float>(s * g(rng) + 0.3), mean += v;
    mean = centered ? mean / static_cast<double>(n) : 0.0;
    for (double v : x) var += (v - mean) * (v - mean);
    var /= static_cast<double>(n);
    for (size_t j = 0; j < n; ++j) {
      double y = (x[j] - mean) / std::sqrt(var + eps) * c.w[j] * gain + (c.b.empty() ? 0.0 : c.b[j]);
      y = bf16 ? to_bf16(y) : static_cast<double>(static_cast<float>(y));
      c.x.push_back(x[j]);
      c.y.push_back(y);
    }
  }
  return c;
}

TEST(ModuleReplay, LayerNormEpsInFloat32) {
  for (double eps : {1e-5, 1e-3, 1e-12}) {
    const Call c = norm_call(eps, true, false);
    const NormFit f = fit_norm(c.x, c.y, c.w, c.b, 64, true);
    ASSERT_TRUE(f.ok) << eps;
    EXPECT_NEAR(f.eps, eps, 8 * f.se + 1e-7) << eps;
    EXPECT_LT(f.se, 1e-6);
  }
}

TEST(ModuleReplay, EpsSlipTellsApartInBfloat16) {
  const Call ca = norm_call(1e-5, true, true, 1, 512, 256);
  const NormFit a = fit_norm(ca.x, ca.y, ca.w, ca.b, 256, true);
  const Call cb = norm_call(1e-3, true, true, 1, 512, 256);
  const NormFit b = fit_norm(cb.x, cb.y, cb.w, cb.b, 256, true);
  ASSERT_TRUE(a.ok && b.ok);
  EXPECT_GT(std::fabs(b.eps - a.eps), 8 * std::hypot(a.se, b.se));
  EXPECT_NEAR(b.eps, 1e-3, 8 * b.se);
}

TEST(ModuleReplay, RmsNormFitsTheUncenteredForm) {
  const Call c = norm_call(1e-6, false, false);
  const NormFit rms = fit_norm(c.x, c.y, c.w, {}, 64, false);
  ASSERT_TRUE(rms.ok);
  EXPECT_NEAR(rms.eps, 1e-6, 8 * rms.se + 1e-7);
  // The centered form does not fit an RMSNorm of inputs with a mean (0.3 here).
  const NormFit ln = fit_norm(c.x, c.y, c.w, {}, 64, true);
  EXPECT_FALSE(ln.ok && ln.residual < rms.residual);
}

TEST(ModuleReplay, AGainErrorIsNotAnEps) {
  // torch's CPU LayerNorm on bf16 weights rescales its output by 1.002-1.004: the fitted gain
  // takes it, the eps stays the module's.
  const Call c = norm_call(1e-5, true, false, 1.003);
  const NormFit f = fit_norm(c.x, c.y, c.w, c.b, 64, true);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.eps, 1e-5, 8 * f.se + 1e-6);
}

TEST(ModuleReplay, RowsOfOneVarianceDecideNothing) {
  const Call c = norm_call(1e-5, true, false, 1, 64, 64, /*row_scales=*/false);
  // Random rows still differ in variance a little; identical rows do not.
  Call same = c;
  for (size_t i = 1; i < 64; ++i)
    for (size_t j = 0; j < 64; ++j) same.x[i * 64 + j] = c.x[j], same.y[i * 64 + j] = c.y[j];
  EXPECT_FALSE(fit_norm(same.x, same.y, same.w, same.b, 64, true).ok);
}

TEST(ModuleReplay, AnotherFunctionIsNoNorm) {
  Call c = norm_call(1e-5, true, false);
  for (auto& v : c.y) v = std::tanh(v);
  EXPECT_FALSE(fit_norm(c.x, c.y, c.w, c.b, 64, true).ok);
  EXPECT_FALSE(fit_norm(c.x, c.y, c.w, c.b, 64, false).ok);
  EXPECT_FALSE(fit_norm(c.x, c.y, c.w, c.b, 63, true).ok);  // the wrong row length
}

TEST(ModuleReplay, EpsWithoutRecordedParameters) {
  // A dumper that records no parameters: the trained-like weight and bias are fitted.
  for (bool bf16 : {false, true}) {
    const Call ca = norm_call(1e-5, true, bf16, 1, 512, 256), cb = norm_call(1e-3, true, bf16, 1, 512, 256, true, 2);
    const NormFit a = fit_norm_unknown_affine(ca.x, ca.y, 256, true);
    const NormFit b = fit_norm_unknown_affine(cb.x, cb.y, 256, true);
    ASSERT_TRUE(a.ok && b.ok) << bf16;
    EXPECT_NEAR(a.eps, 1e-5, 8 * a.se + 1e-7) << bf16;
    EXPECT_NEAR(b.eps, 1e-3, 8 * b.se + 1e-7) << bf16;
    EXPECT_GT(std::fabs(b.eps - a.eps), 8 * std::hypot(a.se, b.se)) << bf16;
  }
  const Call r = norm_call(1e-6, false, false, 1, 256, 64);
  const NormFit rms = fit_norm_unknown_affine(r.x, r.y, 64, false);
  ASSERT_TRUE(rms.ok);
  EXPECT_NEAR(rms.eps, 1e-6, 8 * rms.se + 1e-7);
}

TEST(ModuleReplay, ANormScalingByOnePlusItsWeight) {
  // Gemma's RMSNorm scales by 1 + weight: the recorded weight does not fit the output, the
  // fitted one does.
  Call c = norm_call(1e-6, false, false, 1, 256, 64);
  for (auto& v : c.w) v -= 1;  // as recorded: the output was made with 1 + w
  EXPECT_FALSE(fit_norm(c.x, c.y, c.w, {}, 64, false).ok);
  const NormFit f = fit_norm_unknown_affine(c.x, c.y, 64, false);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.eps, 1e-6, 8 * f.se + 1e-7);
}

// A norm's forward in float64 (row by row), for the backward's finite differences.
std::vector<double> norm_forward(const std::vector<double>& x, const std::vector<double>& w,
                                 const std::vector<double>& b, size_t n, double eps, bool centered) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size() / n; ++i) {
    double mean = 0, var = 0;
    for (size_t j = 0; j < n; ++j) mean += centered ? x[i * n + j] / static_cast<double>(n) : 0.0;
    for (size_t j = 0; j < n; ++j) var += (x[i * n + j] - mean) * (x[i * n + j] - mean) / static_cast<double>(n);
    for (size_t j = 0; j < n; ++j)
      y[i * n + j] = (x[i * n + j] - mean) / std::sqrt(var + eps) * w[j] + (b.empty() ? 0.0 : b[j]);
  }
  return y;
}

TEST(ModuleReplay, NormBackwardIsTheForwardsDerivative) {
  // The replayed backward equals d(sum g·y)/dx by central differences, for LayerNorm and
  // RMSNorm forms, with the gain fitted from the recorded (float32-rounded) output.
  for (const bool centered : {true, false}) {
    const size_t n = 32, rows = 48;
    const double eps = 1e-3;
    Call c = norm_call(eps, centered, false, 1, rows, n);
    std::mt19937_64 rng(7);
    std::normal_distribution<double> nd;
    std::vector<double> g(c.x.size());
    for (auto& v : g) v = nd(rng);
    const std::vector<double> dx = replay_norm_backward(c.x, c.y, g, n, eps, centered);
    ASSERT_EQ(dx.size(), c.x.size());
    double err = 0, norm = 0;
    for (size_t k = 0; k < c.x.size(); k += 7) {
      std::vector<double> xp = c.x, xm = c.x;
      const double h = 1e-6;
      xp[k] += h;
      xm[k] -= h;
      const auto yp = norm_forward(xp, c.w, c.b, n, eps, centered), ym = norm_forward(xm, c.w, c.b, n, eps, centered);
      double fd = 0;
      for (size_t m = (k / n) * n; m < (k / n + 1) * n; ++m) fd += g[m] * (yp[m] - ym[m]) / (2 * h);
      err += (dx[k] - fd) * (dx[k] - fd);
      norm += fd * fd;
    }
    EXPECT_LT(std::sqrt(err / norm), 1e-5) << (centered ? "LayerNorm" : "RMSNorm");
  }
  // Rows too few or of another length: nothing.
  EXPECT_TRUE(replay_norm_backward({1, 2, 3}, {1, 2, 3}, {1, 2, 3}, 3, 0, true).empty());
}

TEST(ModuleReplay, DropoutActiveOrNot) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> g;
  std::bernoulli_distribution drop(0.1);
  std::vector<double> x(4096), kept(4096);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(g(rng));
    kept[i] = drop(rng) ? 0.0 : static_cast<double>(static_cast<float>(x[i] / 0.9));
  }
  const DropoutFit off = fit_dropout(x, x);
  EXPECT_TRUE(off.ok);
  EXPECT_FALSE(off.active);
  const DropoutFit on = fit_dropout(x, kept);
  ASSERT_TRUE(on.ok && on.active);
  EXPECT_NEAR(on.scale, 1 / 0.9, 1e-6);
  EXPECT_NEAR(on.zeroed, 0.1, 0.02);
  std::vector<double> other(x.size());
  for (size_t i = 0; i < x.size(); ++i) other[i] = 2 * x[i] + 1;
  EXPECT_FALSE(fit_dropout(x, other).ok);
}

TEST(ModuleReplay, GeluFormsToldApart) {
  std::mt19937_64 rng(4);
  std::normal_distribution<double> g;
  std::vector<double> x(16384), erf_y(x.size()), tanh_y(x.size()), bf16_y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = static_cast<float>(2 * g(rng));
    x[i] = v;
    erf_y[i] = static_cast<float>(0.5 * v * (1 + std::erf(v / std::sqrt(2.0))));
    tanh_y[i] = static_cast<float>(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    bf16_y[i] = to_bf16(erf_y[i]);
  }
  const GeluFit e = fit_gelu(x, erf_y), t = fit_gelu(x, tanh_y);
  ASSERT_TRUE(e.ok && t.ok);
  EXPECT_STREQ(gelu_form_name(e.form), "erf (exact)");
  EXPECT_STREQ(gelu_form_name(t.form), "tanh (approximate)");
  // A bf16 output's rounding is ~100x the erf-tanh gap: at this size, no form is claimed.
  EXPECT_FALSE(fit_gelu(x, bf16_y).ok);
  EXPECT_FALSE(fit_gelu(x, x).ok);  // the identity is no GELU
}

}  // namespace
}  // namespace tensordiff
