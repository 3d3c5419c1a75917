// The CPU backend: reduces one chunk (one side) or one chunk pair to a Partial.
// One kernel written with Highway, compiled for every x86/ARM target, chosen at run time.
#pragma once
#include <cstdint>

#include "engine/partial.hpp"
#include "tensordiff/dtype.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

struct PairParams {
  DType type_a = DType::kF32, type_b = DType::kF32;
  Tolerance tol;
  bool equal_nan = true;
  bool exact = false;  // same-dtype pairs: a mismatch is any element whose bits differ
  int first_k = 5;
};

// `a` and `b` hold elements [first, first + n) of a tensor, in little-endian byte order.
// `first` is a multiple of kBlockElems; n is a power-of-two number of blocks except for the
// tensor's last chunk. `out` is overwritten.
void cpu_pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                    uint64_t n, Partial& out);
void cpu_side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                    Partial& out);

// The Highway target the dispatcher picked on this machine (e.g. "AVX3"), for reports.
const char* cpu_target_name();

}  // namespace tensordiff
