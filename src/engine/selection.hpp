// What keeps a run from passing silently (issue 20): a name asked for that no dump holds, a
// selection that leaves nothing to compare, and rules that match nothing.
#pragma once
#include <string>
#include <vector>

#include "engine/matcher.hpp"
#include "tensordiff/options.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

// Throws Error(kUsage), with one line saying why, when a positional name or glob names no
// tensor of A or B, or when the selected pairs hold nothing to compare: no pair that pairs
// by name and is read (only one-sided tensors, or every pair of a dtype we do not read, or
// no tensor at all). Pairs of different shapes are a verdict (they differ), not "nothing".
// Appends a warning per idle --include/--exclude/--map/--tol rule (judged over every pair the
// listings make, so compare and show agree); under --strict throws instead.
void check_selection(const MatchResult& match, const std::vector<TensorInfo>& ta,
                     const std::vector<TensorInfo>& tb, const std::string& path_a,
                     const std::string& path_b, const CompareOptions& o,
                     std::vector<std::string>& warnings);

// `stats`: a positional name that names no tensor of the dump, or nothing to summarise.
void check_stats_selection(const std::vector<TensorInfo>& tensors, const std::string& path,
                           const std::vector<std::string>& names, size_t selected);

// A name in an error line: whole up to a line's worth, else its head and tail.
std::string clip(const std::string& name, size_t most = 120);

// A warning, or under --strict the error it becomes.
void warn_or_throw(std::vector<std::string>& warnings, const std::string& text, bool strict);

}  // namespace tensordiff
