// The host side shared by the CUDA backend and its emulator: the device algorithm executed on
// the host in the device's order (core/leaf_core.hpp), and the step that turns a chunk's device
// result into a Partial. Host C++ only: compiled in every build, so CI runs the emulator.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/backend.hpp"
#include "core/leaf_core.hpp"
#include "core/partial.hpp"

namespace tensordiff::gpu {

leaf::PairRule pair_rule(const PairParams& p);
leaf::PairRule side_rule(DType t);

// Group count of a chunk of n elements: each holds kGroupLeaves leaves.
inline uint64_t group_count(uint64_t n) {
  const uint64_t leaves = (n + kBlockElems - 1) / kBlockElems;
  return (leaves + leaf::kGroupLeaves - 1) / leaf::kGroupLeaves;
}

// The device algorithm on the host: what the kernels write for this chunk, bit for bit.
void emulate_chunk(const leaf::PairRule& r, const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n,
                   leaf::ChunkResult& out, std::vector<leaf::GroupInfo>& groups);

// A chunk's device result as a Partial; first nonzeros, worst elements and the values at the
// maxima are read from the host's copy of the chunk, only in groups that can contribute.
void assemble(const leaf::PairRule& r, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
              uint64_t n, const leaf::ChunkResult& res, const leaf::GroupInfo* groups, Partial& out);

// The kernels index a chunk's elements with 32 bits: larger chunks run as pieces of
// kMaxDeviceChunk elements (whole subtrees: a multiple of every level below it), merged in order.
constexpr uint64_t kMaxDeviceChunk = 1ull << 30;
using ChunkFn = std::function<void(const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n, Partial& out)>;
void in_device_chunks(const leaf::PairRule& r, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                      uint64_t n, Partial& out, const ChunkFn& one);

// `--backend gpu-emu`: the emulator as a backend (slow; for tests and for checking a GPU's
// results).
std::unique_ptr<ComputeBackend> make_emulator_backend();

}  // namespace tensordiff::gpu
