// A plain scalar reference for every field of docs/design.md §4: one element at a time, sums in
// long double, written without the engine's blocks, trees or SIMD.
#pragma once
#include <cstdint>
#include <vector>

#include "core/partial.hpp"
#include "tensordiff/dtype.hpp"
#include "tensordiff/metrics.hpp"
#include "tensordiff/options.hpp"

namespace tdtest {

struct RefResult {
  tensordiff::SideStats a, b;
  tensordiff::DiffStats d;
};

tensordiff::SideStats reference_side(tensordiff::DType t, const std::vector<uint8_t>& raw,
                                     uint64_t n, int first_k);
RefResult reference_pair(tensordiff::DType ta, const std::vector<uint8_t>& ra, tensordiff::DType tb,
                         const std::vector<uint8_t>& rb, uint64_t n, tensordiff::Tolerance tol,
                         bool equal_nan, int first_k);

// Runs the engine's kernel over the tensor in chunks of `chunk_elems` (a power-of-two
// multiple of kBlockElems) and merges the partials in order, as the pipeline does.
RefResult engine_pair(tensordiff::DType ta, const std::vector<uint8_t>& ra, tensordiff::DType tb,
                      const std::vector<uint8_t>& rb, uint64_t n, tensordiff::Tolerance tol,
                      bool equal_nan, int first_k, uint64_t chunk_elems);

// Expects every exact field equal and every float field within rel (relative to `scale`
// for sums that can cancel).
void expect_side_eq(const tensordiff::SideStats& got, const tensordiff::SideStats& want,
                    double rel, const char* what);
void expect_diff_eq(const tensordiff::DiffStats& got, const tensordiff::DiffStats& want,
                    double rel, const char* what);

double ref_decode(tensordiff::DType t, const uint8_t* p);
// The histogram bin of a value by frexp (-1 when not finite), and the ULP distance of two
// same-dtype elements as the difference of monotone 128-bit keys: independent of src/core/.
int ref_bin(double v);
uint64_t ref_ulp(tensordiff::DType t, const uint8_t* pa, const uint8_t* pb);

}  // namespace tdtest
