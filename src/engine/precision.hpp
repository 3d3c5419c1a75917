// The precision of a run and what follows from it: the default tolerances of the verdict and
// the noise floor of the diagnosis (docs/design.md §4 Diagnosis).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/format.hpp"  // precision_name, precision_from_name: the reports write them too
#include "tensordiff/dtype.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

double unit_roundoff(Precision p);                          // 2^-24 for fp32, 2^-8 for bf16, ...
double subnormal_step(Precision p);                         // 2^-24 for fp16, 2^-149 for fp32, ...
std::optional<Precision> precision_of(DType t);             // none for integers and bool

// The least precise floating precision among the dtypes; fp32 when none is floating.
Precision least_precise(const std::vector<DType>& dtypes);

// A pair of the run, as the precision rule sees it: its two dtypes and its element count.
struct PairDtypes {
  DType a, b;
  uint64_t count;
};

// The run's precision and why it was chosen ("212 of 230 floating-point pairs, 96% of their
// elements"), for the report.
struct PrecisionChoice {
  Precision precision = Precision::kFp32;
  std::string reason;
};

// The share of a run's floating-point elements that a precision must hold to become the
// run's: a few small tensors of another dtype (a 4-element fp16 scale beside fp32 weights)
// neither loosen nor tighten the verdict of the rest.
constexpr double kPrecisionShare = 0.10;

// --precision when given; else, over every pair of the two listings that pairs by name (the
// selection aside, so that a pair's verdict does not depend on what else was selected), each
// pair's precision being its less precise dtype's: the least precise precision that holds at
// least kPrecisionShare of the floating-point elements. fp32 when no pair is floating.
PrecisionChoice choose_precision(const std::vector<PairDtypes>& pairs, Precision given);

// torch.testing's rtol/atol for a precision (tf32: float16's).
Tolerance precision_tolerance(Precision p);

}  // namespace tensordiff
