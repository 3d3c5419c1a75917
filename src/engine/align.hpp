// Pairing by execution order for tensors whose names differ between frameworks (--align
// order), and the --map rules that would pair them by name.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

// Pairs the unmatched tensors of A and B (indices in execution order) whose shape and dtype
// class (float, integer, bool) agree: between two name-matched tensors (anchors), the two runs
// of unmatched tensors are aligned by their longest common subsequence of (shape, class), and
// the pairs every such alignment makes are kept (all of them when the alignment is unique).
struct OrderAlignment {
  std::vector<std::pair<size_t, size_t>> pairs;  // (a, b)
  // Segments where tensors of like shape and class stay unpaired because they could pair
  // more than one way; one example (a, b) of such a pair.
  size_t ambiguous_segments = 0;
  std::optional<std::pair<size_t, size_t>> ambiguous_example;
  bool too_long = false;  // a segment too long to align (more than 4e6 cells)
};
OrderAlignment align_by_order(const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b,
                              const std::vector<size_t>& unmatched_a, const std::vector<size_t>& unmatched_b,
                              const std::vector<std::pair<size_t, size_t>>& anchors);

// --map rules (ECMAScript REGEX=REPL on B's names) that rename every aligned B name to its A
// name: digit runs become groups where both names carry the same numbers in the same order,
// so that one rule covers every layer; most-used rules first.
// RE2 syntax for the literal text s.
std::string regex_escape(const std::string& s);

std::vector<std::string> suggest_maps(const std::vector<std::pair<std::string, std::string>>& b_to_a);

}  // namespace tensordiff
