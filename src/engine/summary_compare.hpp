// Comparing summaries (docs/design.md §4 side fields without the data): shape, dtype, checksum,
// stat deltas and first nonzeros, with the same matching, order and first divergence as dumps.
#pragma once
#include <string>
#include <vector>

#include "engine/matcher.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

// Either input may be a summary (JSON) or a full dump, whose summary is computed with stats().
Report compare_summaries(const std::string& a, const std::string& b, const CompareOptions& o);

// Shared with compare(): the run's precision (engine/precision.hpp's rule over every pair the
// names make), and a report entry's name, infos, status, order, tolerance.
PrecisionChoice run_precision(const MatchResult& match, const CompareOptions& o);
void init_pair_report(PairReport& r, const MatchedPair& m, const std::vector<TensorInfo>& ta,
                      const std::vector<TensorInfo>& tb, Precision run, const CompareOptions& o);

// Shared with compare(): counts, first divergence, --stop-at-first cut.
void assemble_report(Report& rep, const std::vector<MatchedPair>& pairs,
                     const std::vector<bool>& done, bool stop_at_first);

}  // namespace tensordiff
