// Step 2 of the pipeline (engine/pipeline.hpp): one item read and reduced to a partial by the
// backend, in a worker thread, into the slot the merge will take it from.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine/item_plan.hpp"

namespace tensordiff {

// What a worker leaves for the merge: the partial, or why there is none.
struct Slot {
  Partial partial;
  std::string error;     // the read of this item failed: why
  bool skipped = false;  // not read: an earlier chunk of its job failed
};

class ChunkReducer {
 public:
  ChunkReducer(const std::vector<Job>& jobs, const ItemPlan& plan, ComputeBackend& backend, unsigned workers);
  ~ChunkReducer();
  // Reads item i's chunk(s) with worker w's buffers and reduces them into `out`. Throws only
  // for what ends the run (out of memory, internal errors); a failed read is out.error.
  void reduce(uint64_t i, unsigned w, Slot& out);

 private:
  // One pair of read buffers per worker, reused for every chunk it reads; the backend
  // allocates them (pinned memory for the GPU).
  struct Buffer {
    ComputeBackend* owner = nullptr;
    uint8_t* p = nullptr;
    size_t size = 0;
    void resize(ComputeBackend& b, size_t n);
    void release();
    ~Buffer() { release(); }
  };
  const std::vector<Job>& jobs_;
  const ItemPlan& plan_;
  ComputeBackend& backend_;
  std::vector<Buffer> buf_a_, buf_b_;
  // A job whose read failed: its later chunks are not read (the first error in chunk order is
  // still the one reported: the chunk that failed is merged like any other).
  std::unique_ptr<std::atomic<bool>[]> failed_;
};

}  // namespace tensordiff
