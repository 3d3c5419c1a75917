// Highway kernel for one chunk: decode each block of kBlockElems elements to float64 in L1,
// reduce it with SIMD (counts, min/max, sums, masks for closeness), then a few scalar sweeps
// over the same L1-resident block for the parts that are inherently scalar (histogram
// increments, first nonzeros, the argmax position, ULP distance on the raw bits).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/chunk_kernel.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "cpu/chunk_kernel.hpp"
#include "core/decode.hpp"



HWY_BEFORE_NAMESPACE();
namespace tensordiff {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Scalar helpers live in the per-target namespace too, so the compiler vectorises their loops
// for each target (64-bit multiplies of the checksum, the ULP loop) instead of for baseline x86.


// Histogram bin of a float64's biased exponent (zero is tested separately): subnormals and
// exponents below -40 underflow, above 40 overflow; inf/NaN go to a discarded bin.
constexpr int kDiscardBin = ExpHistogram::kBins;  // NaN (and, in the scalar table, ±inf)
constexpr int kPosInfBin = kDiscardBin + 1, kNegInfBin = kDiscardBin + 2;
struct ExpBinTable {
  uint8_t bin[2048];
  constexpr ExpBinTable() : bin{} {
    for (int e = 0; e < 2048; ++e) {
      const int x = e - 1023;
      int b = 0;
      if (e == 0 || x < ExpHistogram::kMinExp) b = ExpHistogram::kUnderflow;
      else if (e == 2047) b = kDiscardBin;
      else if (x > ExpHistogram::kMaxExp) b = ExpHistogram::kOverflow;
      else b = ExpHistogram::kFirstExp + (x - ExpHistogram::kMinExp);
      bin[e] = static_cast<uint8_t>(b);
    }
  }
};
constexpr ExpBinTable kExpBins{};

// Four interleaved copies so that runs of values in one bin do not serialise on one counter.
struct HistAcc {
  uint64_t c[4][ExpHistogram::kBins + 3] = {};
  uint64_t total(int bin) const { return c[0][bin] + c[1][bin] + c[2][bin] + c[3][bin]; }
  void add_block(const double* x, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) ++c[k][bin_of(x[i + k])];
    for (; i < n; ++i) ++c[0][bin_of(x[i])];
  }
  void add_bins(const uint64_t* bins, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) ++c[k][bins[i + k]];
    for (; i < n; ++i) ++c[0][bins[i]];
  }
  static int bin_of(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    bits &= 0x7fffffffffffffffull;
    return bits == 0 ? ExpHistogram::kZero : kExpBins.bin[bits >> 52];
  }
  void fold_into(ExpHistogram& h) const {
    for (int b = 0; b < ExpHistogram::kBins; ++b) h.counts[b] += c[0][b] + c[1][b] + c[2][b] + c[3][b];
  }
};

// Both sides' magnitude histograms at once: compared tensors are mostly alike, so a and b
// usually fall in the same bin and one increment of a shared counter serves both (two
// increments per pair instead of three, with the error histogram).
struct PairHistAcc {
  HistAcc a, b, both;
  void add_bins(const uint64_t* ba, const uint64_t* bb, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (ba[i] == bb[i]) {
        ++both.c[i & 3][ba[i]];
      } else {
        ++a.c[i & 3][ba[i]];
        ++b.c[i & 3][bb[i]];
      }
    }
  }
  // Adds the shared counts into each side's own.
  void fold() {
    for (int k = 0; k < 4; ++k)
      for (int bin = 0; bin < ExpHistogram::kBins + 3; ++bin) {
        a.c[k][bin] += both.c[k][bin];
        b.c[k][bin] += both.c[k][bin];
      }
  }
};

// Checksum words of DESIGN.md §4 for bytes [offset, offset + len) of the tensor; offset is a
// multiple of 8, a trailing partial word is zero-padded.
inline uint64_t checksum_words(const uint8_t* p, uint64_t offset, uint64_t len) {
  uint64_t sum = 0, j = offset / 8;
  const uint64_t full = len / 8;
  for (uint64_t w = 0; w < full; ++w, ++j) {
    uint64_t x;
    std::memcpy(&x, p + 8 * w, 8);
    sum += checksum_term(x, j);
  }
  if (len % 8) {
    uint64_t x = 0;
    std::memcpy(&x, p + 8 * full, len % 8);
    sum += checksum_term(x, j);
  }
  return sum;
}

// bits_differ over every element and max_ulp over the finite pairs. Works on the raw
// elements in lanes of their own width (32-bit distances for types up to 4 bytes) so that
// the loop vectorises; a float element is finite when (bits & nonfinite) != nonfinite
// (exponent all ones for IEEE-like types, 0x7f for float8_e4m3fn's only NaN pattern).
template <typename T, bool kFloat>
inline void bits_and_ulp(const uint8_t* a, const uint8_t* b, size_t n, T nonfinite,
                         uint64_t& bits_differ, uint64_t& max_ulp) {
  using U = std::make_unsigned_t<T>;
  using D = std::conditional_t<sizeof(T) <= 4, uint32_t, uint64_t>;
  constexpr U kSign = U(U(1) << (8 * sizeof(T) - 1));
  const U nf = static_cast<U>(nonfinite);
  D worst = 0;
  uint32_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    T x, y;
    std::memcpy(&x, a + i * sizeof(T), sizeof(T));
    std::memcpy(&y, b + i * sizeof(T), sizeof(T));
    differ += x != y;
    D dist;
    D keep = 1;
    if constexpr (kFloat) {
      const U ux = static_cast<U>(x), uy = static_cast<U>(y);
      const D mx = ux & ~kSign, my = uy & ~kSign;
      dist = ((ux ^ uy) & kSign) ? mx + my : (mx > my ? mx - my : my - mx);
      keep = ((ux & nf) != nf) & ((uy & nf) != nf);
    } else {
      dist = static_cast<D>(x > y ? static_cast<D>(x) - static_cast<D>(y)
                                  : static_cast<D>(y) - static_cast<D>(x));
    }
    worst = std::max<D>(worst, dist * keep);
  }
  bits_differ += differ;
  max_ulp = std::max<uint64_t>(max_ulp, worst);
}

inline void same_dtype_bits(DType t, const uint8_t* a, const uint8_t* b, size_t n,
                            uint64_t& bits, uint64_t& ulp) {
  switch (t) {
    case DType::kF64: bits_and_ulp<uint64_t, true>(a, b, n, 0x7ff0000000000000ull, bits, ulp); break;
    case DType::kF32: bits_and_ulp<uint32_t, true>(a, b, n, 0x7f800000u, bits, ulp); break;
    case DType::kF16: bits_and_ulp<uint16_t, true>(a, b, n, 0x7c00, bits, ulp); break;
    case DType::kBF16: bits_and_ulp<uint16_t, true>(a, b, n, 0x7f80, bits, ulp); break;
    case DType::kF8E4M3: bits_and_ulp<uint8_t, true>(a, b, n, 0x7f, bits, ulp); break;
    case DType::kF8E5M2: bits_and_ulp<uint8_t, true>(a, b, n, 0x7c, bits, ulp); break;
    case DType::kI8: bits_and_ulp<int8_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kI16: bits_and_ulp<int16_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kI32: bits_and_ulp<int32_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kI64: bits_and_ulp<int64_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kU8:
    case DType::kBool: bits_and_ulp<uint8_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kU16: bits_and_ulp<uint16_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kU32: bits_and_ulp<uint32_t, false>(a, b, n, 0, bits, ulp); break;
    case DType::kU64: bits_and_ulp<uint64_t, false>(a, b, n, 0, bits, ulp); break;
  }
}

inline void scan_first_nonzero(const double* x, size_t n, uint64_t first, int k,
                               std::vector<NonzeroEntry>& out) {
  for (size_t i = 0; i < n && out.size() < static_cast<size_t>(k); ++i)
    if (x[i] != 0 || std::isnan(x[i])) out.push_back({first + i, x[i]});
}


// Block buffers padded to a whole number of the widest vectors, so loads past n stay inside.
constexpr size_t kPad = 64;
struct alignas(64) BlockBuf {
  double a[kBlockElems + kPad], b[kBlockElems + kPad];
  double dabs[kBlockElems + kPad];  // |b - a| on finite pairs, NaN elsewhere
  double rel[kBlockElems + kPad];   // |b - a| / |a| on finite pairs, NaN elsewhere
  uint64_t bin_a[kBlockElems + kPad], bin_b[kBlockElems + kPad], bin_d[kBlockElems + kPad];
};

// The histogram bin of |v| for every lane (see ExpBinTable): computed with SIMD in the fused
// pass, so that the scalar sweep only increments counters.
template <class D, class V>
HWY_INLINE hn::Vec<hn::RebindToUnsigned<D>> ExpBin(D d, V v) {
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

void DecodeBlock(DType t, const uint8_t* src, size_t n, double* dst) {
  if (t == DType::kF32) {
    const hn::ScalableTag<double> d;
    const hn::Rebind<float, decltype(d)> df;
    const size_t N = hn::Lanes(d);
    size_t i = 0;
    for (; i + N <= n; i += N)
      hn::Store(hn::PromoteTo(d, hn::LoadU(df, reinterpret_cast<const float*>(src) + i)), d, dst + i);
    decode::to_double(t, src + 4 * i, n - i, dst + i);
  } else if (t == DType::kF64) {
    std::memcpy(dst, src, 8 * n);
  } else {
    decode::to_double(t, src, n, dst);
  }
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
void FixZeroSigns(const double* x, size_t n, double& mn, double& mx) {
  if (mn != 0 && mx != 0) return;
  const hn::ScalableTag<double> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  const auto sign = hn::Set(du, 0x8000000000000000ull);
  auto negz = hn::Zero(du), posz = hn::Zero(du);
  for (size_t i = 0; i < n; i += N) {
    const auto bits = hn::BitCast(du, hn::Load(d, x + i));
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
  FixZeroSigns(x, n, r.min, r.max);
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
// cancellation. The all-finite path only runs at scale 0: no unit factors there.
template <bool kAllFinite>
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
    auto da = hn::Sub(a, m0a), db = hn::Sub(b, m0b);
    if constexpr (!kAllFinite) {
      const auto valid = hn::FirstN(d, n - i);
      da = hn::IfThenElseZero(hn::And(valid, hn::IsFinite(a)), hn::Sub(hn::Mul(a, sa), m0a));
      db = hn::IfThenElseZero(hn::And(valid, hn::IsFinite(b)), hn::Sub(hn::Mul(b, sb), m0b));
    }
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

// max_bits tracks the largest magnitude as raw bits (sign cleared, so signed compare works and
// is cheaper than unsigned on AVX2): its exponent field decides whether the block needs scaled
// squares, and max_bits != 0 with exponent 0 means subnormals, whose squares underflow.
template <class D, class V>
HWY_INLINE hn::Vec<hn::RebindToUnsigned<D>> FiniteExpBin(D d, V v, hn::Vec<hn::RebindToSigned<D>>& max_bits) {
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto bits = hn::And(hn::BitCast(du, v), hn::Set(du, 0x7fffffffffffffffull));
  max_bits = hn::Max(max_bits, hn::BitCast(di, bits));
  const auto e = hn::ShiftRight<52>(bits);
  auto x = hn::Sub(hn::BitCast(di, e), hn::Set(di, 1023 - ExpHistogram::kFirstExp + ExpHistogram::kMinExp));
  x = hn::Min(hn::Max(x, hn::Set(di, ExpHistogram::kUnderflow)), hn::Set(di, ExpHistogram::kOverflow));
  return hn::IfThenElseZero(hn::Ne(bits, hn::Zero(du)), hn::BitCast(du, x));
}

// The common case, a block of whole vectors with no NaN or inf on either side: no masks, no
// special-value bookkeeping, few enough live vectors to stay in registers. Returns false
// (having computed nothing that counts) when a NaN or inf shows up; the general pass then
// redoes the block. The path depends only on the block's data, so results stay identical
// across chunk sizes and threads.
bool ReduceFiniteBlockPair(BlockBuf& buf, size_t n, const PairParams& p, FusedBlock& r) {
  const hn::ScalableTag<double> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t N = hn::Lanes(d);
  if (n % N != 0) return false;
  const auto zero = hn::Zero(d);
  const auto rtol = hn::Set(d, p.tol.rtol), atol = hn::Set(d, p.tol.atol);
  auto max_bits = hn::Zero(di);
  auto c_mis = hn::Zero(di);
  auto min_a = hn::Load(d, buf.a), max_a = min_a, min_b = hn::Load(d, buf.b), max_b = min_b;
  auto sum_a = zero, sq_a = zero, sum_b = zero, sq_b = zero;
  auto sabs = zero, sd2 = zero, sab = zero, vmax = zero, vrel = zero;
  for (size_t i = 0; i < n; i += N) {
    const auto a = hn::Load(d, buf.a + i), b = hn::Load(d, buf.b + i);
    min_a = hn::Min(min_a, a);
    max_a = hn::Max(max_a, a);
    min_b = hn::Min(min_b, b);
    max_b = hn::Max(max_b, b);
    sum_a = hn::Add(sum_a, a);
    sum_b = hn::Add(sum_b, b);
    sq_a = hn::MulAdd(a, a, sq_a);  // over F = all: also the diff's sum of a²
    sq_b = hn::MulAdd(b, b, sq_b);
    hn::Store(FiniteExpBin(d, a, max_bits), du, buf.bin_a + i);
    hn::Store(FiniteExpBin(d, b, max_bits), du, buf.bin_b + i);
    const auto ad = hn::Abs(hn::Sub(b, a));
    sabs = hn::Add(sabs, ad);
    sd2 = hn::MulAdd(ad, ad, sd2);
    sab = hn::MulAdd(a, b, sab);
    const auto rel = hn::IfThenElse(hn::Eq(ad, zero), zero, hn::Div(ad, hn::Abs(a)));
    vmax = hn::Max(vmax, ad);
    vrel = hn::Max(vrel, rel);
    hn::Store(ad, d, buf.dabs + i);
    hn::Store(rel, d, buf.rel + i);
    hn::Store(FiniteExpBin(d, ad, max_bits), du, buf.bin_d + i);
    // Same rounding as the general pass: atol + rtol·|a| without FMA.
    const auto close = hn::Le(ad, hn::Add(atol, hn::Mul(rtol, hn::Abs(a))));
    c_mis = hn::Sub(c_mis, hn::BitCast(di, hn::VecFromMask(d, hn::Not(close))));
  }
  // An exponent field of all ones is inf or NaN (in a, b, or b − a overflowing to inf); a
  // largest magnitude beyond 2^±kSafeExp, subnormals included, needs scaled squares: the
  // general pass handles both. Only an all-zero block has max_bits == 0.
  const uint64_t top_bits = static_cast<uint64_t>(hn::GetLane(hn::MaxOfLanes(di, max_bits)));
  const uint64_t top = top_bits >> 52;
  if (top == 2047 || top > uint64_t(1023 + kSafeExp) || (top_bits != 0 && top < uint64_t(1023 - kSafeExp)))
    return false;
  auto sum = [&](auto v) { return hn::GetLane(hn::SumOfLanes(d, v)); };
  const double nd = static_cast<double>(n);
  for (auto [s, x, mn, mx, sm, sq] : {std::tuple{&r.a, buf.a, min_a, max_a, sum_a, sq_a},
                                      std::tuple{&r.b, buf.b, min_b, max_b, sum_b, sq_b}}) {
    s->finite = n;
    s->min = hn::GetLane(hn::MinOfLanes(d, mn));
    s->max = hn::GetLane(hn::MaxOfLanes(d, mx));
    FixZeroSigns(x, n, s->min, s->max);
    s->sums.n = nd;
    s->sums.sumsq = sum(sq);
    s->sums.mean = sum(sm) / nd;
  }
  r.p.finite_pairs = n;
  r.p.mismatches = static_cast<uint64_t>(hn::GetLane(hn::SumOfLanes(di, c_mis)));
  r.p.nan_mismatch = r.p.inf_mismatch = 0;
  r.p.max_abs = hn::GetLane(hn::MaxOfLanes(d, vmax));
  r.p.max_rel = hn::GetLane(hn::MaxOfLanes(d, vrel));
  r.p.sums = {sum(sabs), sum(sd2), r.a.sums.sumsq, r.b.sums.sumsq, sum(sab), 0};
  CorrectMeans<true>(buf, n, r);
  return true;
}

// One pass over a decoded block pair: both sides' counts, extremes and sums, the diff's sums,
// maxima and closeness, the three histograms' bins, and dabs/rel for the argmax search; then
// a second sweep for both sides' M2. Counters live in int64 lanes (a true mask is -1, so
// subtracting it counts) and are reduced once per block.
void ReduceBlockPair(BlockBuf& buf, size_t n, const PairParams& p, FusedBlock& r) {
  if (ReduceFiniteBlockPair(buf, n, p, r)) return;
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
    hn::Store(ExpBin(d, a), du, buf.bin_a + i);
    hn::Store(ExpBin(d, b), du, buf.bin_b + i);
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
    const auto dabs = hn::IfThenElse(F, ad, nan);
    hn::Store(dabs, d, buf.dabs + i);
    hn::Store(hn::IfThenElse(F, rel, nan), d, buf.rel + i);
    hn::Store(ExpBin(d, dabs), du, buf.bin_d + i);
    // close(a, b) on finite pairs; atol + rtol·|a| rounded twice, as numpy.isclose computes it
    // (no FMA): the same bits on every target. NaN and inf rules of DESIGN.md §4 elsewhere.
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
    FixZeroSigns(x, n, s.min, s.max);
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
  CorrectMeans<false>(buf, n, r);
}

void AddSide(SideExact& e, const SideBlock& s) {
  e.nonzero += s.nonzero;
  e.nan += s.nan;
  e.pos_inf += s.pos_inf;
  e.neg_inf += s.neg_inf;
  e.finite += s.finite;
  e.min = min_signed(e.min, s.min);
  e.max = max_signed(e.max, s.max);
}

// Level of the leaf blocks: each block is a level-0 subtree of the canonical sum tree.
constexpr int kLeaf = 0;

void SideChunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
               Partial& out) {
  out = Partial{};
  const size_t es = dtype_size(type);
  auto buf = std::make_unique<BlockBuf>();
  auto hist = std::make_unique<HistAcc>();
  out.a.count = n;
  for (uint64_t off = 0; off < n; off += kBlockElems) {
    const size_t m = static_cast<size_t>(std::min<uint64_t>(kBlockElems, n - off));
    DecodeBlock(type, raw + off * es, m, buf->a);
    const SideBlock s = ReduceSide(buf->a, m);
    AddSide(out.a, s);
    hist->add_block(buf->a, m);
    if (out.a.first_nonzero.size() < static_cast<size_t>(first_k) && s.nonzero > 0)
      scan_first_nonzero(buf->a, m, first + off, first_k, out.a.first_nonzero);
    TreeNode leaf;
    leaf.a = s.sums;
    out.tree.push(kLeaf, leaf);
  }
  hist->fold_into(out.a.mag_hist);
  out.a.checksum_sum = checksum_words(raw, first * es, n * es);
  out.bytes = n * es;
}

void PairChunk(const PairParams& p, const uint8_t* ra, const uint8_t* rb, uint64_t first,
               uint64_t n, Partial& out) {
  out = Partial{};
  const size_t ea = dtype_size(p.type_a), eb = dtype_size(p.type_b);
  const bool same = p.type_a == p.type_b;
  auto buf = std::make_unique<BlockBuf>();
  auto hist_ab = std::make_unique<PairHistAcc>();
  auto hist_d = std::make_unique<HistAcc>();
  HistAcc* hist_a = &hist_ab->a;
  HistAcc* hist_b = &hist_ab->b;
  out.a.count = out.b.count = n;
  DiffExact& de = out.d;
  for (uint64_t off = 0; off < n; off += kBlockElems) {
    const size_t m = static_cast<size_t>(std::min<uint64_t>(kBlockElems, n - off));
    DecodeBlock(p.type_a, ra + off * ea, m, buf->a);
    DecodeBlock(p.type_b, rb + off * eb, m, buf->b);
    FusedBlock fb;
    ReduceBlockPair(*buf, m, p, fb);
    const SideBlock& sa = fb.a;
    const SideBlock& sb = fb.b;
    const PairBlock& pb = fb.p;
    AddSide(out.a, sa);
    AddSide(out.b, sb);
    hist_ab->add_bins(buf->bin_a, buf->bin_b, m);
    hist_d->add_bins(buf->bin_d, m);
    if (out.a.first_nonzero.size() < static_cast<size_t>(p.first_k))
      scan_first_nonzero(buf->a, m, first + off, p.first_k, out.a.first_nonzero);
    if (out.b.first_nonzero.size() < static_cast<size_t>(p.first_k))
      scan_first_nonzero(buf->b, m, first + off, p.first_k, out.b.first_nonzero);
    de.finite_pairs += pb.finite_pairs;
    de.mismatches += pb.mismatches;
    de.nan_mismatch += pb.nan_mismatch;
    de.inf_mismatch += pb.inf_mismatch;
    if (pb.finite_pairs > 0) {
      // Only a block that beats the chunk's best so far is searched for the position: the
      // first index attaining the block's maximum (ties keep the smallest index).
      if (!de.has_max || pb.max_abs > de.max_abs.value) {
        const size_t i = std::find(buf->dabs, buf->dabs + m, pb.max_abs) - buf->dabs;
        de.max_abs = {pb.max_abs, first + off + i, buf->a[i], buf->b[i]};
      }
      if (!de.has_max || pb.max_rel > de.max_rel.value) {
        const size_t i = std::find(buf->rel, buf->rel + m, pb.max_rel) - buf->rel;
        de.max_rel = {pb.max_rel, first + off + i, buf->a[i], buf->b[i]};
      }
      de.has_max = true;
    }
    if (same)
      same_dtype_bits(p.type_a, ra + off * ea, rb + off * eb, m, de.bits_differ, de.max_ulp);
    TreeNode leaf;
    leaf.a = sa.sums;
    leaf.b = sb.sums;
    leaf.d = pb.sums;
    out.tree.push(kLeaf, leaf);
  }
  // --exact: for one dtype on both sides, "equal" means identical bits.
  if (same && p.exact) de.mismatches = de.bits_differ;
  hist_ab->fold();
  hist_a->fold_into(out.a.mag_hist);
  hist_b->fold_into(out.b.mag_hist);
  hist_d->fold_into(de.err_hist);
  for (auto [e, h] : {std::pair{&out.a, hist_a}, std::pair{&out.b, hist_b}}) {
    e->nan = h->total(kDiscardBin);
    e->pos_inf = h->total(kPosInfBin);
    e->neg_inf = h->total(kNegInfBin);
    e->nonzero = n - e->mag_hist.counts[ExpHistogram::kZero];
  }
  out.a.checksum_sum = checksum_words(ra, first * ea, n * ea);
  out.b.checksum_sum = checksum_words(rb, first * eb, n * eb);
  out.bytes = n * (ea + eb);
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace tensordiff
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tensordiff {
HWY_EXPORT(PairChunk);
HWY_EXPORT(SideChunk);
HWY_EXPORT(TargetName);

void cpu_pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                    uint64_t n, Partial& out) {
  HWY_DYNAMIC_DISPATCH(PairChunk)(p, a, b, first, n, out);
}
void cpu_side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                    Partial& out) {
  HWY_DYNAMIC_DISPATCH(SideChunk)(type, first_k, raw, first, n, out);
}
const char* cpu_target_name() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

namespace {
// The supported targets before any selection: DisableTargets() changes what
// SupportedTargets() reports, so a later selection must not read the narrowed list.
std::vector<int64_t> detected_targets() {
  static const std::vector<int64_t> all = hwy::SupportedAndGeneratedTargets();
  return all;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::vector<std::string> cpu_targets() {
  std::vector<std::string> names;
  for (int64_t t : detected_targets()) names.emplace_back(hwy::TargetName(t));
  return names;
}

bool cpu_select_target(const std::string& name) {
  // Re-selecting the current target changes nothing, so concurrent compare() calls with the
  // same setting never reset the dispatcher under each other's workers.
  static std::mutex mu;
  static int64_t disabled = 0;
  const std::string want = lower(name);
  int64_t disable = -1;
  if (want.empty() || want == "best") disable = 0;
  for (int64_t t : detected_targets())
    if (disable < 0 && lower(hwy::TargetName(t)) == want) disable = t - 1;
  if (disable < 0) return false;
  // Highway's target bits are ordered best first (lower bit = better): disabling every lower
  // bit leaves the requested target the best one the dispatcher can choose.
  std::lock_guard<std::mutex> lock(mu);
  if (disable != disabled) hwy::DisableTargets(disable);
  disabled = disable;
  return true;
}
}  // namespace tensordiff
#endif
