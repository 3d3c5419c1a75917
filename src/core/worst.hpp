// The K worst elements of a pair (docs/design.md §4 `worst`): the largest |b − a| over the finite
// pairs, ties to the smallest flat index, kept sorted. Exact in any grouping: a chunk's list is
// found by scanning only the blocks whose maximum can enter it, and lists of consecutive chunks
// merge like sorted runs. Host code shared by every backend's driver.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensordiff/metrics.hpp"

namespace tensordiff {

inline bool worse_than(const ExtremeAt& x, const ExtremeAt& y) {
  return x.value > y.value || (x.value == y.value && x.flat_index < y.flat_index);
}

// Whether a block whose largest |d| is `block_max` can add anything to the list.
inline bool worst_wants(const std::vector<ExtremeAt>& w, int k, double block_max) {
  return k > 0 && (static_cast<int>(w.size()) < k || block_max > w.back().value);
}

inline void worst_insert(std::vector<ExtremeAt>& w, int k, const ExtremeAt& e) {
  if (k <= 0 || (static_cast<int>(w.size()) == k && !worse_than(e, w.back()))) return;
  w.insert(std::upper_bound(w.begin(), w.end(), e, worse_than), e);
  if (static_cast<int>(w.size()) > k) w.pop_back();
}

// Decoded values of elements [first, first + n): every finite pair that enters the list.
inline void worst_scan(const double* a, const double* b, size_t n, uint64_t first, int k,
                       std::vector<ExtremeAt>& w) {
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) continue;
    const double ad = std::fabs(b[i] - a[i]);
    if (static_cast<int>(w.size()) < k || ad > w.back().value) worst_insert(w, k, {ad, first + i, a[i], b[i]});
  }
}

// `later` covers elements after all of `acc`'s.
inline void worst_merge(std::vector<ExtremeAt>& acc, const std::vector<ExtremeAt>& later, int k) {
  for (const auto& e : later) {
    if (static_cast<int>(acc.size()) == k && !worse_than(e, acc.back())) break;
    worst_insert(acc, k, e);
  }
}

}  // namespace tensordiff
