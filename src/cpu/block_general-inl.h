// The CPU kernel's general block reductions over decoded float64 values: every rule of
// docs/design.md §4 with masks for NaN, ±inf and ragged lengths, per-group scales for values beyond
// 2^±kSafeExp. The all-finite fast path (block_fast-inl.h) hands such blocks here. Included
// per SIMD target by chunk_kernel.cpp (see scalar_parts-inl.h).
#if defined(TENSORDIFF_CPU_BLOCK_GENERAL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TENSORDIFF_CPU_BLOCK_GENERAL_INL_H_
#undef TENSORDIFF_CPU_BLOCK_GENERAL_INL_H_
#else
#define TENSORDIFF_CPU_BLOCK_GENERAL_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "core/backend.hpp"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tensordiff {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The histogram bin of |v| for every lane: core/bins.hpp's magnitude_bin on vectors (held to it
// for every narrow value by tests/cpu/narrow_values_test.cpp), computed in the fused pass so
// that the scalar sweep only increments counters.
template <class D, class V>
HWY_INLINE hn::Vec<hn::RebindToUnsigned<D>> ExpBin(D, V v) {
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto bits = hn::And(hn::BitCast(du, v), hn::Set(du, 0x7fffffffffffffffull));
  const auto e = hn::ShiftRight<52>(bits);
  auto x = hn::Sub(hn::BitCast(di, e), hn::Set(di, 1023 - ExpHistogram::kFirstExp + ExpHistogram::kMinExp));
  x = hn::Min(hn::Max(x, hn::Set(di, ExpHistogram::kUnderflow)), hn::Set(di, ExpHistogram::kOverflow));
  auto r = hn::BitCast(du, x);
  // NaN, +inf and -inf get bins of their own: the side's counts are read off the histogram.
  const auto mant = hn::And(bits, hn::Set(du, 0x000fffffffffffffull));
  const auto negative = hn::Ne(hn::ShiftRight<63>(hn::BitCast(du, v)), hn::Zero(du));
  const auto special = hn::IfThenElse(
      hn::Ne(mant, hn::Zero(du)), hn::Set(du, kDiscardBin),
      hn::IfThenElse(negative, hn::Set(du, kNegInfBin), hn::Set(du, kPosInfBin)));
  r = hn::IfThenElse(hn::Eq(e, hn::Set(du, 2047)), special, r);
  return hn::IfThenElseZero(hn::Ne(bits, hn::Zero(du)), r);
}

// Largest finite |x| of a block (0 when none): picks the scale of its squared sums.
double MaxFiniteAbs(const double* x, size_t n) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  auto m = hn::Zero(d);
  for (size_t i = 0; i < n; i += N) {
    const auto v = hn::Load(d, x + i);
    m = hn::Max(m, hn::IfThenElseZero(hn::And(hn::FirstN(d, n - i), hn::IsFinite(v)), hn::Abs(v)));
  }
  return hn::GetLane(hn::MaxOfLanes(d, m));
}

// The scales of a block pair's three groups (core/sums.hpp): each side's from its finite
// values, F's from the larger magnitude of each finite pair.
template <class FB>
void PairScales(const BlockBuf& buf, size_t n, FB& r) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  auto ma = hn::Zero(d), mb = ma, mf = ma;
  for (size_t i = 0; i < n; i += N) {
    const auto valid = hn::FirstN(d, n - i);
    const auto a = hn::Load(d, buf.a + i), b = hn::Load(d, buf.b + i);
    const auto fa = hn::And(valid, hn::IsFinite(a)), fb = hn::And(valid, hn::IsFinite(b));
    const auto aa = hn::IfThenElseZero(fa, hn::Abs(a)), ab = hn::IfThenElseZero(fb, hn::Abs(b));
    ma = hn::Max(ma, aa);
    mb = hn::Max(mb, ab);
    mf = hn::Max(mf, hn::IfThenElseZero(hn::And(fa, fb), hn::Max(aa, ab)));
  }
  r.a.sums.scale = square_scale(hn::GetLane(hn::MaxOfLanes(d, ma)));
  r.b.sums.scale = square_scale(hn::GetLane(hn::MaxOfLanes(d, mb)));
  r.p.sums.scale = square_scale(hn::GetLane(hn::MaxOfLanes(d, mf)));
}

// The sign of a zero extreme (see min_signed): hn::Min/Max keep whichever zero their operand
// order gives, which differs between targets, so a block whose minimum (maximum) is a zero
// looks once more at its L1-resident values: -0.0 if it holds one (+0.0 for the maximum).
// Blocks whose extremes are not zero, nearly all of them, skip this.
template <class Src>
void FixZeroSigns(const Src& x, size_t n, double& mn, double& mx) {
  if (mn != 0 && mx != 0) return;
  const hn::ScalableTag<double> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  const auto sign = hn::Set(du, 0x8000000000000000ull);
  auto negz = hn::Zero(du), posz = hn::Zero(du);
  for (size_t i = 0; i < n; i += N) {
    const auto bits = hn::BitCast(du, x.Load(d, i));
    const auto valid = hn::FirstN(du, n - i);
    negz = hn::Or(negz, hn::VecFromMask(du, hn::And(valid, hn::Eq(bits, sign))));
    posz = hn::Or(posz, hn::VecFromMask(du, hn::And(valid, hn::Eq(bits, hn::Zero(du)))));
  }
  if (mn == 0) mn = hn::GetLane(hn::MaxOfLanes(du, negz)) ? -0.0 : 0.0;
  if (mx == 0) mx = hn::GetLane(hn::MaxOfLanes(du, posz)) ? 0.0 : -0.0;
}

struct SideBlock {
  uint64_t nonzero = 0, nan = 0, pos_inf = 0, neg_inf = 0, finite = 0;
  double min, max;
  SideSums sums;  // in the units of sums.scale (core/sums.hpp)
};

// Per-side reduction of one decoded block: counts, min/max and sums over finite values, and
// M2 about the block's own mean (a second sweep over L1: no cancellation in std).
SideBlock ReduceSide(const double* x, size_t n) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  const auto inf = hn::Set(d, std::numeric_limits<double>::infinity());
  const auto ninf = hn::Neg(inf);
  auto vmin = inf, vmax = ninf, vsum = zero, vsq = zero;
  SideBlock r;
  r.sums.scale = square_scale(MaxFiniteAbs(x, n));
  const auto s = hn::Set(d, unit_factor(r.sums.scale));
  for (size_t i = 0; i < n; i += N) {
    const auto valid = hn::FirstN(d, n - i);
    const auto v = hn::Load(d, x + i);
    const auto fin = hn::And(valid, hn::IsFinite(v));
    // Not(Eq): NaN counts as nonzero (Ne's NaN semantics differ between targets).
    r.nonzero += hn::CountTrue(d, hn::AndNot(hn::Eq(v, zero), valid));
    r.nan += hn::CountTrue(d, hn::And(valid, hn::IsNaN(v)));
    r.pos_inf += hn::CountTrue(d, hn::And(valid, hn::Eq(v, inf)));
    r.neg_inf += hn::CountTrue(d, hn::And(valid, hn::Eq(v, ninf)));
    r.finite += hn::CountTrue(d, fin);
    vmin = hn::Min(vmin, hn::IfThenElse(fin, v, inf));
    vmax = hn::Max(vmax, hn::IfThenElse(fin, v, ninf));
    const auto vfs = hn::Mul(hn::IfThenElseZero(fin, v), s);
    vsum = hn::Add(vsum, vfs);
    vsq = hn::MulAdd(vfs, vfs, vsq);
  }
  r.min = hn::GetLane(hn::MinOfLanes(d, vmin));
  r.max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  FixZeroSigns(DecodedSrc{x}, n, r.min, r.max);
  r.sums.n = static_cast<double>(r.finite);
  r.sums.sumsq = hn::GetLane(hn::SumOfLanes(d, vsq));
  if (r.finite > 0) {
    // Corrected two-pass over the L1-resident block: deviations from a first estimate m0 give
    // both the correction of the mean and M2 without cancellation.
    const double m0 = hn::GetLane(hn::SumOfLanes(d, vsum)) / r.sums.n;
    const auto vm0 = hn::Set(d, m0);
    auto vc = zero, vm2 = zero;
    for (size_t i = 0; i < n; i += N) {
      const auto valid = hn::FirstN(d, n - i);
      const auto v = hn::Load(d, x + i);
      const auto fin = hn::And(valid, hn::IsFinite(v));
      const auto c = hn::IfThenElseZero(fin, hn::Sub(hn::Mul(v, s), vm0));
      vc = hn::Add(vc, c);
      vm2 = hn::MulAdd(c, c, vm2);
    }
    const double sc = hn::GetLane(hn::SumOfLanes(d, vc));
    r.sums.mean = m0 + sc / r.sums.n;
    r.sums.m2 = std::max(0.0, hn::GetLane(hn::SumOfLanes(d, vm2)) - sc * sc / r.sums.n);
  }
  return r;
}

struct PairBlock {
  uint64_t finite_pairs = 0, mismatches = 0, nan_mismatch = 0, inf_mismatch = 0;
  double max_abs = 0, max_rel = 0;
  DiffSums sums;
};

struct FusedBlock {
  SideBlock a, b;
  PairBlock p;
};

// Corrected two-pass for both sides: deviations from the first mean estimate (already in
// r.*.sums.mean, in each side's units) give the correction of the mean and M2 without
// cancellation.
void CorrectMeans(const BlockBuf& buf, size_t n, FusedBlock& r) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  if (r.a.finite == 0 && r.b.finite == 0) return;
  const auto zero = hn::Zero(d);
  const auto m0a = hn::Set(d, r.a.sums.mean), m0b = hn::Set(d, r.b.sums.mean);
  const auto sa = hn::Set(d, unit_factor(r.a.sums.scale)), sb = hn::Set(d, unit_factor(r.b.sums.scale));
  auto ca = zero, cb = zero, m2a = zero, m2b = zero;
  for (size_t i = 0; i < n; i += N) {
    const auto a = hn::Load(d, buf.a + i), b = hn::Load(d, buf.b + i);
    const auto valid = hn::FirstN(d, n - i);
    const auto da = hn::IfThenElseZero(hn::And(valid, hn::IsFinite(a)), hn::Sub(hn::Mul(a, sa), m0a));
    const auto db = hn::IfThenElseZero(hn::And(valid, hn::IsFinite(b)), hn::Sub(hn::Mul(b, sb), m0b));
    ca = hn::Add(ca, da);
    cb = hn::Add(cb, db);
    m2a = hn::MulAdd(da, da, m2a);
    m2b = hn::MulAdd(db, db, m2b);
  }
  for (auto [side, c, m2] : {std::tuple{&r.a, ca, m2a}, std::tuple{&r.b, cb, m2b}}) {
    if (side->finite == 0) continue;
    const double sc = hn::GetLane(hn::SumOfLanes(d, c));
    side->sums.mean += sc / side->sums.n;
    side->sums.m2 = std::max(0.0, hn::GetLane(hn::SumOfLanes(d, m2)) - sc * sc / side->sums.n);
  }
}

// The general pass over a decoded block pair, for blocks with NaN or inf, values beyond
// 2^±kSafeExp or a ragged length: both sides' counts, extremes and sums, the diff's sums,
// maxima and closeness, the three histograms' bins (NaN and ±inf in bins of their own); then
// a second sweep for both sides' M2. Counters live in int64 lanes (a true mask is -1, so
// subtracting it counts) and are reduced once per block.
void ReduceBlockPairGeneral(BlockBuf& buf, size_t n, const PairParams& p, FusedBlock& r) {
  r = FusedBlock{};
  PairScales(buf, n, r);
  const hn::ScalableTag<double> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  const auto zero = hn::Zero(d);
  const auto inf = hn::Set(d, std::numeric_limits<double>::infinity());
  const auto ninf = hn::Neg(inf);
  const auto nan = hn::Set(d, std::numeric_limits<double>::quiet_NaN());
  const auto rtol = hn::Set(d, p.tol.rtol), atol = hn::Set(d, p.tol.atol);
  // Values times these factors are in each group's units (core/sums.hpp).
  const auto sa = hn::Set(d, unit_factor(r.a.sums.scale)), sb = hn::Set(d, unit_factor(r.b.sums.scale));
  const auto sf = hn::Set(d, unit_factor(r.p.sums.scale));
  auto count = [&](auto& c, auto mask) { c = hn::Sub(c, hn::BitCast(di, hn::VecFromMask(d, mask))); };
  // nonzero, NaN and ±inf counts of each side come from the histogram bins (see ExpBin).
  auto fin_a = hn::Zero(di), fin_b = fin_a;
  auto c_fp = fin_a, c_mis = fin_a, c_nanm = fin_a, c_infm = fin_a;
  auto min_a = inf, max_a = ninf, sum_a = zero, sq_a = zero;
  auto min_b = inf, max_b = ninf, sum_b = zero, sq_b = zero;
  auto sabs = zero, sd2 = zero, sa2 = zero, sb2 = zero, sab = zero, vmax = zero, vrel = zero;
  for (size_t i = 0; i < n; i += N) {
    const auto valid = hn::FirstN(d, n - i);
    const auto a = hn::Load(d, buf.a + i), b = hn::Load(d, buf.b + i);
    const auto isnan_a = hn::IsNaN(a), isnan_b = hn::IsNaN(b);
    const auto fa = hn::And(valid, hn::IsFinite(a)), fb = hn::And(valid, hn::IsFinite(b));
    // Per side.
    count(fin_a, fa);
    count(fin_b, fb);
    const auto afs = hn::Mul(hn::IfThenElseZero(fa, a), sa), bfs = hn::Mul(hn::IfThenElseZero(fb, b), sb);
    min_a = hn::Min(min_a, hn::IfThenElse(fa, a, inf));
    max_a = hn::Max(max_a, hn::IfThenElse(fa, a, ninf));
    min_b = hn::Min(min_b, hn::IfThenElse(fb, b, inf));
    max_b = hn::Max(max_b, hn::IfThenElse(fb, b, ninf));
    sum_a = hn::Add(sum_a, afs);
    sum_b = hn::Add(sum_b, bfs);
    sq_a = hn::MulAdd(afs, afs, sq_a);
    sq_b = hn::MulAdd(bfs, bfs, sq_b);
    hn::Store(hn::Or(ExpBin(d, a), hn::ShiftLeft<8>(ExpBin(d, b))), du, buf.bins_ab + i);
    // The pair.
    const auto F = hn::And(fa, fb);
    const auto ad = hn::Abs(hn::Sub(b, a));
    const auto adF = hn::IfThenElseZero(F, ad);
    // |d| in F's units from the scaled values: b − a itself can overflow (−1e308 vs 1e308).
    const auto aF = hn::Mul(hn::IfThenElseZero(F, a), sf), bF = hn::Mul(hn::IfThenElseZero(F, b), sf);
    const auto adFs = hn::Abs(hn::Sub(bF, aF));
    sabs = hn::Add(sabs, adFs);
    sd2 = hn::MulAdd(adFs, adFs, sd2);
    sa2 = hn::MulAdd(aF, aF, sa2);
    sb2 = hn::MulAdd(bF, bF, sb2);
    sab = hn::MulAdd(aF, bF, sab);
    // |a| = 0: the relative error is 0 when d = 0, +inf otherwise.
    const auto rel = hn::IfThenElse(hn::Eq(ad, zero), zero, hn::Div(ad, hn::Abs(a)));
    vmax = hn::Max(vmax, adF);
    vrel = hn::Max(vrel, hn::IfThenElseZero(F, rel));
    hn::Store(ExpBin(d, hn::IfThenElse(F, ad, nan)), du, buf.bins_d + i);
    // close(a, b) on finite pairs; atol + rtol·|a| rounded twice, as numpy.isclose computes it
    // (no FMA): the same bits on every target. NaN and inf rules of docs/design.md §4 elsewhere.
    const auto close = hn::And(F, hn::Le(ad, hn::Add(atol, hn::Mul(rtol, hn::Abs(a)))));
    const auto both_nan = hn::And(isnan_a, isnan_b);
    const auto one_nan = hn::Xor(isnan_a, isnan_b);
    const auto nan_bad = p.equal_nan ? one_nan : hn::Or(one_nan, both_nan);
    const auto no_nan = hn::Not(hn::Or(isnan_a, isnan_b));
    const auto inf_pair = hn::AndNot(F, hn::And(valid, no_nan));
    const auto inf_bad = hn::AndNot(hn::Eq(a, b), inf_pair);
    const auto nan_equal = p.equal_nan ? both_nan : hn::FirstN(d, 0);
    const auto equal = hn::Or(close, hn::Or(hn::AndNot(inf_bad, inf_pair), nan_equal));
    count(c_fp, F);
    count(c_mis, hn::AndNot(equal, valid));
    count(c_nanm, hn::And(valid, nan_bad));
    count(c_infm, inf_bad);
  }
  auto total = [&](auto v) { return static_cast<uint64_t>(hn::GetLane(hn::SumOfLanes(di, v))); };
  auto sum = [&](auto v) { return hn::GetLane(hn::SumOfLanes(d, v)); };
  auto side = [&](SideBlock& s, const double* x, auto fi, auto mn, auto mx, auto sm, auto sq) {
    s.finite = total(fi);
    s.min = hn::GetLane(hn::MinOfLanes(d, mn));
    s.max = hn::GetLane(hn::MaxOfLanes(d, mx));
    FixZeroSigns(DecodedSrc{x}, n, s.min, s.max);
    s.sums.n = static_cast<double>(s.finite);
    s.sums.sumsq = sum(sq);
    s.sums.mean = s.finite ? sum(sm) / s.sums.n : 0.0;  // first estimate, corrected below
  };
  side(r.a, buf.a, fin_a, min_a, max_a, sum_a, sq_a);
  side(r.b, buf.b, fin_b, min_b, max_b, sum_b, sq_b);
  r.p.finite_pairs = total(c_fp);
  r.p.mismatches = total(c_mis);
  r.p.nan_mismatch = total(c_nanm);
  r.p.inf_mismatch = total(c_infm);
  r.p.max_abs = hn::GetLane(hn::MaxOfLanes(d, vmax));
  r.p.max_rel = hn::GetLane(hn::MaxOfLanes(d, vrel));
  r.p.sums = {sum(sabs), sum(sd2), sum(sa2), sum(sb2), sum(sab), r.p.sums.scale};
  CorrectMeans(buf, n, r);
}

// Histogram bins of a decoded block with NaN and ±inf in bins of their own (ExpBin), for the
// blocks the single-side fast path refuses.
void StoreBins(const double* x, size_t n, uint64_t* bins) {
  const hn::ScalableTag<double> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  for (size_t i = 0; i < n; i += N) hn::Store(ExpBin(d, hn::Load(d, x + i)), du, bins + i);
}

}  // namespace HWY_NAMESPACE
}  // namespace tensordiff
HWY_AFTER_NAMESPACE();

#endif  // TENSORDIFF_CPU_BLOCK_GENERAL_INL_H_
