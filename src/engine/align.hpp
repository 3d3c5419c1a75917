// Pairing by execution order for tensors whose names differ between frameworks (--align
// order), and the --map rules that would pair them by name.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

// Pairs the unmatched tensors of A and B (indices in execution order) whose shape and dtype
// class (float, integer, bool) agree, where that is unambiguous: between two name-matched
// tensors (anchors), the two runs of unmatched tensors are aligned by their longest common
// subsequence of (shape, class) when that alignment is the only one. Returns (a, b) pairs.
std::vector<std::pair<size_t, size_t>> align_by_order(const std::vector<TensorInfo>& a,
                                                      const std::vector<TensorInfo>& b,
                                                      const std::vector<size_t>& unmatched_a,
                                                      const std::vector<size_t>& unmatched_b,
                                                      const std::vector<std::pair<size_t, size_t>>& anchors);

// --map rules (ECMAScript REGEX=REPL on B's names) that rename every aligned B name to its A
// name: digit runs become groups where both names carry the same numbers in the same order,
// so that one rule covers every layer; most-used rules first.
// RE2 syntax for the literal text s.
std::string regex_escape(const std::string& s);

std::vector<std::string> suggest_maps(const std::vector<std::pair<std::string, std::string>>& b_to_a);

}  // namespace tensordiff
