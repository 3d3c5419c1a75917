// The precision of a run and what follows from it: the default tolerances of the verdict and
// the noise floor of the diagnosis (DESIGN.md §4 Diagnosis).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/dtype.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

const char* precision_name(Precision p);                    // "fp32", "bf16", ...
std::optional<Precision> precision_from_name(const std::string& name);
double unit_roundoff(Precision p);                          // 2^-24 for fp32, 2^-8 for bf16, ...
std::optional<Precision> precision_of(DType t);             // none for integers and bool

// The least precise floating precision among the dtypes (of the compared pairs of both
// dumps); fp32 when none is floating (integers compare exactly anyway).
Precision least_precise(const std::vector<DType>& dtypes);

// torch.testing's rtol/atol for a precision (tf32: float16's).
Tolerance precision_tolerance(Precision p);

}  // namespace tensordiff
