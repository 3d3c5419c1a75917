// The CPU backend: reduces one chunk (one side) or one chunk pair to a Partial.
// One kernel written with Highway, compiled for every x86/ARM target, chosen at run time.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.hpp"

namespace tensordiff {

// The contracts of ComputeBackend::pair_chunk and side_chunk (core/backend.hpp).
void cpu_pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                    uint64_t n, Partial& out);
void cpu_side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                    Partial& out);

// The Highway target the dispatcher picked on this machine (e.g. "AVX3"), for reports.
const char* cpu_target_name();

// SIMD targets compiled into the kernel that this CPU can run, best first, by Highway's names
// ("AVX3", "AVX2", "SSE4", "SSSE3", "EMU128").
std::vector<std::string> cpu_targets();

// Makes every later call run `name` (case-insensitive; "best" or "" for the best this CPU
// runs): for benchmarks, and for users who need to rule a target out. Process-wide; call it
// before any worker thread runs the kernel. Returns false, changing nothing, when the target
// was not compiled in or this CPU cannot run it.
bool cpu_select_target(const std::string& name);

}  // namespace tensordiff
