// The launcher of the pair kernel: one thread block per block of kBlockElems elements.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/block_out.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff::cuda {

// Tuning constant: threads per block = elements per block, so one block reduces one leaf of
// the sum tree and blocks never exchange data (measured: not yet — no GPU was available when
// this was written; see the issue note).
constexpr int kThreads = 256;

struct PairArgs {
  DType ta, tb;
  uint32_t ea, eb;        // element sizes
  double rtol, atol;
  bool equal_nan;
  uint64_t first;         // flat index of the chunk's first element (checksum word indices)
  uint64_t n;             // elements in the chunk
};

// d_a, d_b: the chunk's stored bytes (little-endian); d_out: one BlockOut per block;
// d_hist: 3 x kHistSlots counters (a, b, |b − a|), zeroed by the caller.
cudaError_t launch_pair_blocks(const PairArgs& args, const uint8_t* d_a, const uint8_t* d_b,
                               BlockOut* d_out, unsigned long long* d_hist, cudaStream_t stream);

}  // namespace tensordiff::cuda
