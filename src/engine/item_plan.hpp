// Step 1 of the pipeline (engine/pipeline.hpp): the work as numbered items, one chunk of one
// job each, and the contiguous range of items an MPI rank reduces.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/group.hpp"
#include "engine/runner.hpp"

namespace tensordiff {

struct Item {
  size_t job;
  uint64_t first, n;  // elements [first, first + n) of the job's tensors
  bool last;          // the job's last item
};

// Items are numbered, not stored: a tensor that claims 2^48 elements costs nothing until its
// chunks are read (issue 11).
class ItemPlan {
 public:
  ItemPlan(const std::vector<Job>& jobs, uint64_t chunk_bytes);
  uint64_t size() const { return start_.back(); }
  Item at(uint64_t i) const;
  // Bytes a read buffer of one side needs for the largest item.
  uint64_t buffer_bytes() const { return buffer_bytes_; }
  // A job computed without reads (never written, or failing up front) is one item.
  static bool without_reads(const Job& job);
  // A hash of the plan, for ranks to check that they listed the same dumps.
  uint64_t hash() const;

 private:
  const std::vector<Job>& jobs_;
  std::vector<uint64_t> start_;  // start_[j]: the first item of job j; start_.back(): the count
  std::vector<uint64_t> chunk_;  // elements per item of job j
  uint64_t buffer_bytes_ = 0;
};

struct ItemRange {
  uint64_t lo = 0, hi = 0;  // items [lo, hi)
};

// An MPI group agrees on rank 0's chunk size: every rank numbers the chunks alike (the
// results do not depend on it; the split does). Alone: `chunk_bytes`.
uint64_t agreed_chunk_bytes(Group& group, uint64_t chunk_bytes);

// This rank's items: the chunks split into contiguous ranges of near-equal bytes (one large
// tensor is shared by every rank, many small ones too). Throws on every rank when a rank's
// plan differs from rank 0's (it listed other dumps). Alone: every item.
ItemRange rank_range(const ItemPlan& plan, const std::vector<Job>& jobs, Group& group);

}  // namespace tensordiff
