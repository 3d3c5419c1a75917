// The backend interface: what a backend is given (bytes and PairParams) and what it returns
// (a Partial of exact fields and tree nodes). Everything above it is the same code for every
// backend; engine/backend.cpp is the one place that decides which backend runs.
#pragma once
#include <cstdint>
#include <string>

#include "core/partial.hpp"
#include "tensordiff/dtype.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

struct PairParams {
  DType type_a = DType::kF32, type_b = DType::kF32;
  Tolerance tol;
  bool equal_nan = true;
  bool exact = false;  // same-dtype pairs: a mismatch is any element whose bits differ
  int first_k = 5;
  int worst_k = 5;   // DiffExact::worst entries
};

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;
  virtual std::string name() const = 0;
  // `a` and `b` hold elements [first, first + n) of a tensor, in little-endian byte order.
  // `first` is a multiple of kBlockElems; n is a power-of-two number of blocks except for the
  // tensor's last chunk. `out` is overwritten. Called concurrently from worker threads.
  virtual void pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                          uint64_t n, Partial& out) = 0;
  virtual void side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                          Partial& out) = 0;
  // The chunk size per side when the user gives none: small on the CPU (buffers stay in cache
  // between the read and the kernel), large on a GPU (each chunk costs ~20-30 us of launches
  // and copies).
  virtual uint64_t preferred_chunk_bytes() const { return 2ull << 20; }
  // Memory for the readers' chunk buffers (pinned for the GPU, so copies run at full speed).
  virtual uint8_t* alloc_host(size_t bytes) { return new uint8_t[bytes]; }
  virtual void free_host(uint8_t* p) { delete[] p; }
};

}  // namespace tensordiff
