// The histogram bin rule of docs/design.md §4 (mag_hist, err_hist), written once: the CUDA
// kernels and their emulator call it per element (core/leaf_core.hpp); the CPU kernel computes
// the same rule on SIMD vectors (cpu/block_fast-inl.h, cpu/block_general-inl.h), and
// tests/cpu/narrow_values_test.cpp holds those to this one for every value of every narrow
// dtype on every SIMD target.
#pragma once
#include <cstdint>

#include "core/element.hpp"
#include "core/host_device.hpp"
#include "tensordiff/metrics.hpp"

namespace tensordiff {

// The bin of a nonzero magnitude whose float64 biased exponent is `biased` (0 for subnormals):
// subnormals and exponents below kMinExp underflow, exponents above kMaxExp overflow. 2047
// (inf and NaN) falls in the overflow bin: callers count only finite values.
TD_HD constexpr int exp_bin(int biased) {
  const int x = biased - 1023;
  if (biased == 0 || x < ExpHistogram::kMinExp) return ExpHistogram::kUnderflow;
  if (x > ExpHistogram::kMaxExp) return ExpHistogram::kOverflow;
  return ExpHistogram::kFirstExp + (x - ExpHistogram::kMinExp);
}

// The bin of a finite value's magnitude; ±0 has a bin of its own.
TD_HD inline int magnitude_bin(double v) {
  const uint64_t mag = bits_of(v) & 0x7fffffffffffffffull;
  return mag == 0 ? ExpHistogram::kZero : exp_bin(static_cast<int>(mag >> 52));
}

}  // namespace tensordiff
