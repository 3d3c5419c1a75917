// The CPU kernel's fast path: a whole-vector block pair with no NaN or inf and every magnitude
// within 2^±kSafeExp (so every group's scale is 0), read straight from the chunk's bytes by a
// loader (loaders-inl.h). Two sweeps over the L1-resident block instead of one fused one: with
// AVX2's 16 registers the fused pass spilled its accumulators (a store and a load per vector),
// which cost more than reading the block twice; each sweep here keeps its accumulators in
// registers on every target. No second sweep for the means: shifted sums about the block's
// first value give mean and M2 in one pass (below). Included per SIMD target by
// chunk_kernel.cpp (see scalar_parts-inl.h).
#if defined(TENSORDIFF_CPU_BLOCK_FAST_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TENSORDIFF_CPU_BLOCK_FAST_INL_H_
#undef TENSORDIFF_CPU_BLOCK_FAST_INL_H_
#else
#define TENSORDIFF_CPU_BLOCK_FAST_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/backend.hpp"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tensordiff {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The histogram bin of a finite magnitude given as bits (sign clear): core/bins.hpp's
// magnitude_bin on vectors (tests/cpu/narrow_values_test.cpp holds it to that rule): 0 for
// zero, 1 below 2^-40 (subnormals too), one per exponent up to 2^40, 83 above. The exponent sits in the low 16 bits of each 64-bit lane, so saturating
// 16-bit subtraction and 16-bit min/max clamp it in one instruction each (64-bit min/max
// take two or three on AVX2); the other 16-bit lanes stay 0 throughout.
template <class D>
HWY_INLINE hn::Vec<hn::RebindToUnsigned<D>> FiniteBin(D, hn::Vec<hn::RebindToUnsigned<D>> mag) {
  const hn::RebindToUnsigned<D> du;
  constexpr uint64_t kBias = 1023 - ExpHistogram::kFirstExp + ExpHistogram::kMinExp;  // 981
  const auto nonzero_floor =
      hn::AndNot(hn::VecFromMask(du, hn::Eq(mag, hn::Zero(du))), hn::Set(du, ExpHistogram::kUnderflow));
#if HWY_TARGET == HWY_SCALAR
  // One 64-bit lane: no 16-bit view; plain compares.
  const uint64_t e = hn::GetLane(hn::ShiftRight<52>(mag));
  const uint64_t t = std::min<uint64_t>(e > kBias ? e - kBias : 0, ExpHistogram::kOverflow);
  return hn::Set(du, std::max<uint64_t>(t, hn::GetLane(nonzero_floor)));
#else
  const hn::Repartition<uint16_t, decltype(du)> dw;
  auto t = hn::SaturatedSub(hn::BitCast(dw, hn::ShiftRight<52>(mag)), hn::BitCast(dw, hn::Set(du, kBias)));
  t = hn::Min(t, hn::BitCast(dw, hn::Set(du, ExpHistogram::kOverflow)));
  return hn::BitCast(du, hn::Max(t, hn::BitCast(dw, nonzero_floor)));
#endif
}

// The key of JointHist for packed a|b<<8 bins and the bin of |d|: a·84 + d when a and b share
// a bin (nearly always: compared tensors are alike), else kSplit | d. Values stay below 2^16,
// so 16-bit multiply and add do it (the other 16-bit lanes stay 0).
template <class D>
HWY_INLINE hn::Vec<hn::RebindToUnsigned<D>> JointKey(D, hn::Vec<hn::RebindToUnsigned<D>> ab,
                                                    hn::Vec<hn::RebindToUnsigned<D>> bin_d) {
  const hn::RebindToUnsigned<D> du;
  const auto ba = hn::And(ab, hn::Set(du, 0xff));
  const auto same = hn::Eq(ba, hn::ShiftRight<8>(ab));
#if HWY_TARGET == HWY_SCALAR
  const auto joint = hn::Add(hn::Mul(ba, hn::Set(du, JointHist::kBins)), bin_d);
#else
  const hn::Repartition<uint16_t, decltype(du)> dw;
  const auto joint = hn::BitCast(du, hn::Add(hn::Mul(hn::BitCast(dw, ba), hn::BitCast(dw, hn::Set(du, JointHist::kBins))),
                                             hn::BitCast(dw, bin_d)));
#endif
  return hn::IfThenElse(same, joint, hn::Or(bin_d, hn::Set(du, JointHist::kSplit)));
}

// Returns false, having decided nothing, when the block is not for the fast path; the caller
// then runs ReduceBlockPairGeneral on the decoded block. The decision depends only on the
// block's data, so results stay identical across chunk sizes and threads.
template <class SA, class SB>
bool FastBlockPair(const SA& A, const SB& B, size_t n, const PairParams& p, FusedBlock& r,
                   BlockBuf& buf) {
  const hn::ScalableTag<double> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  if (n % N != 0) return false;
  auto sum = [&](auto v) { return hn::GetLane(hn::SumOfLanes(d, v)); };
  const auto zero = hn::Zero(d);
  const auto sign_off = hn::Set(du, 0x7fffffffffffffffull);

  // Sweep 1, per side: extremes, and sums of x − K about the block's first value K:
  // mean = K + S1/n, M2 = S2 − S1²/n. For K one of the values, (x − K)² ≤ n·var per element,
  // so the cancellation in S2 − S1²/n costs at most a factor n = 256 of M2's relative
  // accuracy (2^-52 · 257 ≈ 6e-14) and needs no second sweep. A NaN or inf makes S1 or S2
  // non-finite, which sends the block to the general pass at no cost per element.
  const auto ka = hn::Set(d, hn::GetLane(A.Load(d, 0))), kb = hn::Set(d, hn::GetLane(B.Load(d, 0)));
  auto mn_a = A.Load(d, 0), mx_a = mn_a, mn_b = B.Load(d, 0), mx_b = mn_b;
  auto s1a = zero, s2a = zero, s1b = zero, s2b = zero;
  for (size_t i = 0; i < n; i += N) {
    const auto a = A.Load(d, i), b = B.Load(d, i);
    mn_a = hn::Min(mn_a, a);
    mx_a = hn::Max(mx_a, a);
    mn_b = hn::Min(mn_b, b);
    mx_b = hn::Max(mx_b, b);
    const auto da = hn::Sub(a, ka), db = hn::Sub(b, kb);
    s1a = hn::Add(s1a, da);
    s2a = hn::MulAdd(da, da, s2a);
    s1b = hn::Add(s1b, db);
    s2b = hn::MulAdd(db, db, s2b);
    const auto bin_a = FiniteBin(d, hn::And(hn::BitCast(du, a), sign_off));
    const auto bin_b = FiniteBin(d, hn::And(hn::BitCast(du, b), sign_off));
    hn::Store(hn::Or(bin_a, hn::ShiftLeft<8>(bin_b)), du, buf.bins_ab + i);
  }
  const double S1a = sum(s1a), S2a = sum(s2a), S1b = sum(s1b), S2b = sum(s2b);
  if (!std::isfinite(S1a + S2a + S1b + S2b)) return false;
  r.a.min = hn::GetLane(hn::MinOfLanes(d, mn_a));
  r.a.max = hn::GetLane(hn::MaxOfLanes(d, mx_a));
  r.b.min = hn::GetLane(hn::MinOfLanes(d, mn_b));
  r.b.max = hn::GetLane(hn::MaxOfLanes(d, mx_b));
  // Every group's scale must be 0: the largest magnitude (F is every pair here) in range.
  const double big = std::max({-r.a.min, r.a.max, -r.b.min, r.b.max});
  if (square_scale(big) != 0) return false;

  // Sweep 2, the pairs: sums of |d|, d², ab; max |d| and max |d|/|a|; closeness.
  const auto rtol = hn::Set(d, p.tol.rtol), atol = hn::Set(d, p.tol.atol);
  auto sabs = zero, sd2 = zero, sab = zero, vmax = zero, vrel = zero;
  auto c_mis = hn::Zero(di);
  for (size_t i = 0; i < n; i += N) {
    const auto a = A.Load(d, i), b = B.Load(d, i);
    const auto dd = hn::Sub(b, a);
    const auto ad = hn::Abs(dd), aa = hn::Abs(a);
    sabs = hn::Add(sabs, ad);
    sd2 = hn::MulAdd(dd, dd, sd2);
    sab = hn::MulAdd(a, b, sab);
    vmax = hn::Max(vmax, ad);
    // |a| = 0: the relative error is 0 when d = 0 (0/0 is NaN, so mask it), +inf otherwise.
    vrel = hn::Max(vrel, hn::IfThenZeroElse(hn::Eq(ad, zero), hn::Div(ad, aa)));
    // Not close: |d| > atol + rtol·|a|, rounded twice as numpy.isclose computes it (no FMA),
    // so every target and backend counts the same elements.
    c_mis = hn::Sub(c_mis, hn::BitCast(di, hn::VecFromMask(d, hn::Gt(ad, hn::Add(atol, hn::Mul(rtol, aa))))));
    hn::Store(JointKey(d, hn::Load(du, buf.bins_ab + i), FiniteBin(d, hn::BitCast(du, ad))), du,
              buf.bins_d + i);
  }

  const double nd = static_cast<double>(n);
  for (auto [s, k, S1, S2] : {std::tuple{&r.a, ka, S1a, S2a}, std::tuple{&r.b, kb, S1b, S2b}}) {
    s->finite = n;
    s->sums.n = nd;
    s->sums.mean = hn::GetLane(k) + S1 / nd;
    s->sums.m2 = std::max(0.0, S2 - S1 * S1 / nd);
    // Σx² = M2 + n·mean²: two non-negative terms, so no cancellation.
    s->sums.sumsq = s->sums.m2 + nd * s->sums.mean * s->sums.mean;
    s->sums.scale = 0;
  }
  FixZeroSigns(A, n, r.a.min, r.a.max);
  FixZeroSigns(B, n, r.b.min, r.b.max);
  r.p.finite_pairs = n;
  r.p.mismatches = static_cast<uint64_t>(hn::GetLane(hn::SumOfLanes(di, c_mis)));
  r.p.nan_mismatch = r.p.inf_mismatch = 0;
  r.p.max_abs = hn::GetLane(hn::MaxOfLanes(d, vmax));
  r.p.max_rel = hn::GetLane(hn::MaxOfLanes(d, vrel));
  r.p.sums = {sum(sabs), sum(sd2), r.a.sums.sumsq, r.b.sums.sumsq, sum(sab), 0};
  return true;
}

// One side (`tensordiff stats`, summaries): sweep 1 of FastBlockPair alone, with the bins
// stored for the histogram. Counts of zeros, NaN and inf come off the histogram; false, having
// decided nothing, sends the block to ReduceSide.
template <class S>
bool FastSideBlock(const S& X, size_t n, SideBlock& r, uint64_t* bins) {
  const hn::ScalableTag<double> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  if (n % N != 0) return false;
  const auto zero = hn::Zero(d);
  const auto sign_off = hn::Set(du, 0x7fffffffffffffffull);
  const auto k = hn::Set(d, hn::GetLane(X.Load(d, 0)));
  auto mn = X.Load(d, 0), mx = mn, s1 = zero, s2 = zero;
  for (size_t i = 0; i < n; i += N) {
    const auto x = X.Load(d, i);
    mn = hn::Min(mn, x);
    mx = hn::Max(mx, x);
    const auto dx = hn::Sub(x, k);
    s1 = hn::Add(s1, dx);
    s2 = hn::MulAdd(dx, dx, s2);
    hn::Store(FiniteBin(d, hn::And(hn::BitCast(du, x), sign_off)), du, bins + i);
  }
  const double S1 = hn::GetLane(hn::SumOfLanes(d, s1)), S2 = hn::GetLane(hn::SumOfLanes(d, s2));
  if (!std::isfinite(S1 + S2)) return false;
  r.min = hn::GetLane(hn::MinOfLanes(d, mn));
  r.max = hn::GetLane(hn::MaxOfLanes(d, mx));
  if (square_scale(std::max(-r.min, r.max)) != 0) return false;
  const double nd = static_cast<double>(n);
  r.finite = n;
  r.sums.n = nd;
  r.sums.mean = hn::GetLane(k) + S1 / nd;
  r.sums.m2 = std::max(0.0, S2 - S1 * S1 / nd);
  r.sums.sumsq = r.sums.m2 + nd * r.sums.mean * r.sums.mean;
  r.sums.scale = 0;
  FixZeroSigns(X, n, r.min, r.max);
  return true;
}

}  // namespace HWY_NAMESPACE
}  // namespace tensordiff
HWY_AFTER_NAMESPACE();

#endif  // TENSORDIFF_CPU_BLOCK_FAST_INL_H_
