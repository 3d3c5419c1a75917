// What one chunk (or one chunk pair) reduces to, and how partials merge deterministically.
//
// Exact fields (counts, min/max, argmax, histograms, first nonzeros, checksum words) merge
// exactly in any grouping. Floating sums live in a canonical pairwise tree over fixed blocks of
// kBlockElems elements aligned to the tensor's flat index: chunks hold a power-of-two number of
// blocks, so a chunk is a whole subtree (or the ragged tail) and merging chunk trees in order
// reproduces the same tree, bit for bit, whatever the chunk size or thread count.
#pragma once
#include <cstdint>
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "tensordiff/metrics.hpp"

namespace tensordiff {

constexpr uint64_t kBlockElems = 256;

// One side's finite values: count, mean and M2 (sum of squared deviations from the mean),
// merged with Chan's formula so that std never suffers the cancellation of E[x²] − E[x]²;
// sumsq for the L2 norm.
struct SideSums {
  double n = 0, mean = 0, m2 = 0, sumsq = 0;
};

// Sums over the finite pairs F.
struct DiffSums {
  double abs = 0, d2 = 0, a2 = 0, b2 = 0, ab = 0;
};

// The squared sums (m2, sumsq, d2, a2, b2, ab) are stored divided by 2^(2·scale): a block of
// float64 values beyond 2^±kSafeExp squares them scaled by a power of two (exact), so they
// neither overflow nor underflow; `combine` brings two nodes to the larger scale and
// renormalises sums that grow large. Linear sums (mean, abs) are never scaled.
struct TreeNode {
  SideSums a, b;
  DiffSums d;
  int scale = 0;
};

constexpr int kSafeExp = 500;

// The scale exponent for a block whose largest finite |value| is max_abs: 0 in the safe range.
inline int square_scale(double max_abs) {
  if (!(max_abs > 0) || max_abs == std::numeric_limits<double>::infinity()) return 0;
  const int e = std::ilogb(max_abs);
  // Clamped so that 2^-scale itself stays a normal float64 (subnormals reach 2^-1074).
  return (e > kSafeExp || e < -kSafeExp) ? std::max(-1022, std::min(e, 1022)) : 0;
}

TreeNode combine(const TreeNode& left, const TreeNode& right);

class SumTree {
 public:
  // Adds a subtree of 2^level blocks that follows everything pushed so far.
  void push(int level, const TreeNode& node);
  // Appends the subtrees of `later` (which covers the blocks right after this tree's).
  void append(const SumTree& later);
  TreeNode total() const;
  bool empty() const { return stack_.empty(); }

 private:
  std::vector<std::pair<int, TreeNode>> stack_;  // levels strictly decreasing
};

struct SideExact {
  uint64_t count = 0, nonzero = 0, nan = 0, pos_inf = 0, neg_inf = 0, finite = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::vector<NonzeroEntry> first_nonzero;
  ExpHistogram mag_hist;
  uint64_t checksum_sum = 0;  // Σ mix(w_j + φ·(j+1)) mod 2^64 over this part's words
};

struct DiffExact {
  uint64_t finite_pairs = 0, mismatches = 0, nan_mismatch = 0, inf_mismatch = 0;
  uint64_t bits_differ = 0, max_ulp = 0;
  bool has_max = false;  // max_abs/max_rel are set once a finite pair was seen
  ExtremeAt max_abs, max_rel;
  ExpHistogram err_hist;
};

struct Partial {
  SumTree tree;
  SideExact a, b;  // b unused for single-side (stats) work
  DiffExact d;
  uint64_t bytes = 0;  // bytes read for this part
};

// Folds `later` (the next chunk in flat order) into `acc`.
void merge_partial(Partial& acc, const Partial& later, int first_k);

SideStats finalize_side(const SideExact& e, const SideSums& s, int scale, uint64_t byte_count);
DiffStats finalize_diff(const DiffExact& e, const DiffSums& s, int scale, uint64_t count,
                        bool same_dtype);

// Checksum of DESIGN.md §4.
// Shared with the CUDA kernel, so that both backends use one definition of the checksum.
#ifdef __CUDACC__
#define TENSORDIFF_HOST_DEVICE __host__ __device__
#else
#define TENSORDIFF_HOST_DEVICE
#endif
TENSORDIFF_HOST_DEVICE inline uint64_t splitmix64_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
uint64_t finalize_checksum(uint64_t word_sum, uint64_t byte_count);

}  // namespace tensordiff
