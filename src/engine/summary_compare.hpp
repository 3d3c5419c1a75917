// Comparing summaries (docs/design.md §4 side fields without the data): shape, dtype, checksum,
// stat deltas and first nonzeros, with the same matching, order and first divergence as dumps.
#pragma once
#include <string>
#include <vector>

#include "engine/matcher.hpp"
#include "io/summary/summary_source.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

// Either input may be a summary (JSON) or a full dump, whose summary is computed with stats().
Report compare_summaries(const std::string& a, const std::string& b, const CompareOptions& o);

// One input's summary: a summary file, an msprobe statistics dump, a folder of them (in the
// folder's order), or a dump's computed with stats().
SummaryDump summary_input(const std::string& path, const CompareOptions& o);

// Shared with compare(): the run's precision (engine/precision.hpp's rule over every pair the
// names make), and a report entry's name, infos, status, order, tolerance.
PrecisionChoice run_precision(const MatchResult& match, const CompareOptions& o);
// own_a, own_b: the listings' shared owners (Source::shared_tensors), or null: entries copied.
using SharedListing = std::shared_ptr<const std::vector<TensorInfo>>;
// m's names and reason are moved into r (the callers need only m's status, sides and flags after).
void init_pair_report(PairReport& r, MatchedPair& m, const std::vector<TensorInfo>& ta,
                      const std::vector<TensorInfo>& tb, Precision run, const CompareOptions& o,
                      const SharedListing& own_a = nullptr, const SharedListing& own_b = nullptr);

// What assemble_report needs of the matched pairs, one bit each per pair: whether it is read
// (status match) and whether it is unsupported; the pairs themselves can go before the reads.
struct PairMarks {
  std::vector<bool> needs_read, unsupported;
};
PairMarks marks_of(const std::vector<MatchedPair>& pairs);

// Shared with compare(): counts, first divergence, --stop-at-first cut.
void assemble_report(Report& rep, const PairMarks& marks, const std::vector<bool>& done, bool stop_at_first);

}  // namespace tensordiff
