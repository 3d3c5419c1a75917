// Steps 3 and 4 of the pipeline (engine/pipeline.hpp): items merged in order into each job's
// partial, which goes to the caller (alone) or into this rank's share (an MPI group); and, on
// rank 0, the ranks' shares merged in rank order into the jobs' partials.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/chunk_reduce.hpp"
#include "io/wire.hpp"

namespace tensordiff {

class OrderedMerge {
 public:
  // `share`: null alone (finished jobs go to on_done), else the buffer of this rank's shares.
  OrderedMerge(const std::vector<Job>& jobs, const ItemPlan& plan, ItemRange range, const RunPlan& run,
               const DoneFn& on_done, wire::Writer* share);
  // Item i (in order) from its slot; false: stop (on_done said so).
  bool add(uint64_t i, Slot& slot);

 private:
  void progress(const Item& it, uint64_t i);
  const std::vector<Job>& jobs_;
  const ItemPlan& plan_;
  ItemRange range_;
  const RunPlan& run_;
  const DoneFn& on_done_;
  wire::Writer* share_;
  int first_k_, worst_k_;
  Partial acc_;
  std::string job_error_;    // the first failed chunk of the job being merged
  bool job_failed_ = false;  // a chunk of it failed or was skipped: its partial is not merged
  // Progress: bytes of both sides merged so far, reported at most every 100 ms.
  uint64_t total_bytes_ = 0, done_bytes_ = 0;
  std::chrono::steady_clock::time_point last_report_ = std::chrono::steady_clock::now();
};

// Rank 0: the shares in rank order are the jobs' chunk ranges in order; each job's partial
// (or its first error) goes to on_done.
void merge_shares(const std::vector<std::vector<uint8_t>>& shares, int first_k, int worst_k, const DoneFn& on_done);

}  // namespace tensordiff
