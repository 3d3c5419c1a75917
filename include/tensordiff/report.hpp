#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/metrics.hpp"
#include "tensordiff/options.hpp"
#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

// 2: histograms keep only their non-empty exponent bins ("exp": {"-3": n}); per pair growth,
// scale, shift, jump, source, worst; status consistent and error.
constexpr int kReportSchema = 2;
const char* version();

// kConsistent: judged from summaries only (docs/design.md §4), which agree; not proven equal.
// kError: a read of this pair failed (reason says why); every other pair is still compared
// and the run ends with exit status 2.
enum class Status : uint8_t { kMatch, kMismatch, kOnlyInA, kOnlyInB, kIncompatible, kConsistent, kError };
const char* status_name(Status s);

struct PairReport {
  // Shared with the listing entries they come from (compact.hpp).
  SharedString name;    // A's name (B's for only_in_b)
  SharedString name_b;  // B's name before --map (equal to name unless mapped)
  uint64_t order = 0;  // rank in A's execution order (B's for only_in_b)
  Status status = Status::kMatch;
  bool jump = false;  // this pair's error is not explained by what it inherited
  bool by_order = false;  // paired by --align order: the names differ
  // A module setting differs, inferred from each side's recorded call (engine/module_replay.hpp:
  // a normalisation's eps, a dropout's p, a GELU's formula): a mismatch whose reason says what.
  bool setting_differs = false;
  // Where Report::detail_store holds this pair's details (its histograms, worst elements, first
  // nonzeros: record numbers from 1); 0: held here. In the padding after the flags (no bytes).
  uint32_t detail_record = 0;
  SharedString reason;  // why not a match; empty for matches
  // The two sides' listing entries, shared with the listing they came from (null: no such
  // side). A pair points into its input's listing instead of copying it: 10^5 pairs held two
  // copies, 50 MB.
  std::shared_ptr<const TensorInfo> info_a, info_b;
  Tolerance tolerance;
  PackedOptional<SideStats> a, b;  // std::optional's interface (compact.hpp)
  PackedOptional<DiffStats> diff;
  HeapOptional<SummaryDiff> summary_diff;  // set instead of diff when comparing summaries
  // Diagnosis (engine/diagnosis.hpp), for pairs with a diff: rel_l2 over what it inherited,
  // l2(b)/l2(a), and (mean(b) − mean(a)) / rms(a).
  OptionalDouble growth, scale, shift;
  // A jump at a module's recorded input (X.input.K): the pair recorded just before it (an
  // output, or the enclosing module's input). The code between the two made the error (a
  // functional call, an inline scaling: what no hook sees).
  HeapOptional<std::string> gap_after;
  // A pair whose data equals, on both sides, an earlier pair's (same dtypes, shapes and
  // checksums, and the two sides differ): that pair's name. Its error is a copy of that one's
  // (a module's input that is the previous module's output, a tensor dumped twice), never a jump.
  HeapOptional<std::string> copy_of;
  // A module's backward replayed from its recorded inputs (engine/module_replay.hpp: a
  // normalisation's): the relative L2 error and the systematic part those inputs explain in
  // this output, what the diagnosis counts as inherited. Unset where not replayed.
  OptionalDouble explained_rel, explained_sys;
};

struct Summary {
  uint64_t compared = 0, matched = 0, mismatched = 0, only_in_a = 0, only_in_b = 0;
  uint64_t incompatible = 0;
  uint64_t consistent = 0;     // judged from summaries only; they agree
  uint64_t errors = 0;         // pairs whose data could not be read (status error)
  uint64_t skipped = 0;        // pairs not read because of --stop-at-first
  uint64_t unsupported = 0;    // tensors whose dtype we cannot decode (an input error: exit 2)
  std::optional<std::string> first_divergence;
  std::optional<std::string> first_jump;  // where the error is introduced (engine/diagnosis.hpp)
  std::vector<std::string> jumps;         // every pair that meets the jump rules, in A's order
  std::string precision;       // the run's: "bf16", "fp32", ... (given or detected)
  std::string precision_reason;  // why: "given (--precision)", "212 of 230 floating-point pairs, ..."
  double unit_roundoff = 0;    // of that precision: the noise floor of relative errors
  uint64_t bytes = 0;          // bytes read from both files
  double seconds = 0;
  double gb_per_s = 0;
};

// Folders of dumps (per-rank files): each file's part of the report.
struct FileSummary {
  std::string file;  // relative path in A (B's when only in B)
  uint64_t pairs = 0, matched = 0, differ = 0;  // differ: mismatches, one-sided, incompatible, errors
  std::optional<std::string> first_divergence;
  std::optional<std::string> first_jump;  // the file's first pair that is a jump
};

class DetailStore;  // src/common/detail_store.hpp

struct Report {
  std::string input_a, input_b;
  CompareOptions options;
  std::string backend;         // the backend that ran ("cpu (AVX3)", "cuda:0 (NVIDIA H200)")
  std::string backend_note;    // one line when --backend auto could not use a present GPU
  unsigned threads = 0;
  uint64_t chunk_elements = 0; // per side; a power of two
  Summary summary;
  std::vector<PairReport> tensors;  // execution order of A, then B-only tensors in B's order
  // Tensors whose names differ but whose execution order, shape and dtype class pair them
  // (paired with --align order), and the --map rules that would pair them by name.
  uint64_t alignable = 0;
  std::vector<std::string> suggested_maps;
  std::vector<std::string> notes;  // what the inputs' listings left out (links not followed)
  // Rules that did nothing (an --include, --exclude, --map or --tol that matches no tensor):
  // the command line prints them, --strict makes them errors.
  std::vector<std::string> warnings;
  std::vector<FileSummary> files;   // when A or B is a folder of dumps
  // Set when the run streamed its pairs' details to a file as each pair finished
  // (EngineOptions::details_dir): the pairs in `tensors` hold their scalars only.
  std::shared_ptr<DetailStore> detail_store;

  // tensors[i] with its details: the pair itself where it holds them, else `scratch` made a copy
  // of it with them read back from detail_store (Error kIo where the read fails).
  const PairReport& detailed(size_t i, PairReport& scratch) const;
};

struct StatsEntry {
  TensorInfo info;
  std::optional<SideStats> stats;  // empty when the dtype is unsupported or a read failed
  std::string error;               // why a read failed
  // Where StatsReport::detail_store holds its first nonzeros and histogram (from 1); 0: here.
  uint32_t detail_record = 0;
};

struct StatsReport {
  std::string input;
  std::string backend;
  std::string backend_note;
  unsigned threads = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  uint64_t unsupported = 0;
  uint64_t errors = 0;              // tensors whose data could not be read
  std::vector<std::string> notes;   // what the input's listing left out
  std::vector<std::string> warnings;
  std::vector<StatsEntry> tensors;  // execution order
  // As Report's: set when each entry's details were streamed to a file as it finished.
  std::shared_ptr<DetailStore> detail_store;
  const StatsEntry& detailed(size_t i, StatsEntry& scratch) const;
};

}  // namespace tensordiff
