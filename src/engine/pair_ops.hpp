// One pair's kernel parameters, and its fields and verdict from a merged partial: shared by
// compare() and the reference session (a run checking itself against a dump).
#pragma once
#include "core/partial.hpp"
#include "engine/runner.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

PairParams pair_params(const TensorInfo& a, const TensorInfo& b, const Tolerance& tol,
                       const CompareOptions& o);

// Sets r.a, r.b, r.diff and the verdict (status, reason) of docs/design.md §4.
void finish_pair(PairReport& r, Partial& p, const Job& job, const CompareOptions& o);

}  // namespace tensordiff
