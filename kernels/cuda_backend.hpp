// The CUDA backend's entry point: plain C++, no CUDA headers (backend.cpp includes it only
// when the build has CUDA).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/backend.hpp"
#include "core/leaf_core.hpp"

namespace tensordiff {

// Throws Error(kNoBackend) naming the failing CUDA call when no usable device exists
// (no driver, no device, device index out of range).
std::unique_ptr<ComputeBackend> make_cuda_backend(int device, const LogFn& log);

// What the kernels wrote for one chunk, before assembly: tests compare it with the emulator's
// (kernels/device_chunk.hpp) bit for bit. `backend` must be make_cuda_backend's.
void cuda_device_result(ComputeBackend& backend, const leaf::PairRule& r, const uint8_t* a, const uint8_t* b,
                        uint64_t first, uint64_t n, leaf::ChunkResult& res, std::vector<leaf::GroupInfo>& groups);

}  // namespace tensordiff
