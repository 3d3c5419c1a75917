// The scalar parts of the CPU kernel, compiled once per SIMD target (the compiler vectorises
// their loops for each: the checksum's 64-bit multiplies, the ULP loop): histogram counters,
// checksum words, bits_differ/max_ulp, first nonzeros. Included by chunk_kernel.cpp inside
// Highway's per-target namespace (foreach_target.h re-includes it once per target).
#if defined(TENSORDIFF_CPU_SCALAR_PARTS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TENSORDIFF_CPU_SCALAR_PARTS_INL_H_
#undef TENSORDIFF_CPU_SCALAR_PARTS_INL_H_
#else
#define TENSORDIFF_CPU_SCALAR_PARTS_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/partial.hpp"
#include "core/ulp.hpp"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tensordiff {
namespace HWY_NAMESPACE {

// Bins past the histogram's own (core/bins.hpp): the SIMD passes send NaN, +inf and -inf there,
// so that each side's counts of them are read off its histogram.
constexpr int kDiscardBin = ExpHistogram::kBins;  // NaN
constexpr int kPosInfBin = kDiscardBin + 1, kNegInfBin = kDiscardBin + 2;

// Four interleaved copies so that runs of values in one bin do not serialise on one counter.
struct HistAcc {
  uint64_t c[4][ExpHistogram::kBins + 3] = {};
  uint64_t total(int bin) const { return c[0][bin] + c[1][bin] + c[2][bin] + c[3][bin]; }
  void add_bins(const uint64_t* bins, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) ++c[k][bins[i + k]];
    for (; i < n; ++i) ++c[0][bins[i]];
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
  // ab[i] = bin of a | bin of b << 8 (one SIMD store per vector instead of two).
  void add_packed(const uint64_t* ab, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const uint64_t ba = ab[i] & 0xff, bb = ab[i] >> 8;
      if (ba == bb) {
        ++both.c[i & 3][ba];
      } else {
        ++a.c[i & 3][ba];
        ++b.c[i & 3][bb];
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

// The fast path's histograms as one joint count per (bin of a = bin of b, bin of |b − a|):
// one counter increment per element instead of two (a shared a/b counter and the error
// histogram), the largest cost of the kernel before (1.0 of 3.0 ns per element on AVX2).
// Elements whose a and b bins differ (key kSplit | bin_d) go to the per-side counters.
// 32-bit counts: the driver folds at least every kFoldElems elements. Two interleaved copies
// so that runs of one key do not serialise on one counter.
struct JointHist {
  static constexpr int kBins = ExpHistogram::kBins;  // finite bins only on the fast path
  static constexpr uint64_t kSplit = 0x8000;
  static constexpr uint64_t kFoldElems = uint64_t(1) << 31;
  uint32_t c[2][kBins * kBins] = {};

  void add(const uint64_t* keys, const uint64_t* ab, size_t n, PairHistAcc& split, HistAcc& d) {
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
      for (size_t k = 0; k < 2; ++k) {
        const uint64_t key = keys[i + k];
        if (HWY_LIKELY(key < kSplit)) ++c[k][key];
        else add_split(ab[i + k], key & 0xff, i + k, split, d);
      }
    for (; i < n; ++i) {
      if (keys[i] < kSplit) ++c[0][keys[i]];
      else add_split(ab[i], keys[i] & 0xff, i, split, d);
    }
  }
  static void add_split(uint64_t ab, uint64_t bd, size_t i, PairHistAcc& split, HistAcc& d) {
    ++split.a.c[i & 3][ab & 0xff];
    ++split.b.c[i & 3][ab >> 8];
    ++d.c[i & 3][bd];
  }
  // Adds the joint counts to both sides' and the error histogram's, and clears them.
  void fold_into(ExpHistogram& a, ExpHistogram& b, ExpHistogram& d) {
    for (int ba = 0; ba < kBins; ++ba) {
      uint64_t row = 0;
      uint32_t* r0 = c[0] + ba * kBins;
      uint32_t* r1 = c[1] + ba * kBins;
      for (int bd = 0; bd < kBins; ++bd) {
        const uint64_t x = uint64_t(r0[bd]) + r1[bd];
        row += x;
        d.counts[bd] += x;
      }
      a.counts[ba] += row;
      b.counts[ba] += row;
    }
    std::memset(c, 0, sizeof c);
  }
};

// Checksum words of docs/design.md §4 for bytes [offset, offset + len) of the tensor; offset is a
// multiple of 8, a trailing partial word is zero-padded.
// φ·(j+1) advances by φ per word: an induction variable, so the vectorised loop needs no
// 64-bit multiply for it (AVX2 has none: each costs three 32-bit ones).
inline uint64_t checksum_words(const uint8_t* p, uint64_t offset, uint64_t len) {
  uint64_t sum = 0, g = kGolden * (offset / 8 + 1);
  const uint64_t full = len / 8;
  for (uint64_t w = 0; w < full; ++w) {
    uint64_t x;
    std::memcpy(&x, p + 8 * w, 8);
    sum += splitmix64_mix(x + g);
    g += kGolden;
  }
  if (len % 8) {
    uint64_t x = 0;
    std::memcpy(&x, p + 8 * full, len % 8);
    sum += splitmix64_mix(x + g);
  }
  return sum;
}

// bits_differ over every element and max_ulp over the finite pairs. Works on the raw
// elements in lanes of their own width (core/ulp.hpp's UlpLane: 32-bit distances for types up
// to 4 bytes) so that the loop vectorises; a float element is finite when
// (bits & nonfinite) != nonfinite (exponent all ones for IEEE-like types, 0x7f for
// float8_e4m3fn's only NaN pattern).
template <typename T, bool kFloat>
inline void bits_and_ulp(const uint8_t* a, const uint8_t* b, size_t n, T nonfinite,
                         uint64_t& bits_differ, uint64_t& max_ulp) {
  using U = std::make_unsigned_t<T>;
  using D = UlpLane<T>;
  const U nf = static_cast<U>(nonfinite);
  D worst = 0;
  uint32_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    T x, y;
    std::memcpy(&x, a + i * sizeof(T), sizeof(T));
    std::memcpy(&y, b + i * sizeof(T), sizeof(T));
    differ += x != y;
    D keep = 1;
    if constexpr (kFloat) keep = ((static_cast<U>(x) & nf) != nf) & ((static_cast<U>(y) & nf) != nf);
    worst = std::max<D>(worst, ulp_distance<T, kFloat>(x, y) * keep);
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

}  // namespace HWY_NAMESPACE
}  // namespace tensordiff
HWY_AFTER_NAMESPACE();

#endif  // TENSORDIFF_CPU_SCALAR_PARTS_INL_H_
