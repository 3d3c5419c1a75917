#include "engine/matcher.hpp"

#include <re2/re2.h>

#include <cctype>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "common/format.hpp"
#include "engine/align.hpp"
#include "engine/selection.hpp"
#include "engine/tolerance.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

Closest closest_name(const std::string& name, const std::vector<TensorInfo>& candidates) {
  auto tail = [](const std::string& x, const std::string& y) {  // common suffix length
    size_t k = 0;
    while (k < x.size() && k < y.size() && x[x.size() - 1 - k] == y[y.size() - 1 - k]) ++k;
    return k;
  };
  auto components = [](const std::string& x, size_t suffix) {  // whole components in a suffix
    size_t n = 0;
    for (size_t i = x.size() - suffix; i < x.size(); ++i) n += x[i] == '.' || x[i] == '/';
    return n;
  };
  Closest best;
  size_t best_c = 0, best_k = 0;
  for (const auto& t : candidates) {
    size_t k = tail(name, t.name);
    // Only whole components count: "fc1.weight" and "c1.weight" share one, not "c1".
    auto boundary = [](const std::string& x, size_t k) {
      return k == x.size() || x[x.size() - k - 1] == '.' || x[x.size() - k - 1] == '/';
    };
    while (k > 0 && !(boundary(name, k) && boundary(t.name, k))) --k;
    if (k == 0 && name != t.name) continue;
    const size_t c = components(name, k) + 1;
    if (c > best_c || (c == best_c && k > best_k)) {
      best = {t.name, ""};
      best_c = c;
      best_k = k;
    }
  }
  if (!best.name.empty() && (best_k < name.size() || best_k < best.name.size())) {
    const std::string pb = name.substr(0, name.size() - best_k), pa = best.name.substr(0, best.name.size() - best_k);
    best.map = "^" + regex_escape(pb) + "=" + pa;
  }
  return best;
}

bool name_selected(const std::string& name, const std::vector<std::string>& tensors,
                   const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  auto any = [&](const std::vector<std::string>& globs) {
    for (const auto& g : globs)
      if (g == name || glob_match(g, name)) return true;
    return false;
  };
  if (!tensors.empty() && !any(tensors)) return false;
  if (!include.empty() && !any(include)) return false;
  return !any(exclude);
}

namespace {

// --map rules run on RE2 (linear time, bounded memory: a rule like '(a*)*b' on a long name
// cannot hang, and '(.)*' cannot exhaust the stack as std::regex does). REPL's $1..$9 are
// RE2's \1..\9 ($$ is a literal $).
struct MapRule {
  std::unique_ptr<re2::RE2> re;
  std::string rewrite;
};

// Which of the selection's names and rules matched anything (MatchResult's unknown_names and
// idle_rules): every glob is tried on every name, not only until one decides.
struct SelectionUse {
  std::vector<bool> tensors, include, exclude, maps;
  std::vector<bool> tols;
  explicit SelectionUse(const CompareOptions& o)
      : tensors(o.tensors.size()), include(o.include.size()), exclude(o.exclude.size()), maps(o.maps.size()),
        tols(o.tol_rules.size()) {}
  // A pair the listings make (the selection aside): whether a --tol rule applies to any, so
  // that compare and show (one selected pair) judge a rule alike.
  void see_pair(const std::string& name, const CompareOptions& o) {
    for (size_t k = 0; k < tols.size(); ++k)
      if (!tols[k] && glob_match(o.tol_rules[k].glob, name)) tols[k] = true;
  }
  void see(const std::string& name, const CompareOptions& o) {
    auto mark = [&](const std::vector<std::string>& globs, std::vector<bool>& used) {
      for (size_t k = 0; k < globs.size(); ++k)
        if (!used[k] && (globs[k] == name || glob_match(globs[k], name))) used[k] = true;
    };
    mark(o.tensors, tensors);
    mark(o.include, include);
    mark(o.exclude, exclude);
  }
  void report(const CompareOptions& o, MatchResult& r) const {
    for (size_t k = 0; k < tensors.size(); ++k)
      if (!tensors[k]) r.unknown_names.push_back(o.tensors[k]);
    for (size_t k = 0; k < include.size(); ++k)
      if (!include[k]) r.idle_rules.push_back("--include '" + o.include[k] + "' matches no tensor");
    for (size_t k = 0; k < exclude.size(); ++k)
      if (!exclude[k]) r.idle_rules.push_back("--exclude '" + o.exclude[k] + "' matches no tensor");
    for (size_t k = 0; k < maps.size(); ++k)
      if (!maps[k])
        r.idle_rules.push_back("--map '" + o.maps[k].first + "=" + o.maps[k].second + "' renames no tensor of B");
    for (size_t k = 0; k < tols.size(); ++k)
      if (!tols[k]) r.idle_rules.push_back("--tol '" + o.tol_rules[k].glob + ":...' matches no pair of the two dumps");
  }
};

std::vector<MapRule> compile_maps(const CompareOptions& o) {
  std::vector<MapRule> maps;
  for (const auto& [re, repl] : o.maps) {
    re2::RE2::Options opt;
    opt.set_log_errors(false);
    auto r = std::make_unique<re2::RE2>(re, opt);
    const std::string spec = "--map '" + re + "=" + repl + "'";
    if (!r->ok()) throw Error(ErrorCode::kUsage, spec + ": bad regex: " + r->error());
    std::string rewrite;
    for (size_t i = 0; i < repl.size(); ++i) {
      if (repl[i] == '$' && i + 1 < repl.size() && repl[i + 1] == '$') {
        rewrite += '$';
        ++i;
      } else if (repl[i] == '$' && i + 1 < repl.size() && std::isdigit(static_cast<unsigned char>(repl[i + 1]))) {
        rewrite += '\\';
        rewrite += repl[++i];
      } else if (repl[i] == '\\') {
        rewrite += "\\\\";
      } else {
        rewrite += repl[i];
      }
    }
    std::string why;
    if (!r->CheckRewriteString(rewrite, &why)) throw Error(ErrorCode::kUsage, spec + ": " + why);
    maps.push_back({std::move(r), rewrite});
  }
  return maps;
}

}  // namespace

std::string incompatibility(const TensorInfo& x, const TensorInfo& y, bool allow_reshape,
                            bool& unsupported) {
  unsupported = false;
  if (!x.unsupported.empty() || !y.unsupported.empty()) {
    unsupported = true;
    return !x.unsupported.empty() ? "a: " + x.unsupported : "b: " + y.unsupported;
  }
  if (x.shape != y.shape) {
    if (allow_reshape && x.count == y.count) return "";
    return "shape " + shape_string(x.shape) + " vs " + shape_string(y.shape);
  }
  return "";
}

struct NameMap::Rules {
  std::vector<MapRule> maps;
};
NameMap::NameMap(const CompareOptions& o) : rules_(std::make_unique<Rules>()) { rules_->maps = compile_maps(o); }
NameMap::~NameMap() = default;
NameMap::NameMap(NameMap&&) noexcept = default;
bool NameMap::empty() const { return rules_->maps.empty(); }
std::string NameMap::operator()(const std::string& b_name) const {
  std::string n = b_name;
  for (const auto& m : rules_->maps) re2::RE2::GlobalReplace(&n, *m.re, m.rewrite);
  return n;
}

namespace {

// What --align order left unpaired, and why: one note each, never silence.
void order_notes(const OrderAlignment& al, const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b,
                 size_t unmatched_a, size_t unmatched_b, std::vector<std::string>& notes) {
  const size_t left_a = unmatched_a - al.pairs.size(), left_b = unmatched_b - al.pairs.size();
  if (left_a == 0 && left_b == 0) return;
  const std::string left = "--align order paired " + std::to_string(al.pairs.size()) + " of the tensors names "
                           "did not; " + std::to_string(left_a) + " of A and " + std::to_string(left_b) +
                           " of B stay unpaired";
  if (al.ambiguous_example) {
    const auto [ia, ib] = *al.ambiguous_example;
    notes.push_back(left + ": in " + std::to_string(al.ambiguous_segments) + " stretch" +
                    (al.ambiguous_segments > 1 ? "es" : "") + " between name-matched tensors, shapes and "
                    "dtypes allow more than one pairing by order (A's '" + clip(a[ia].name) + "' could be B's '" +
                    clip(b[ib].name) + "' or another); --map names them");
  } else if (al.too_long) {
    notes.push_back(left + ": a stretch between name-matched tensors is too long to align (over 4e6 "
                    "pairings); --map names them");
  } else {
    notes.push_back(left + ": no tensor of like shape and dtype class in the same place on the other side");
  }
}

}  // namespace

MatchResult match_tensors(const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b,
                          const CompareOptions& o) {
  const auto maps = compile_maps(o);
  SelectionUse use(o);
  std::vector<std::string> b_names(b.size());
  std::unordered_map<std::string, size_t> b_by_name;
  for (size_t j = 0; j < b.size(); ++j) {
    std::string n = b[j].name;
    for (size_t k = 0; k < maps.size(); ++k)
      if (re2::RE2::GlobalReplace(&n, *maps[k].re, maps[k].rewrite) > 0) use.maps[k] = true;
    use.see(n, o);
    b_names[j] = n;
    if (!b_by_name.emplace(n, j).second) {
      if (maps.empty())
        throw Error(ErrorCode::kCorrupt, "B has two tensors named '" + n + "'");
      throw Error(ErrorCode::kUsage, "--map gives two tensors of B the name '" + n + "' ('" +
                                         b[b_by_name[n]].name + "' and '" + b[j].name + "')");
    }
  }
  {
    std::unordered_set<std::string> seen;
    for (const auto& t : a)
      if (!seen.insert(t.name).second) throw Error(ErrorCode::kCorrupt, "A has two tensors named '" + t.name + "'");
  }
  MatchResult result;
  std::vector<MatchedPair>& out = result.pairs;
  std::vector<bool> b_used(b.size(), false);
  // Names left unmatched, paired by execution order where that is unambiguous.
  std::vector<size_t> ua, ub;
  std::vector<std::pair<size_t, size_t>> anchors;
  // Only selected tensors are paired by order (--include/--exclude and positional names apply
  // before, so an excluded tensor never takes a selected one's place).
  for (size_t i = 0; i < a.size(); ++i) {
    const auto it = b_by_name.find(a[i].name);
    if (it != b_by_name.end()) anchors.emplace_back(i, it->second);
    else if (name_selected(a[i].name, o.tensors, o.include, o.exclude)) ua.push_back(i);
  }
  {
    std::vector<bool> named(b.size(), false);
    for (const auto& [ia, ib] : anchors) named[ib] = true;
    for (size_t j = 0; j < b.size(); ++j)
      if (!named[j] && name_selected(b_names[j], o.tensors, o.include, o.exclude)) ub.push_back(j);
  }
  std::unordered_map<size_t, size_t> by_order;  // a index → b index
  std::vector<std::pair<std::string, std::string>> renames;
  const OrderAlignment aligned = align_by_order(a, b, ua, ub, anchors);
  for (const auto& [ia, ib] : aligned.pairs) {
    by_order[ia] = ib;
    renames.emplace_back(b[ib].name, a[ia].name);
  }
  result.alignable = by_order.size();
  result.suggested_maps = suggest_maps(renames);
  if (o.align == Align::kOrder) order_notes(aligned, a, b, ua.size(), ub.size(), result.notes);
  if (o.align != Align::kOrder) by_order.clear();
  // Exact sizes: with 10^6 tensors a vector's growth slack is tens of MB (issue 26).
  out.reserve(a.size());
  result.all_pairs.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    auto it = b_by_name.find(a[i].name);
    const auto ordered = by_order.find(i);
    if (ordered != by_order.end()) it = b_by_name.find(b_names[ordered->second]);
    if (it != b_by_name.end()) b_used[it->second] = true;  // matched, even if filtered out
    use.see(a[i].name, o);
    if (it != b_by_name.end()) {
      bool unsupported = false;
      if (incompatibility(a[i], b[it->second], o.allow_reshape, unsupported).empty()) {
        result.all_pairs.push_back({a[i].dtype, b[it->second].dtype, a[i].count});
        use.see_pair(a[i].name, o);
      }
    }
    if (!name_selected(a[i].name, o.tensors, o.include, o.exclude)) continue;
    MatchedPair p;
    p.a = i;
    p.name = a[i].name;
    p.by_order = ordered != by_order.end();
    if (it == b_by_name.end()) {
      p.name_b = "";
      p.status = Status::kOnlyInA;
      p.reason = "not in b";
    } else {
      p.b = it->second;
      p.name_b = b[it->second].name;
      p.reason = incompatibility(a[i], b[it->second], o.allow_reshape, p.unsupported);
      if (!p.reason.empty()) p.status = Status::kIncompatible;
    }
    out.push_back(std::move(p));
  }
  size_t only_b = 0;
  for (size_t j = 0; j < b.size(); ++j)
    only_b += !b_used[j] && name_selected(b_names[j], o.tensors, o.include, o.exclude);
  out.reserve(out.size() + only_b);
  for (size_t j = 0; j < b.size(); ++j) {
    if (b_used[j] || !name_selected(b_names[j], o.tensors, o.include, o.exclude)) continue;
    MatchedPair p;
    p.b = j;
    p.name = b_names[j];
    p.name_b = b[j].name;
    p.status = Status::kOnlyInB;
    p.reason = "not in a";
    out.push_back(std::move(p));
  }
  use.report(o, result);
  return result;
}

}  // namespace tensordiff
