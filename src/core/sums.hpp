// The floating sums of docs/design.md §4 and the canonical tree node that combines them.
//
// Sums are kept per group — side a, side b, and the finite pairs F — each in units of its
// own power of two 2^scale: linear fields (mean, abs) divided by 2^scale, squared fields (m2,
// sumsq, d2, a2, b2, ab) by 2^(2·scale). A block whose largest magnitude lies beyond
// 2^±kSafeExp takes scale = its exponent, so 1e300² does not overflow and subnormals² do not
// underflow; in the safe range the scale is 0 and the sums are the plain ones. Each group has
// its own scale because each sums other values: side a's sums see every finite a, while F
// can be a few tiny pairs next to a huge value whose partner is inf.
#pragma once
#include <cstdint>
#include <cstring>
#include <math.h>

#include "core/host_device.hpp"

namespace tensordiff {

constexpr uint64_t kBlockElems = 256;
constexpr int kSafeExp = 500;

// One side's finite values: count, mean and M2 (sum of squared deviations from the mean),
// merged with Chan's formula so that std never suffers the cancellation of E[x²] − E[x]²;
// sumsq for the L2 norm.
struct SideSums {
  double n = 0, mean = 0, m2 = 0, sumsq = 0;
  int scale = 0;
};

// Sums over the finite pairs F.
struct DiffSums {
  double abs = 0, d2 = 0, a2 = 0, b2 = 0, ab = 0;
  int scale = 0;
};

struct TreeNode {
  SideSums a, b;
  DiffSums d;
};

// The scale for a block whose largest finite |value| is max_abs (0 in the safe range, and for
// an all-zero block). Read off the bits, so host and device agree without libm.
TD_HD inline int square_scale(double max_abs) {
  uint64_t bits;
  memcpy(&bits, &max_abs, 8);
  bits &= 0x7fffffffffffffffull;
  const int biased = static_cast<int>(bits >> 52);
  if (bits == 0 || biased == 2047) return 0;
  // Subnormals (biased 0) are far below -kSafeExp. The clamp keeps 2^-scale a normal float64.
  const int e = biased == 0 ? -1023 : biased - 1023;
  if (e >= -kSafeExp && e <= kSafeExp) return 0;
  return e < -1022 ? -1022 : e > 1022 ? 1022 : e;
}

// 2^-scale, the factor that brings a block's values into its group's units.
TD_HD inline double unit_factor(int scale) { return ldexp(1.0, -scale); }

// min and max of docs/design.md §4 order -0.0 below +0.0 (IEEE 754-2019 minimum/maximum), so the
// sign of a zero extreme is one answer whatever the lane order, chunking or backend; a plain
// min keeps whichever zero it saw first, and SIMD lanes see them in a target-dependent order.
TD_HD inline bool sign_bit(double x) {
  uint64_t b;
  memcpy(&b, &x, 8);
  return (b >> 63) != 0;
}
TD_HD inline double min_signed(double x, double y) {
  return (x < y || (x == y && sign_bit(x))) ? x : y;
}
TD_HD inline double max_signed(double x, double y) {
  return (x > y || (x == y && !sign_bit(x))) ? x : y;
}

namespace sums_detail {

// Sums growing past this are renormalised by 2^64 (their squares by 2^128) before they can
// overflow; means further apart than kWideMean are brought to a larger scale before Chan's
// delta² is formed.
constexpr double kBig = 0x1p900;
constexpr double kWideMean = 0x1p400;
constexpr int kStep = 64;

TD_HD inline SideSums at_scale(SideSums s, int to) {
  if (s.scale == to) return s;
  const int e = s.scale - to;
  s.mean = ldexp(s.mean, e);
  s.m2 = ldexp(s.m2, 2 * e);
  s.sumsq = ldexp(s.sumsq, 2 * e);
  s.scale = to;
  return s;
}

TD_HD inline DiffSums at_scale(DiffSums d, int to) {
  if (d.scale == to) return d;
  const int e = d.scale - to;
  d.abs = ldexp(d.abs, e);
  d.d2 = ldexp(d.d2, 2 * e);
  d.a2 = ldexp(d.a2, 2 * e);
  d.b2 = ldexp(d.b2, 2 * e);
  d.ab = ldexp(d.ab, 2 * e);
  d.scale = to;
  return d;
}

// All-zero sums are exact at any scale: such a node must not impose its scale on the other
// (a block of zeros next to a block of 1e-300s would square the latter to nothing).
TD_HD inline bool zero(const SideSums& s) { return s.mean == 0 && s.m2 == 0 && s.sumsq == 0; }
TD_HD inline bool zero(const DiffSums& d) {
  return d.abs == 0 && d.d2 == 0 && d.a2 == 0 && d.b2 == 0 && d.ab == 0;
}

template <typename S>
TD_HD inline int common_scale(const S& x, const S& y) {
  if (zero(x)) return y.scale;
  if (zero(y)) return x.scale;
  return x.scale > y.scale ? x.scale : y.scale;
}

}  // namespace sums_detail

TD_HD inline SideSums combine(SideSums x, SideSums y) {
  using namespace sums_detail;
  if (x.n == 0) return y;  // no finite values: every sum is 0
  if (y.n == 0) return x;
  int s = common_scale(x, y);
  x = at_scale(x, s);
  y = at_scale(y, s);
  if (fabs(y.mean - x.mean) > kWideMean) {
    s += kStep;
    x = at_scale(x, s);
    y = at_scale(y, s);
  }
  const double n = x.n + y.n;
  const double delta = y.mean - x.mean;
  SideSums r{n, x.mean + delta * (y.n / n), x.m2 + y.m2 + delta * delta * (x.n * y.n / n),
             x.sumsq + y.sumsq, s};
  if (fmax(r.m2, r.sumsq) > kBig) r = at_scale(r, s + kStep);
  return r;
}

TD_HD inline DiffSums combine(DiffSums x, DiffSums y) {
  using namespace sums_detail;
  const int s = common_scale(x, y);
  x = at_scale(x, s);
  y = at_scale(y, s);
  DiffSums r{x.abs + y.abs, x.d2 + y.d2, x.a2 + y.a2, x.b2 + y.b2, x.ab + y.ab, s};
  if (fmax(fmax(r.d2, r.a2), fmax(r.b2, fabs(r.ab))) > kBig) r = at_scale(r, s + kStep);
  return r;
}

// `left` covers the blocks right before `right`'s; the tree fixes the association.
TD_HD inline TreeNode combine(const TreeNode& left, const TreeNode& right) {
  return {combine(left.a, right.a), combine(left.b, right.b), combine(left.d, right.d)};
}

}  // namespace tensordiff
