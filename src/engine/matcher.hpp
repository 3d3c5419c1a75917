// Pairs A's tensors with B's by full path, after --map renames and the name filters.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/precision.hpp"
#include "tensordiff/options.hpp"
#include "tensordiff/report.hpp"
#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

// An index into a source's tensor list, or none: std::optional<size_t>'s interface in 8 bytes
// (a run holds one pair per tensor while it plans, issue 26).
class SideIndex {
 public:
  SideIndex() = default;
  SideIndex(size_t i) : i_(i) {}
  SideIndex& operator=(size_t i) { return i_ = i, *this; }
  explicit operator bool() const { return i_ != kNone; }
  bool has_value() const { return i_ != kNone; }
  size_t operator*() const { return i_; }

 private:
  static constexpr size_t kNone = ~size_t(0);
  size_t i_ = kNone;
};

struct MatchedPair {
  SideIndex a, b;  // indices into the sources' tensor lists
  SharedString name, name_b;  // shared with the listings' entries
  InternedString reason;  // "not in b", an incompatibility: the same few texts again and again
  Status status = Status::kMatch;  // kOnlyInA/B, kIncompatible; kMatch: to be compared
  bool unsupported = false;  // incompatible because a dtype cannot be decoded (input error)
  bool by_order = false;     // paired by --align order (names differ)
};

struct MatchResult {
  std::vector<MatchedPair> pairs;
  // --map rules that would pair by name what execution order pairs (engine/align.hpp); given
  // whether or not --align order applied them.
  std::vector<std::string> suggested_maps;
  uint64_t alignable = 0;  // pairs that --align order makes (or made) of unmatched names
  // Every pair that names (and --align order) make, the selection aside: the run's precision
  // (engine/precision.hpp) must not depend on which pairs were selected.
  std::vector<PairDtypes> all_pairs;
  // Positional names and globs that name no tensor of A or B (after --map): an error.
  std::vector<std::string> unknown_names;
  // --include/--exclude globs that match no tensor and --map rules that rename none: a rule
  // that does nothing is a warning (an error under --strict).
  std::vector<std::string> idle_rules;
  // With --align order: what it could not pair and why (ambiguous order, too long a stretch,
  // nothing alike), for the report's notes.
  std::vector<std::string> notes;
};

// In A's execution order, then B-only tensors in B's order. Throws Error(kUsage) for a bad
// --map regex or a --map that gives two of B's tensors the same name.
MatchResult match_tensors(const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b,
                          const CompareOptions& options);

// Whether a name passes positional names/globs, --include and --exclude.
bool name_selected(const std::string& name, const std::vector<std::string>& tensors,
                   const std::vector<std::string>& include, const std::vector<std::string>& exclude);

// The candidate closest to `name` (most trailing '.'/'/' components in common, then the
// longest common suffix), and when the two differ only in what comes before a common tail,
// the --map rule that renames one into the other ("^model\\.=net."). Empty when nothing
// shares even the last component.
struct Closest {
  std::string name, map;
};
Closest closest_name(const std::string& name, const std::vector<TensorInfo>& candidates);

// The --map rules, compiled once: B's name as A calls it. Throws Error(kUsage) for a bad rule.
class NameMap {
 public:
  explicit NameMap(const CompareOptions& o);
  ~NameMap();
  NameMap(NameMap&&) noexcept;
  std::string operator()(const std::string& b_name) const;
  bool empty() const;

 private:
  struct Rules;
  std::unique_ptr<Rules> rules_;
};

// Why x and y cannot be compared ("" when they can); `unsupported`: a dtype we do not read.
std::string incompatibility(const TensorInfo& x, const TensorInfo& y, bool allow_reshape,
                            bool& unsupported);

}  // namespace tensordiff
