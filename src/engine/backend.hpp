// Which backend runs: the only place that knows CUDA exists.
#pragma once
#include <memory>
#include <string>

#include "core/backend.hpp"
#include "io/source.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

// kAuto: the GPU when one is usable, else the CPU; `note` receives one line when a GPU exists
// but cannot be used (a machine without any CUDA device or driver falls back silently).
// kCuda: throws Error(kNoBackend) naming the reason when it cannot run.
// `simd` forces the CPU backend's SIMD target ("avx2", ...; empty: $TENSORDIFF_SIMD, else the
// best this CPU runs); throws Error(kUsage) naming the targets available when it cannot.
std::unique_ptr<ComputeBackend> make_backend(Backend requested, int device, const std::string& simd,
                                             const LogFn& log, std::string* note = nullptr);

// Applies the SIMD selection rule of make_backend and returns the chosen target's name.
std::string select_simd(const std::string& simd);

}  // namespace tensordiff
