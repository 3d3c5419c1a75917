// What the CUDA kernel writes per block of kBlockElems elements: the leaf of the canonical sum
// tree plus the exact fields, so that the host merges GPU blocks exactly as it merges CPU
// blocks (DESIGN.md §4 determinism). Plain data shared by host and device code.
#pragma once
#include <cstdint>

namespace tensordiff::cuda {

struct SideOut {
  double n, mean, m2, sumsq;   // SideSums, in the units of 2^scale (core/sums.hpp)
  int32_t scale;
  double min, max;             // over finite values (+inf/-inf when none)
  uint32_t finite, nonzero, nan, pos_inf, neg_inf;
  uint64_t checksum_sum;       // Σ mix(w_j + φ(j+1)) over this block's words
};

struct BlockOut {
  SideOut a, b;
  double abs, d2, a2, b2, ab;  // DiffSums, in the units of 2^scale_d
  int32_t scale_d;
  uint32_t finite_pairs, mismatches, nan_mismatch, inf_mismatch, bits_differ;
  uint64_t max_ulp;
  double max_abs, max_rel;     // over finite pairs (0 when none)
  uint32_t max_abs_i, max_rel_i;  // first index in the block attaining them
};

// Histogram slots per side (87: DESIGN's 84 bins plus NaN, +inf, -inf) and their layout in
// the per-chunk histogram array: a, b, then |b − a|.
constexpr int kHistSlots = 87;

}  // namespace tensordiff::cuda
