// The GPU's algorithm, written once for the CUDA kernels (kernels/leaf_kernel.cu) and for their
// host emulator (kernels/device_chunk.cpp), which executes it lane by lane in the device's
// order so that CI proves the device's results without a GPU: same leaves, same reduction
// order, same tree, bit for bit.
//
// One warp reduces one leaf (kBlockElems = 256 elements) at a time: lane l holds 8 elements,
// loaded as 16-byte segments so that a warp's loads are contiguous. A warp takes an aligned
// group of 32 leaves (one level-5 subtree of the canonical tree) and combines its leaves level
// by level; a second kernel combines the groups the same way (group_pass below).
//
// Cross-lane steps and their fixed orders (both implementations follow these words):
//  - maxima: butterfly over xor distances 16, 8, 4, 2, 1 (max is exact in any order);
//  - the two means' sums: butterfly x_l + x_{l^d} for d = 16..1 (IEEE addition commutes, so
//    every lane ends with the same bits);
//  - the other eleven sums: lane f adds field f of lanes 0, 1, ..., 31 in that order;
//  - integer counts and exact fields: any order (they are exact).
// Arithmetic is plain IEEE double (no FMA contraction: kernels are compiled with -fmad=false,
// the emulator with -ffp-contract=off), so host and device round identically.
#pragma once
#include <cstdint>
#include <cstring>
#include <math.h>

#include <type_traits>

#include "core/bins.hpp"
#include "core/checksum.hpp"
#include "core/element.hpp"
#include "core/host_device.hpp"
#include "core/sums.hpp"
#include "core/ulp.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff::leaf {

constexpr int kLanes = 32;
constexpr int kLaneElems = static_cast<int>(kBlockElems) / kLanes;  // 8
static_assert(kLanes * kLaneElems == static_cast<int>(kBlockElems), "a warp holds one leaf");
constexpr int kGroupLevel = 5;
constexpr int kGroupLeaves = 1 << kGroupLevel;  // leaves per warp group
static_assert(kGroupLeaves <= kLanes, "a group's level pass gives each lane at most one pair");
constexpr int kBins = ExpHistogram::kBins;
constexpr int kHist = 3 * kBins;  // a, b, |b - a|
constexpr int kLaneSums = 11;     // the transposed sums of one leaf

// Elements per 16-byte segment: the wider side decides, so both sides' lane l holds the same
// elements. Lane l's element m is leaf element lane_element(l, m, E).
TD_HD constexpr int seg_elems(int ea, int eb) {
  return 16 / (ea > eb ? ea : eb) > kLaneElems ? kLaneElems : 16 / (ea > eb ? ea : eb);
}
TD_HD constexpr int lane_element(int lane, int m, int E) { return ((m / E) * kLanes + lane) * E + m % E; }

// ---- decoding (core/element.hpp: the CPU's decoders, the same functions) ----

// A lane's 8 elements of a dtype of ES bytes: one warp-uniform branch, then a loop with the
// dtype fixed (16 inlined 15-way switches made the kernel too large for the instruction cache).
template <DType T>
TD_HD inline void decode_lane_fixed(const uint64_t* raw, double* out) {
  TD_UNROLL for (int m = 0; m < kLaneElems; ++m) out[m] = decode::decode_fixed<T>(raw[m]);
}
template <int ES>
TD_HD inline void decode_lane(DType t, const uint64_t* raw, double* out) {
  if constexpr (ES == 8) {
    if (t == DType::kF64) decode_lane_fixed<DType::kF64>(raw, out);
    else if (t == DType::kI64) decode_lane_fixed<DType::kI64>(raw, out);
    else decode_lane_fixed<DType::kU64>(raw, out);
  } else if constexpr (ES == 4) {
    if (t == DType::kF32) decode_lane_fixed<DType::kF32>(raw, out);
    else if (t == DType::kI32) decode_lane_fixed<DType::kI32>(raw, out);
    else decode_lane_fixed<DType::kU32>(raw, out);
  } else if constexpr (ES == 2) {
    if (t == DType::kBF16) decode_lane_fixed<DType::kBF16>(raw, out);
    else if (t == DType::kF16) decode_lane_fixed<DType::kF16>(raw, out);
    else if (t == DType::kI16) decode_lane_fixed<DType::kI16>(raw, out);
    else decode_lane_fixed<DType::kU16>(raw, out);
  } else {
    if (t == DType::kF8E4M3) decode_lane_fixed<DType::kF8E4M3>(raw, out);
    else if (t == DType::kF8E5M2) decode_lane_fixed<DType::kF8E5M2>(raw, out);
    else if (t == DType::kI8) decode_lane_fixed<DType::kI8>(raw, out);
    else decode_lane_fixed<DType::kU8>(raw, out);  // u8, bool
  }
}

// ---- per-lane state ----

struct PairRule {
  DType ta, tb;
  int ea, eb;
  double rtol, atol;
  bool equal_nan, same;
  bool pair;  // false: one side only (stats); b is ignored
};

// What a lane holds of one leaf: its 8 elements' values; `valid` bit m set when element m lies
// before the chunk's end.
struct LaneVals {
  double a[kLaneElems], b[kLaneElems];
  unsigned valid;
};

struct Max3 {
  double a, b, f;
};
TD_HD inline Max3 max3(const Max3& x, const Max3& y) { return {fmax(x.a, y.a), fmax(x.b, y.b), fmax(x.f, y.f)}; }

TD_HD inline bool fin(double x) { return isfinite(x); }

TD_HD inline Max3 lane_max(const LaneVals& v, bool pair) {
  Max3 m{0, 0, 0};
  TD_UNROLL for (int k = 0; k < kLaneElems; ++k) {
    if (!((v.valid >> k) & 1)) continue;
    const bool fa = fin(v.a[k]), fb = pair && fin(v.b[k]);
    const double ma = fa ? fabs(v.a[k]) : 0.0, mb = fb ? fabs(v.b[k]) : 0.0;
    m.a = fmax(m.a, ma);
    m.b = fmax(m.b, mb);
    if (fa && fb) m.f = fmax(m.f, fmax(ma, mb));
  }
  return m;
}

struct Scales {
  int a, b, f;
  double ua, ub, uf;  // 2^-scale
};
TD_HD inline Scales scales_of(const Max3& m) {
  Scales s{square_scale(m.a), square_scale(m.b), square_scale(m.f), 0, 0, 0};
  s.ua = unit_factor(s.a);
  s.ub = unit_factor(s.b);
  s.uf = unit_factor(s.f);
  return s;
}

// The first sums (for the means) and the finite counts.
struct FirstSums {
  double sa, sb;
  unsigned na, nb;
};
TD_HD inline FirstSums lane_first(const LaneVals& v, const Scales& s, bool pair) {
  FirstSums r{0, 0, 0, 0};
  TD_UNROLL for (int k = 0; k < kLaneElems; ++k) {
    if (!((v.valid >> k) & 1)) continue;
    if (fin(v.a[k])) {
      r.sa = r.sa + v.a[k] * s.ua;
      ++r.na;
    }
    if (pair && fin(v.b[k])) {
      r.sb = r.sb + v.b[k] * s.ub;
      ++r.nb;
    }
  }
  return r;
}

// The eleven sums of a leaf, per lane: squares of each side, the diff sums over the finite
// pairs, and the deviations from the mean estimates (the corrected two-pass variance).
enum LaneSum { kSqA, kSqB, kAbs, kD2, kA2, kB2, kAB, kDevA, kDevB, kM2A, kM2B };
TD_HD inline void lane_sums(const LaneVals& v, const Scales& s, double m0a, double m0b, bool pair,
                            double out[kLaneSums]) {
  TD_UNROLL for (int f = 0; f < kLaneSums; ++f) out[f] = 0;
  TD_UNROLL for (int k = 0; k < kLaneElems; ++k) {
    if (!((v.valid >> k) & 1)) continue;
    const double a = v.a[k], b = v.b[k];
    const bool fa = fin(a), fb = pair && fin(b);
    if (fa) {
      const double as = a * s.ua, da = as - m0a;
      out[kSqA] = out[kSqA] + as * as;
      out[kDevA] = out[kDevA] + da;
      out[kM2A] = out[kM2A] + da * da;
    }
    if (fb) {
      const double bs = b * s.ub, db = bs - m0b;
      out[kSqB] = out[kSqB] + bs * bs;
      out[kDevB] = out[kDevB] + db;
      out[kM2B] = out[kM2B] + db * db;
    }
    if (fa && fb) {
      const double aF = a * s.uf, bF = b * s.uf, adF = fabs(bF - aF);
      out[kAbs] = out[kAbs] + adF;
      out[kD2] = out[kD2] + adF * adF;
      out[kA2] = out[kA2] + aF * aF;
      out[kB2] = out[kB2] + bF * bF;
      out[kAB] = out[kAB] + aF * bF;
    }
  }
}

// The leaf's tree node from the warp's totals.
TD_HD inline SideSums side_leaf(unsigned n, double sum, double sq, double dev, double m2, int scale) {
  SideSums r;
  r.n = n;
  const double m0 = n ? sum / n : 0.0;
  r.mean = n ? m0 + dev / n : 0.0;
  r.m2 = n ? fmax(0.0, m2 - dev * dev / n) : 0.0;
  r.sumsq = sq;
  r.scale = scale;
  return r;
}
TD_HD inline TreeNode leaf_node(const FirstSums& first, const double tot[kLaneSums], const Scales& s) {
  TreeNode t;
  t.a = side_leaf(first.na, first.sa, tot[kSqA], tot[kDevA], tot[kM2A], s.a);
  t.b = side_leaf(first.nb, first.sb, tot[kSqB], tot[kDevB], tot[kM2B], s.b);
  t.d = {tot[kAbs], tot[kD2], tot[kA2], tot[kB2], tot[kAB], s.f};
  return t;
}

// ---- exact fields: per lane, then per warp, block and chunk, in any order ----

struct Exact {
  // Counts. Per lane u32 would do, but a chunk's totals need 64 bits.
  unsigned long long fin_a, fin_b, nz_a, nz_b, nan_a, nan_b, pinf_a, pinf_b, ninf_a, ninf_b;
  unsigned long long fp, mis, nanm, infm, bits;
  double min_a, max_a, min_b, max_b;  // over finite values; ±inf when none
  unsigned long long ulp, cks_a, cks_b;
  double abs_v, rel_v;                // largest |b - a| and relative error; -1 when none
  unsigned long long abs_i, rel_i;    // chunk-relative index, ties to the smallest
};

// Exact or LaneExact: nothing counted, extremes at their identities, no argmax yet.
template <class Acc>
TD_HD inline void exact_init(Acc& e) {
  memset(&e, 0, sizeof e);
  e.min_a = e.min_b = as_double(kInfBits);
  e.max_a = e.max_b = -as_double(kInfBits);
  e.abs_v = e.rel_v = -1.0;
  e.abs_i = e.rel_i = ~decltype(e.abs_i)(0);
}

TD_HD inline void arg_max(double& v, unsigned long long& i, double v2, unsigned long long i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

TD_HD inline void exact_merge(Exact& x, const Exact& y) {
  x.fin_a += y.fin_a; x.fin_b += y.fin_b; x.nz_a += y.nz_a; x.nz_b += y.nz_b;
  x.nan_a += y.nan_a; x.nan_b += y.nan_b; x.pinf_a += y.pinf_a; x.pinf_b += y.pinf_b;
  x.ninf_a += y.ninf_a; x.ninf_b += y.ninf_b; x.fp += y.fp; x.mis += y.mis;
  x.nanm += y.nanm; x.infm += y.infm; x.bits += y.bits;
  x.min_a = min_signed(x.min_a, y.min_a);
  x.max_a = max_signed(x.max_a, y.max_a);
  x.min_b = min_signed(x.min_b, y.min_b);
  x.max_b = max_signed(x.max_b, y.max_b);
  x.ulp = x.ulp > y.ulp ? x.ulp : y.ulp;
  x.cks_a += y.cks_a;
  x.cks_b += y.cks_b;
  arg_max(x.abs_v, x.abs_i, y.abs_v, y.abs_i);
  arg_max(x.rel_v, x.rel_i, y.rel_v, y.rel_i);
}

// A lane's exact fields: 32-bit counts and indices (a chunk holds fewer than 2^32 elements),
// half the registers of Exact's.
struct LaneExact {
  uint32_t fin_a, fin_b, nz_a, nz_b, nan_a, nan_b, pinf_a, pinf_b, ninf_a, ninf_b;
  uint32_t fp, mis, nanm, infm, bits;
  double min_a, max_a, min_b, max_b;
  unsigned long long ulp, cks_a, cks_b;
  double abs_v, rel_v;
  uint32_t abs_i, rel_i;
};

TD_HD inline void arg_max(double& v, uint32_t& i, double v2, uint32_t i2) {
  if (v2 > v || (v2 == v && i2 < i)) {
    v = v2;
    i = i2;
  }
}

TD_HD inline Exact widen(const LaneExact& l) {
  Exact e;
  e.fin_a = l.fin_a; e.fin_b = l.fin_b; e.nz_a = l.nz_a; e.nz_b = l.nz_b; e.nan_a = l.nan_a;
  e.nan_b = l.nan_b; e.pinf_a = l.pinf_a; e.pinf_b = l.pinf_b; e.ninf_a = l.ninf_a; e.ninf_b = l.ninf_b;
  e.fp = l.fp; e.mis = l.mis; e.nanm = l.nanm; e.infm = l.infm; e.bits = l.bits;
  e.min_a = l.min_a; e.max_a = l.max_a; e.min_b = l.min_b; e.max_b = l.max_b;
  e.ulp = l.ulp; e.cks_a = l.cks_a; e.cks_b = l.cks_b;
  e.abs_v = l.abs_v; e.rel_v = l.rel_v;
  e.abs_i = l.abs_i == ~0u ? ~0ull : l.abs_i;
  e.rel_i = l.rel_i == ~0u ? ~0ull : l.rel_i;
  return e;
}

// A dtype fixed at compile time (a typed kernel: leaf_kernel.cu), or kAnyType: the rule's
// run-time dtype. A typed kernel's exact_element is the same function with its run-time
// branches on the dtypes and on `pair` folded away (tests/unit/leaf_typed_test.cpp holds the
// typed results to the run-time ones, the emulator's, for every bit pattern class).
constexpr int kAnyType = -1;
TD_HD constexpr int type_bytes(int t) {
  return t == int(DType::kF64) || t == int(DType::kI64) || t == int(DType::kU64) ? 8
         : t == int(DType::kF32) || t == int(DType::kI32) || t == int(DType::kU32) ? 4
         : t == int(DType::kF16) || t == int(DType::kBF16) || t == int(DType::kI16) || t == int(DType::kU16) ? 2
                                                                                                               : 1;
}

// One element (chunk-relative index i) into a lane's exact fields; `bin` receives the three
// histogram slots (-1: not counted). ra/rb: raw bits, for same-dtype pairs. TA, TB: the pair's
// dtypes when a typed kernel knows them (kAnyType: p.ta, p.tb); PAIR: 1 or 0 when known, else -1.
template <int TA = kAnyType, int TB = kAnyType, int PAIR = -1, class Acc>
TD_HD inline void exact_element(Acc& e, const PairRule& p, double a, double b, uint64_t ra, uint64_t rb,
                                uint32_t i, int bins[3]) {
  constexpr bool kTyped = TA != kAnyType && TB != kAnyType;
  const bool pair = PAIR >= 0 ? PAIR == 1 : p.pair;
  const bool same = kTyped ? TA == TB : p.same;
  const bool fa = fin(a), na = isnan(a);
  e.fin_a += fa;
  e.nz_a += (a != 0) || na;
  e.nan_a += na;
  e.pinf_a += a == as_double(kInfBits);
  e.ninf_a += a == -as_double(kInfBits);
  bins[0] = fa ? magnitude_bin(a) : -1;
  if (fa) {
    e.min_a = min_signed(e.min_a, a);
    e.max_a = max_signed(e.max_a, a);
  }
  bins[1] = bins[2] = -1;
  if (!pair) return;
  const bool fb = fin(b), nb = isnan(b), F = fa && fb;
  e.fin_b += fb;
  e.nz_b += (b != 0) || nb;
  e.nan_b += nb;
  e.pinf_b += b == as_double(kInfBits);
  e.ninf_b += b == -as_double(kInfBits);
  bins[1] = fb ? magnitude_bin(b) : -1;
  if (fb) {
    e.min_b = min_signed(e.min_b, b);
    e.max_b = max_signed(e.max_b, b);
  }
  const double ad = fabs(b - a);
  // atol + rtol·|a| with two roundings, never fused: the CPU backend's exact rule.
  const bool close = F && ad <= p.atol + p.rtol * fabs(a);
  const bool both_nan = na && nb, one_nan = na != nb;
  const bool nan_bad = one_nan || (both_nan && !p.equal_nan);
  const bool inf_pair = !F && !na && !nb;
  const bool inf_bad = inf_pair && a != b;
  const bool equal = close || (inf_pair && !inf_bad) || (both_nan && p.equal_nan);
  e.fp += F;
  e.mis += !equal;
  e.nanm += nan_bad;
  e.infm += inf_bad;
  if (same) {
    e.bits += ra != rb;
    if (F) {
      uint64_t u;
      if constexpr (kTyped) {
        // Elements up to 4 bytes: their distances fit 32 bits (ulp_distance's UlpLane).
        using D = std::conditional_t<type_bytes(TA) <= 4, uint32_t, uint64_t>;
        u = ulp_bits<D>(static_cast<D>(ra), static_cast<D>(rb), 8 * type_bytes(TA), ulp_order(DType(TA)));
      } else {
        u = ulp_distance(p.ta, ra, rb, p.ea);
      }
      e.ulp = e.ulp > u ? e.ulp : u;
    }
  }
  if (F) {
    bins[2] = magnitude_bin(ad);
    arg_max(e.abs_v, e.abs_i, ad, i);
    // The division only where the quotient can reach the lane's maximum: skipped when
    // ad < rel_v·|a|·(1 - 2^-40), which no rounding (2^-52 relative) can carry up to rel_v.
    if (!(ad < e.rel_v * fabs(a) * (1.0 - 0x1p-40)))
      arg_max(e.rel_v, e.rel_i, ad == 0 ? 0.0 : ad / fabs(a), i);
  }
}

// ---- checksum words ----

// The term of the leaf's word w (global word index word0 + w), zero when the word starts at or
// past the chunk's last byte: words past the end do not exist; a partial word is zero-padded
// (the device buffer is zeroed past the data).
TD_HD inline uint64_t word_term(uint64_t word, uint64_t word0, unsigned w, uint64_t leaf_bytes) {
  return 8ull * w >= leaf_bytes ? 0 : checksum_term(word, word0 + w);
}

// ---- the tree, level by level ----

// A finished subtree: 2^level blocks.
struct StackNode {
  int level;
  TreeNode node;
};
constexpr int kMaxStack = 48;  // a chunk of < 2^37 blocks

// The pairwise pass over `c` nodes at level `level`, in place: while nodes remain, an odd last
// node is a finished subtree (recorded, then dropped), and pairs (2i, 2i+1) combine into node
// i one level up. Records come in increasing level, i.e. right to left; returns their count.
// The device runs each level's pairs in parallel: every combine is a pure function of the same
// two nodes, so the result is the same bits.
TD_HD inline int level_pass(TreeNode* nodes, int c, int level, StackNode* found) {
  int k = 0;
  while (c > 0) {
    if (c & 1) found[k++] = {level, nodes[c - 1]};
    c /= 2;
    for (int i = 0; i < c; ++i) nodes[i] = combine(nodes[2 * i], nodes[2 * i + 1]);
    ++level;
  }
  return k;
}

// What a chunk reduces to on the device (kilobytes, whatever its size): the exact fields, the
// three histograms, and the chunk's subtrees left to right (levels strictly decreasing).
struct ChunkResult {
  Exact exact;
  unsigned long long hist[kHist];
  int stack_size;
  StackNode stack[kMaxStack];
};

// Per group: what the host needs to find first nonzeros and worst elements without scanning
// the whole chunk (it reads only groups that can contribute).
struct GroupInfo {
  unsigned nz_a, nz_b;  // nonzero elements in the group (NaN counts)
  double max_ad;        // largest |b - a| over its finite pairs, -1 when none
};

}  // namespace tensordiff::leaf
