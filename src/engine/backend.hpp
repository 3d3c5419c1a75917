// The backend interface: everything above it is the same code for every backend. backend.cpp
// is the one place that decides which backend runs (and the only one that will know CUDA).
#pragma once
#include <memory>
#include <string>

#include "cpu/chunk_kernel.hpp"
#include "io/source.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

class ComputeBackend {
 public:
  virtual ~ComputeBackend() = default;
  virtual std::string name() const = 0;
  // Same contracts as cpu_pair_chunk / cpu_side_chunk; called concurrently from worker threads.
  virtual void pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                          uint64_t n, Partial& out) = 0;
  virtual void side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                          Partial& out) = 0;
  // Memory for the readers' chunk buffers (pinned for the GPU, so copies run at full speed).
  virtual uint8_t* alloc_host(size_t bytes) { return new uint8_t[bytes]; }
  virtual void free_host(uint8_t* p) { delete[] p; }
};

// kAuto: the GPU when one is usable, else the CPU; `note` receives one line when a GPU exists
// but cannot be used (a machine without any CUDA device or driver falls back silently).
// kCuda: throws Error(kNoBackend) naming the reason when it cannot run.
std::unique_ptr<ComputeBackend> make_backend(Backend requested, int device, const LogFn& log,
                                             std::string* note = nullptr);

}  // namespace tensordiff
