// The CPU backend: one Highway kernel, compiled for every x86/ARM target and chosen at run
// time. Per block of kBlockElems elements: values are widened to float64 in L1 (float64 is
// read in place); the fast path (block_fast-inl.h) reduces all-finite blocks, the general pass
// (block_general-inl.h) any block with NaN, inf, extreme magnitudes or a ragged length. Then scalar sweeps for what is inherently
// scalar (scalar_parts-inl.h): histogram increments, first nonzeros, the argmax position,
// the ULP distance on the raw bits, the checksum words.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "cpu/chunk_kernel.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>

#include "cpu/chunk_kernel.hpp"
#include "cpu/scalar_parts-inl.h"
#include "cpu/loaders-inl.h"
#include "cpu/block_general-inl.h"
#include "cpu/block_fast-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tensordiff {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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
    SideBlock s;
    bool fast;
    if (type == DType::kF64) {
      fast = FastSideBlock(F64Src{raw + off * es}, m, s, buf->bins_ab);
      if (!fast || out.a.first_nonzero.size() < static_cast<size_t>(first_k))
        DecodeBlock(type, raw + off * es, m, buf->a);
    } else {
      DecodeBlock(type, raw + off * es, m, buf->a);
      fast = FastSideBlock(DecodedSrc{buf->a}, m, s, buf->bins_ab);
    }
    if (!fast) {
      s = ReduceSide(buf->a, m);
      StoreBins(buf->a, m, buf->bins_ab);
    }
    AddSide(out.a, s);  // its counts of zeros, NaN and inf are replaced from the histogram
    hist->add_bins(buf->bins_ab, m);
    if (out.a.first_nonzero.size() < static_cast<size_t>(first_k))
      scan_first_nonzero(buf->a, m, first + off, first_k, out.a.first_nonzero);
    TreeNode leaf;
    leaf.a = s.sums;
    out.tree.push(kLeaf, leaf);
  }
  hist->fold_into(out.a.mag_hist);
  out.a.nan = hist->total(kDiscardBin);
  out.a.pos_inf = hist->total(kPosInfBin);
  out.a.neg_inf = hist->total(kNegInfBin);
  out.a.nonzero = n - out.a.mag_hist.counts[ExpHistogram::kZero];
  out.a.checksum_sum = checksum_words(raw, first * es, n * es);
  out.bytes = n * es;
}

// The first element of a decoded block whose |b − a| (or |b − a|/|a|) equals `value`, computed
// exactly as the SIMD passes compute it (IEEE operations, so the same bits).
size_t FindExtreme(const BlockBuf& buf, size_t n, double value, bool relative) {
  for (size_t i = 0; i < n; ++i) {
    const double a = buf.a[i], b = buf.b[i];
    if (!std::isfinite(a) || !std::isfinite(b)) continue;
    const double ad = std::fabs(b - a);
    const double v = relative ? (ad == 0 ? 0.0 : ad / std::fabs(a)) : ad;
    if (v == value) return i;
  }
  return 0;  // not reached: `value` is the maximum of these same values
}

// SA, SB: the loaders of the fast path; DecodedSrc for dtypes read through the decoded block.
template <class SA, class SB>
void PairBlocks(const PairParams& p, const uint8_t* ra, const uint8_t* rb, uint64_t first,
                uint64_t n, Partial& out) {
  const size_t ea = dtype_size(p.type_a), eb = dtype_size(p.type_b);
  const bool same = p.type_a == p.type_b;
  auto buf = std::make_unique<BlockBuf>();
  auto hist_ab = std::make_unique<PairHistAcc>();
  auto hist_d = std::make_unique<HistAcc>();
  // Per worker thread, kept between chunks: clearing its 56 KB is part of each fold.
  static thread_local const std::unique_ptr<JointHist> joint = std::make_unique<JointHist>();
  DiffExact& de = out.d;
  uint64_t unfolded = 0;
  for (uint64_t off = 0; off < n; off += kBlockElems) {
    const size_t m = static_cast<size_t>(std::min<uint64_t>(kBlockElems, n - off));
    const uint8_t* pa = ra + off * ea;
    const uint8_t* pb = rb + off * eb;
    // The decoded block is needed by the general pass and by the rare scalar sweeps below.
    bool decoded = false;
    auto decode = [&] {
      if (decoded) return;
      DecodeBlock(p.type_a, pa, m, buf->a);
      DecodeBlock(p.type_b, pb, m, buf->b);
      decoded = true;
    };
    FusedBlock fb;
    bool fast;
    if constexpr (std::is_same_v<SA, DecodedSrc>) {
      decode();
      fast = FastBlockPair(DecodedSrc{buf->a}, DecodedSrc{buf->b}, m, p, fb, *buf);
    } else {
      fast = FastBlockPair(SA{pa}, SB{pb}, m, p, fb, *buf);
    }
    if (!fast) {
      decode();
      ReduceBlockPairGeneral(*buf, m, p, fb);
    }
    const PairBlock& pr = fb.p;
    AddSide(out.a, fb.a);
    AddSide(out.b, fb.b);
    if (fast) {
      joint->add(buf->bins_d, buf->bins_ab, m, *hist_ab, *hist_d);
      if ((unfolded += m) >= JointHist::kFoldElems) {
        joint->fold_into(out.a.mag_hist, out.b.mag_hist, de.err_hist);
        unfolded = 0;
      }
    } else {
      hist_ab->add_packed(buf->bins_ab, m);
      hist_d->add_bins(buf->bins_d, m);
    }
    for (auto [side, x] : {std::pair{&out.a, buf->a}, std::pair{&out.b, buf->b}}) {
      if (side->first_nonzero.size() >= static_cast<size_t>(p.first_k)) continue;
      decode();
      scan_first_nonzero(x, m, first + off, p.first_k, side->first_nonzero);
    }
    de.finite_pairs += pr.finite_pairs;
    de.mismatches += pr.mismatches;
    de.nan_mismatch += pr.nan_mismatch;
    de.inf_mismatch += pr.inf_mismatch;
    if (pr.finite_pairs > 0) {
      // Only a block that beats the chunk's best so far is searched for the position: the
      // first index attaining the block's maximum (ties keep the smallest index).
      if (!de.has_max || pr.max_abs > de.max_abs.value) {
        decode();
        const size_t i = FindExtreme(*buf, m, pr.max_abs, false);
        de.max_abs = {pr.max_abs, first + off + i, buf->a[i], buf->b[i]};
      }
      if (!de.has_max || pr.max_rel > de.max_rel.value) {
        decode();
        const size_t i = FindExtreme(*buf, m, pr.max_rel, true);
        de.max_rel = {pr.max_rel, first + off + i, buf->a[i], buf->b[i]};
      }
      de.has_max = true;
      if (worst_wants(de.worst, p.worst_k, pr.max_abs)) {
        decode();
        worst_scan(buf->a, buf->b, m, first + off, p.worst_k, de.worst);
      }
    }
    if (same) same_dtype_bits(p.type_a, pa, pb, m, de.bits_differ, de.max_ulp);
    TreeNode leaf;
    leaf.a = fb.a.sums;
    leaf.b = fb.b.sums;
    leaf.d = pr.sums;
    out.tree.push(kLeaf, leaf);
  }
  joint->fold_into(out.a.mag_hist, out.b.mag_hist, de.err_hist);
  hist_ab->fold();
  hist_ab->a.fold_into(out.a.mag_hist);
  hist_ab->b.fold_into(out.b.mag_hist);
  hist_d->fold_into(de.err_hist);
  for (auto [e, h] : {std::pair{&out.a, &hist_ab->a}, std::pair{&out.b, &hist_ab->b}}) {
    e->nan = h->total(kDiscardBin);
    e->pos_inf = h->total(kPosInfBin);
    e->neg_inf = h->total(kNegInfBin);
    e->nonzero = n - e->mag_hist.counts[ExpHistogram::kZero];
  }
}

void PairChunk(const PairParams& p, const uint8_t* ra, const uint8_t* rb, uint64_t first,
               uint64_t n, Partial& out) {
  out = Partial{};
  out.a.count = out.b.count = n;
  const DType ta = p.type_a, tb = p.type_b;
  // float64 pairs are read in place; every other dtype is widened into the L1 block once
  // (measured: as fast as widening float32 in each sweep, faster for bfloat16).
  if (ta == DType::kF64 && tb == DType::kF64) PairBlocks<F64Src, F64Src>(p, ra, rb, first, n, out);
  else PairBlocks<DecodedSrc, DecodedSrc>(p, ra, rb, first, n, out);
  // --exact: for one dtype on both sides, "equal" means identical bits.
  if (ta == tb && p.exact) out.d.mismatches = out.d.bits_differ;
  const size_t ea = dtype_size(ta), eb = dtype_size(tb);
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
