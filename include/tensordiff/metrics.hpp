// The fields of docs/design.md §4, under the names the JSON report uses.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "tensordiff/compact.hpp"

namespace tensordiff {

// Counts of |x| binned by binary exponent: exact zero, |x| < 2^-40 (underflow), one bin per
// exponent e in [-40, 40] holding 2^e <= |x| < 2^(e+1), and |x| >= 2^41 (overflow).
struct ExpHistogram {
  static constexpr int kMinExp = -40;
  static constexpr int kMaxExp = 40;
  static constexpr int kExpBins = kMaxExp - kMinExp + 1;  // 81
  static constexpr int kZero = 0, kUnderflow = 1, kFirstExp = 2, kOverflow = kFirstExp + kExpBins;
  static constexpr int kBins = kOverflow + 1;  // 84
  std::array<uint64_t, kBins> counts{};

  uint64_t total() const;
  void add(const ExpHistogram& o);
  // Upper edge of the bin holding the q-quantile (0 < q <= 1) of the counted values; 0 when
  // that bin is the zero bin; +inf for the overflow bin; nullopt when nothing was counted.
  std::optional<double> quantile_upper_bound(double q) const;
};

// What reports keep of a histogram: its non-empty bins (ExpHistogram's bin index, count) by
// increasing bin. A tensor fills a handful of the 84 bins; 10^5 tensors of dense histograms
// would hold 200 MB of zeros.
struct SparseHistogram {
  CompactVector<std::pair<uint8_t, uint64_t>> bins;

  static SparseHistogram from(const ExpHistogram& h);
  ExpHistogram dense() const;
  uint64_t count(int bin) const;
  uint64_t total() const;
  std::optional<double> quantile_upper_bound(double q) const { return dense().quantile_upper_bound(q); }
  bool operator==(const SparseHistogram& o) const { return bins == o.bins; }
};

struct NonzeroEntry {
  uint64_t flat_index = 0;
  double value = 0;
};

// Per side (a or b) and the output of `tensordiff stats`.
struct SideStats {
  uint64_t count = 0, nonzero = 0, nan = 0, pos_inf = 0, neg_inf = 0;
  uint64_t finite = 0;
  OptionalDouble min, max, mean, std, l2;  // over finite values; empty when none
  CompactVector<NonzeroEntry> first_nonzero;
  SparseHistogram mag_hist;
  uint64_t checksum = 0;
  bool checksum_known = true;  // false: never written and too large to checksum (JSON null)
  // false: a summary that records no nonzero/NaN/inf counts (msprobe's statistics; JSON null)
  bool counts_known = true;
  // The unit roundoff the producer's reductions (mean, l2) ran at: 0 for this engine's
  // (float64, exact to the report's digits); 2^-24 for msprobe's statistics (float32). A float
  // (both are exact in one), packed beside the flags: 8 bytes a side of every pair.
  float reduction_roundoff = 0;
};

struct ExtremeAt {
  double value = 0;
  uint64_t flat_index = 0;
  double a = 0, b = 0;  // the two values there
};

// std::optional<ExtremeAt> in 32 bytes instead of 40: "none" is a flat index no tensor has.
class OptionalExtreme {
 public:
  OptionalExtreme() = default;
  OptionalExtreme(std::nullopt_t) {}
  OptionalExtreme(const ExtremeAt& e) : e_(e) {}
  OptionalExtreme(const std::optional<ExtremeAt>& e) {
    if (e) e_ = *e;
  }
  OptionalExtreme& operator=(std::nullopt_t) { return reset(), *this; }
  OptionalExtreme& operator=(const ExtremeAt& e) { return e_ = e, *this; }
  void reset() { e_ = ExtremeAt{0, kNone, 0, 0}; }
  bool has_value() const { return e_.flat_index != kNone; }
  explicit operator bool() const { return has_value(); }
  const ExtremeAt& operator*() const { return e_; }
  ExtremeAt& operator*() { return e_; }
  const ExtremeAt* operator->() const { return &e_; }
  ExtremeAt* operator->() { return &e_; }
  const ExtremeAt& value() const { return e_; }
  operator std::optional<ExtremeAt>() const { return has_value() ? std::optional<ExtremeAt>(e_) : std::nullopt; }

 private:
  static constexpr uint64_t kNone = ~uint64_t(0);
  ExtremeAt e_{0, kNone, 0, 0};
};

struct DiffStats {
  uint64_t count = 0;
  uint64_t finite_pairs = 0;  // |F|
  OptionalExtreme max_abs, max_rel;  // empty when F is empty
  OptionalDouble mean_abs, rmse;              // empty when F is empty
  double rel_l2 = 0, cosine = 1;
  uint64_t mismatches = 0, nan_mismatch = 0, inf_mismatch = 0;
  double mismatch_fraction = 0;
  bool same_dtype = false;  // bits_differ and max_ulp are set only then
  uint64_t bits_differ = 0, max_ulp = 0;
  SparseHistogram err_hist;
  CompactVector<ExtremeAt> worst;  // the K largest |d| (ties: smallest index), largest first
  // The first K NaN/inf mismatches in flat order (value: NaN for a NaN mismatch, +inf for an
  // inf one); empty when there are none.
  CompactVector<ExtremeAt> nonfinite;
};

// A report's "no side statistics" / "no diff": values no result holds (a reduction roundoff is
// 0 or 2^-24, never NaN; no tensor has 2^64 - 1 elements).
template <>
struct PackedNone<SideStats> {
  // By its bits (a NaN test would fold away under -ffinite-math-only).
  static constexpr uint32_t kNone = 0x7fc0c0feu;  // a quiet NaN
  static void mark(SideStats& s) { std::memcpy(&s.reduction_roundoff, &kNone, 4); }
  static bool marked(const SideStats& s) {
    uint32_t bits;
    std::memcpy(&bits, &s.reduction_roundoff, 4);
    return bits == kNone;
  }
};
template <>
struct PackedNone<DiffStats> {
  static void mark(DiffStats& d) { d.count = d.finite_pairs = ~uint64_t(0); }
  static bool marked(const DiffStats& d) { return d.count == ~uint64_t(0) && d.finite_pairs == ~uint64_t(0); }
};

// Comparing two summaries (no data): what can be said from the per-side fields alone.
struct SummaryDiff {
  bool checksum_equal = false;
  OptionalDouble d_min, d_max, d_mean, d_std;  // b − a
  bool first_nonzero_equal = false;  // same flat indices, values close under the tolerance
};

}  // namespace tensordiff
