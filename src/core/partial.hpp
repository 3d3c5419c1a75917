// What one chunk (or one chunk pair) reduces to, and how partials merge deterministically.
// Host code: the exact fields, the canonical tree (whose node and combine are core/sums.hpp)
// and the final statistics.
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

#include "core/checksum.hpp"
#include "core/sums.hpp"
#include "core/worst.hpp"
#include "tensordiff/metrics.hpp"

namespace tensordiff {

class SumTree {
 public:
  struct Node {
    int level;        // it covers 2^level blocks
    uint64_t start;   // its first block, in the tensor's block index
    TreeNode sums;
  };
  // Adds a subtree of 2^level blocks that follows everything pushed so far. Two subtrees
  // combine only where the canonical tree has their parent (the left one starts at a multiple
  // of twice their size): a tree that starts mid-tensor (an MPI rank's share) builds exactly
  // the subtrees of the whole tensor's tree, so appending shares in order gives its bits.
  void push(int level, const TreeNode& node);
  // Appends the subtrees of `later` (which covers the blocks right after this tree's).
  void append(const SumTree& later);
  TreeNode total() const;
  bool empty() const { return stack_.empty(); }
  // Moves a tree built from block 0 to start at block `first` (a multiple of its largest
  // subtree, as chunk starts are): a chunk's tree within the whole tensor.
  void rebase(uint64_t first);
  uint64_t end() const { return end_; }  // the block after the last one covered
  const std::vector<Node>& nodes() const { return stack_; }
  static SumTree from_nodes(uint64_t end, std::vector<Node> nodes);

 private:
  std::vector<Node> stack_;  // levels strictly decreasing
  uint64_t end_ = 0;
};

struct SideExact {
  uint64_t count = 0, nonzero = 0, nan = 0, pos_inf = 0, neg_inf = 0, finite = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::vector<NonzeroEntry> first_nonzero;
  ExpHistogram mag_hist;
  uint64_t checksum_sum = 0;  // Σ mix(w_j + φ·(j+1)) mod 2^64 over this part's words
  bool checksum_known = true;  // false: a never-written part too large to checksum (uniform.hpp)
};

struct DiffExact {
  uint64_t finite_pairs = 0, mismatches = 0, nan_mismatch = 0, inf_mismatch = 0;
  uint64_t bits_differ = 0, max_ulp = 0;
  bool has_max = false;  // max_abs/max_rel are set once a finite pair was seen
  ExtremeAt max_abs, max_rel;
  ExpHistogram err_hist;
  std::vector<ExtremeAt> worst;  // core/worst.hpp
};

struct Partial {
  SumTree tree;
  SideExact a, b;  // b unused for single-side (stats) work
  DiffExact d;
  uint64_t bytes = 0;  // bytes read for this part
};

// Folds `later` (the next chunk in flat order) into `acc`.
void merge_partial(Partial& acc, const Partial& later, int first_k, int worst_k);

// details false: no histograms, first nonzeros or worst elements (EngineOptions::keep_details;
// never allocated, so that 10^6 pairs leave no holes in the heap where they were).
SideStats finalize_side(const SideExact& e, const SideSums& s, uint64_t byte_count, bool details = true);
DiffStats finalize_diff(const DiffExact& e, const DiffSums& s, uint64_t count, bool same_dtype,
                        bool details = true);


}  // namespace tensordiff
