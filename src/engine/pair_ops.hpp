// One pair's kernel parameters, and its fields and verdict from a merged partial: shared by
// compare() and the reference session (a run checking itself against a dump).
#pragma once
#include "core/partial.hpp"
#include "engine/runner.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

PairParams pair_params(const TensorInfo& a, const TensorInfo& b, const Tolerance& tol,
                       const CompareOptions& o);

// Sets r.a, r.b, r.diff and the verdict (status, reason) of docs/design.md §4. Without `reason`
// the status alone: a run of many pairs writes the reasons after its reads (say_why), where
// they do not sprinkle the workers' heaps with blocks that outlive the reads.
void finish_pair(PairReport& r, Partial& p, const Job& job, const CompareOptions& o, bool reason = true);
// The verdict's reason of a read pair (r.diff set), as finish_pair gives it.
void say_why(PairReport& r, const CompareOptions& o);

}  // namespace tensordiff
