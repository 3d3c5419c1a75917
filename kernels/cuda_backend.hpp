// The CUDA backend's entry point: plain C++, no CUDA headers (backend.cpp includes it only
// when the build has CUDA).
#pragma once
#include <memory>
#include <string>

#include "core/backend.hpp"

namespace tensordiff {

// Throws Error(kNoBackend) naming the failing CUDA call when no usable device exists
// (no driver, no device, device index out of range).
std::unique_ptr<ComputeBackend> make_cuda_backend(int device, const LogFn& log);

}  // namespace tensordiff
