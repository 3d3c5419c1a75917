#include "engine/selection.hpp"

#include <sys/stat.h>

#include "engine/tolerance.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

std::string quoted_list(const std::vector<std::string>& names, size_t most = 3) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < most; ++i) s += (i ? ", '" : "'") + clip(names[i]) + "'";
  if (names.size() > most) s += " and " + std::to_string(names.size() - most) + " more";
  return s;
}

// A positional argument that is a file: the usual slip is `tensordiff stats A B` (stats
// takes one dump) or three dumps given to compare.
std::string file_hint(const std::string& name, const char* what) {
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) return "";
  return std::string(" ('") + name + "' is a file: " + what + ")";
}

}  // namespace

std::string clip(const std::string& name, size_t most) {
  return name.size() <= most ? name : name.substr(0, most / 2) + "..." + name.substr(name.size() - most / 2);
}

void warn_or_throw(std::vector<std::string>& warnings, const std::string& text, bool strict) {
  if (strict) throw Error(ErrorCode::kUsage, text + " (--strict)");
  warnings.push_back(text);
}

void check_selection(const MatchResult& match, const std::vector<TensorInfo>& ta,
                     const std::vector<TensorInfo>& tb, const std::string& path_a,
                     const std::string& path_b, const CompareOptions& o,
                     std::vector<std::string>& warnings) {
  if (!match.unknown_names.empty()) {
    const std::string& n = match.unknown_names[0];
    throw Error(ErrorCode::kUsage,
                "tensor " + quoted_list(match.unknown_names) + (match.unknown_names.size() > 1 ? " are" : " is") +
                    " in neither " + path_a + " nor " + path_b +
                    file_hint(n, "compare takes two dumps and then tensor names; stats takes one dump"));
  }
  uint64_t to_read = 0, shapes_differ = 0, one_sided_a = 0, one_sided_b = 0, unsupported = 0;
  std::vector<std::string> only_a, only_b, unreadable;
  for (const auto& p : match.pairs) {
    if (p.status == Status::kMatch) ++to_read;
    else if (p.status == Status::kIncompatible && !p.unsupported) ++shapes_differ;
    else if (p.status == Status::kIncompatible) {
      ++unsupported;
      if (unreadable.size() < 1) unreadable.push_back(clip(p.name) + "' (" + clip(p.reason) + ")");
    } else if (p.status == Status::kOnlyInA) {
      ++one_sided_a;
      if (only_a.size() < 2) only_a.push_back(p.name);
    } else if (p.status == Status::kOnlyInB) {
      ++one_sided_b;
      if (only_b.size() < 2) only_b.push_back(p.name_b);
    }
  }
  if (to_read > 0 || shapes_differ > 0) {
    for (const auto& rule : match.idle_rules) warn_or_throw(warnings, rule, o.strict);
    return;
  }
  const bool selecting = !o.tensors.empty() || !o.include.empty() || !o.exclude.empty();
  std::string why;
  if (ta.empty() && tb.empty()) {
    why = path_a + " and " + path_b + " hold no tensors";
  } else if (match.pairs.empty()) {
    why = selecting ? "the selection (tensor names, --include, --exclude) leaves no tensor of " + path_a + " or " +
                          path_b + " (" + std::to_string(ta.size()) + " and " + std::to_string(tb.size()) + " tensors)"
                    : (ta.empty() ? path_a : path_b) + " holds no tensors";
    for (const auto& rule : match.idle_rules) why += "; " + rule;
  } else if (unsupported > 0) {
    why = "every selected pair is of a type tensordiff cannot compare (" + std::to_string(unsupported) +
          " pairs, e.g. '" + unreadable[0] + ")";
    if (one_sided_a + one_sided_b) why += ", the other tensors are on one side only";
  } else {
    auto side = [&](uint64_t n, const std::vector<std::string>& eg, const char* which) {
      return std::to_string(n) + " only in " + which + (n ? ", e.g. " + quoted_list(eg, 2) : "");
    };
    why = "no tensor of " + path_a + " has a counterpart in " + path_b + " (" + side(one_sided_a, only_a, "A") +
          "; " + side(one_sided_b, only_b, "B") + ")";
    if (!match.suggested_maps.empty() && match.suggested_maps[0].size() <= 240)
      why += "; --map '" + match.suggested_maps[0] + "' would pair them by name";
    else why += "; --map REGEX=REPL renames B's tensors, --align order pairs them by execution order";
  }
  throw Error(ErrorCode::kUsage, "nothing compared: " + why);
}


void check_stats_selection(const std::vector<TensorInfo>& tensors, const std::string& path,
                           const std::vector<std::string>& names, size_t selected) {
  std::vector<std::string> unknown;
  for (const auto& n : names) {
    bool found = false;
    for (const auto& t : tensors)
      if (t.name == n || glob_match(n, t.name)) {
        found = true;
        break;
      }
    if (!found) unknown.push_back(n);
  }
  if (!unknown.empty())
    throw Error(ErrorCode::kUsage, "tensor " + quoted_list(unknown) + (unknown.size() > 1 ? " are" : " is") +
                                       " not in " + path +
                                       file_hint(unknown[0], "stats summarises one dump; to compare two: tensordiff A B"));
  if (selected == 0) throw Error(ErrorCode::kUsage, "nothing to summarise: " + path + " holds no tensors");
}

}  // namespace tensordiff
