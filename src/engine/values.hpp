// Recorded non-tensor values (docs/design.md §4 Values): a call's scalar arguments and a
// module's settings (msprobe's {"type": "float", "value": 0.001}; the capture package's value
// records), compared as values, not as tensors.
#pragma once
#include "tensordiff/report.hpp"

namespace tensordiff {

// Decides a pair in which either side is a recorded value (TensorInfo::value): returns false
// (and leaves r alone) when neither is. Equal values match; numbers match within one float32
// rounding (a value computed in float32 on one side); two floating-point dtypes match (the
// run's precision is what a migration changes); anything else is a mismatch naming both
// values, and a value against a tensor is incompatible.
bool judge_values(PairReport& r);

// Whether the pair is of recorded values.
bool is_value_pair(const PairReport& r);

}  // namespace tensordiff
