// Where a pair's NaN and inf mismatches are (issue 20: a difference only in NaN or ±inf
// positions leaves max|d|, rel L2 and cosine, which are over finite pairs, at their "equal"
// values). Found after the pass, and only for pairs that have such mismatches.
#pragma once
#include "engine/runner.hpp"
#include "tensordiff/metrics.hpp"

namespace tensordiff {

// The first `k` positions in flat order where the pair has a NaN or inf mismatch
// (docs/design.md §4's rules, equal_nan as the job's), each {|d| = +inf, or NaN for a NaN
// mismatch, index, a, b}. Reads the job's tensors again, in order, up to the k-th such position.
std::vector<ExtremeAt> find_nonfinite_mismatches(const Job& job, int k);

}  // namespace tensordiff
