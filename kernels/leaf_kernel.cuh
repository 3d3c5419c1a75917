// The launcher of the chunk kernels (leaf_kernel.cu): a persistent grid of warps, one warp
// per group of 32 leaves at a time, then one small block that combines the groups.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/leaf_core.hpp"

namespace tensordiff::cuda {

// Tuning constants. 4 warps per block: the per-warp shared memory (a group's 32 leaf nodes,
// the transposed sums, three histograms: ~9 KB a warp) stays under the 48 KB static limit.
// Blocks per SM: the occupancy the register count allows (cudaOccupancy... at run time).
constexpr int kWarpsPerBlock = 4;
constexpr int kThreads = kWarpsPerBlock * leaf::kLanes;
constexpr int kMinBlocksPerSm = 3;  // caps registers at 168 (65536 / (3 * 128))
constexpr int kFinalizeThreads = 256;

struct ChunkArgs {
  leaf::PairRule r;
  uint64_t first;  // the chunk's first element in the tensor (checksum word indices)
  uint64_t n;      // elements in the chunk; device buffers are zero up to a whole leaf
  unsigned skip = 0;  // benchmark only: stages left out to place the kernel's time (kSkip*)
};
constexpr unsigned kSkipExact = 1, kSkipHist = 2, kSkipSums = 4, kSkipTree = 8, kSkipChecksum = 16;

// Device scratch for one chunk, sized by the caller for `grid` blocks and the chunk's groups.
struct Scratch {
  leaf::Exact* warp_exact;       // [grid * kWarpsPerBlock]
  unsigned* block_hist;          // [grid][kHist]
  TreeNode* nodes[2];            // [groups] each: full groups' level-5 nodes, then ping-pong
  leaf::StackNode* tail;         // [kGroupLevel + 1]: the partial group's subtrees, left to right
  int* tail_count;
  leaf::GroupInfo* groups;       // [groups]
  leaf::ChunkResult* result;
};

// Blocks for a chunk of `groups` groups on this device (persistent: at most what fits at once).
int grid_for(uint64_t groups, const leaf::PairRule& r, int sms);

cudaError_t launch_chunk(const ChunkArgs& args, const uint8_t* d_a, const uint8_t* d_b, const Scratch& s, int grid,
                         cudaStream_t stream);

// Registers and shared memory of the kernel that runs rule r (the benchmark prints them).
cudaError_t kernel_attributes(const leaf::PairRule& r, cudaFuncAttributes* out);

}  // namespace tensordiff::cuda
