#include "engine/diagnosis.hpp"
#include "engine/precision.hpp"
#include "engine/values.hpp"
#include "tensordiff/tensordiff.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <cctype>
#include <cmath>
#include <deque>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace tensordiff {

// Peers: the same module in another layer. The name with each all-digit path component
// replaced by '#' ("h.2.ln_1" -> "h.#.ln_1": a block's ln_1 and ln_2 stay apart), and, for a
// hooked module, the class its record's source names ("file:line (LayerNorm)"). Empty when the
// name has no layer number: such a tensor has no peers.
std::string peer_key(const std::string& name, const std::string& source) {
  std::string k;
  bool layered = false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c));
    });
    layered |= digits;
    k += digits ? "#" : part;
    if (end == name.size()) break;
    k += '.';
    start = end + 1;
  }
  if (!layered) return "";
  const size_t open = source.rfind(" (");
  if (open != std::string::npos && !source.empty() && source.back() == ')') k += " " + source.substr(open + 1);
  return k;
}

namespace {

struct Seen {
  double rel = 0, sys = 0;  // the largest relative L2 error and systematic part so far
  double l2 = 0;            // for a module's inputs: the largest L2 norm (A's) among them
  size_t jumps_before = 0;  // for a module's inputs: how many jumps the run had at the first
  size_t params_before = 0;  // ... and how many parameter records
  size_t outputs_before = 0;  // ... and how many outputs
  // The coarsest roundoff among its children's outputs (the outputs since its inputs, up to its
  // own first output: a module's outputs come after its children's), once its first output is
  // seen: the precision it computed in.
  bool children_known = false;
  double children_roundoff = 0;
};

// The largest value among those added since the k-th (a monotonic stack: O(log n) a query).
class SuffixMax {
 public:
  void add(double v) {
    while (!stack_.empty() && stack_.back().second <= v) stack_.pop_back();
    stack_.emplace_back(count_++, v);
  }
  size_t count() const { return count_; }
  double since(size_t k) const {
    const auto it = std::lower_bound(stack_.begin(), stack_.end(), k,
                                     [](const std::pair<size_t, double>& e, size_t x) { return e.first < x; });
    return it == stack_.end() ? 0.0 : it->second;
  }

 private:
  std::vector<std::pair<size_t, double>> stack_;
  size_t count_ = 0;
};

// A pair's peer key: the public peer_key() of its name and the source of its record.
std::string peer_key(const std::string& name, const PairReport& r) {
  const TensorInfo* info = r.info_b ? &*r.info_b : r.info_a ? &*r.info_a : nullptr;
  return tensordiff::peer_key(name, info ? info->source : "");
}

// "name#k" (the k-th call of a module, hook_module's unique names) -> ("name", "#k"); a name
// without the suffix -> (name, "").
std::pair<std::string, std::string> split_call(const std::string& name) {
  size_t i = name.size();
  while (i > 0 && std::isdigit(static_cast<unsigned char>(name[i - 1]))) --i;
  if (i == name.size() || i < 2 || name[i - 1] != '#') return {name, ""};
  return {name.substr(0, i - 1), name.substr(i - 1)};
}

// Where an input component is a whole component of `base` ("X.input" or "X.input.<anything>";
// msprobe's "X.kwargs.NAME" and a module's "X.parameters.NAME", what the call consumes), from
// the last to the first.
std::vector<size_t> input_components(const std::string& base) {
  std::vector<size_t> at;
  for (size_t pos = base.rfind('.'); pos != std::string::npos && pos > 0; pos = base.rfind('.', pos - 1))
    for (const char* c : {".input", ".kwargs", ".parameters"}) {
      const size_t end = pos + std::char_traits<char>::length(c);
      if (base.compare(pos, end - pos, c) == 0 && (end == base.size() || base[end] == '.')) at.push_back(pos);
    }
  return at;
}

// Whether `name`'s input component is a module's parameters (state it holds, not an argument
// some code passed it).
bool is_parameter(const std::string& name, size_t module_size) {
  return name.compare(module_size, 12, ".parameters.") == 0;
}

// Module paths with an output among the report's names: views into those names. The whole
// report's (know_names) are a sorted vector, 16 bytes a path (a hash set of them held ~56 bytes
// a path through the diagnosis: 10^6 pairs, 53 MB, issue 26); pairs that come alone add to a set.
struct PrefixSet {
  std::vector<std::string_view> sorted;
  std::unordered_set<std::string_view> added;
  bool count(std::string_view p) const {
    return std::binary_search(sorted.begin(), sorted.end(), p) || (!added.empty() && added.count(p));
  }
  // The sorted paths without repeats (called as they pile up, and once at the end).
  void compact() {
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  }
};

// The module whose input `name` is, with its call ("X#2"); empty when `name` is no input.
// Positional inputs are "X.input.K", keywords "X.input.NAME", nested values "X.input.K.J":
// of several input components the last whose module has outputs in the report wins (a
// keyword named "input" or a submodule named "input" stays readable).
std::string module_of_input(const std::string& name, const PrefixSet& output_prefixes) {
  const auto [base, call] = split_call(name);
  const auto at = input_components(base);
  if (at.empty()) return "";
  for (size_t pos : at)
    if (output_prefixes.count(std::string_view(base).substr(0, pos))) return base.substr(0, pos) + call;
  return base.substr(0, at.back()) + call;
}

// The forward whose saved tensors a backward module uses: the last ".backward" path
// component as ".forward" ("Functional.linear.2.backward" -> "Functional.linear.2.forward",
// "Module.fc.Linear.backward.0" -> "Module.fc.Linear.forward.0"); empty for any other module.
// Where a module's ".backward" component starts ("X.backward" or "X.backward.<...>"), or npos.
size_t backward_at(const std::string& module) {
  for (size_t at = module.rfind(".backward"); at != std::string::npos && at > 0; at = module.rfind(".backward", at - 1))
    if (at + 9 == module.size() || module[at + 9] == '.') return at;
  return std::string::npos;
}

std::string forward_of(const std::string& module) {
  const size_t at = backward_at(module);
  return at == std::string::npos ? "" : module.substr(0, at) + ".forward" + module.substr(at + 9);
}

// A backward module's path without its class ("Module.model.layers.0.GemmaDecoderLayer.backward.0"
// -> "Module.model.layers.0"): what its submodules' paths start with. Empty for any other.
std::string backward_path(const std::string& module) {
  const size_t at = backward_at(module);
  if (at == std::string::npos) return "";
  const size_t dot = module.rfind('.', at - 1);
  return dot == std::string::npos || dot == 0 ? "" : module.substr(0, dot);
}

}  // namespace

// Every module path with an output among these names (an output "X.0.1" gives X.0.1, X.0, X),
// as views into `name` (they are its prefixes: a call suffix "#2" comes last): `name` must
// outlive the set. 10^6 pairs' copies of their names held ~70 MB through the diagnosis.
template <class Add>
void for_output_prefixes(const std::string& name, const Add& add) {
  const std::string base = split_call(name).first;
  if (!input_components(base).empty()) return;
  const std::string_view view(name);
  for (size_t end = base.size(); end != std::string::npos && end > 0; end = base.rfind('.', end - 1))
    add(view.substr(0, end));
}

// Pairs with the same data: both sides' dtypes, shapes and checksums (64-bit: a collision
// between two tensors of one run is 2^-64 unlikely). 24 bytes in the copies map, not a string
// (10^5 pairs' string keys held 16 MB through the diagnosis): the checksums and an FNV-1a of
// the dtypes and shapes; the first pair with a key is kept with its dtypes and shapes, and a
// later pair is its copy only when those are equal too.
struct CopyKey {
  uint64_t ca, cb, layout;
  bool operator==(const CopyKey& o) const { return ca == o.ca && cb == o.cb && layout == o.layout; }
};
struct CopyKeyHash {
  size_t operator()(const CopyKey& k) const { return k.ca ^ (k.cb * 0x9E3779B97F4A7C15ull) ^ (k.layout << 1); }
};
CopyKey copy_key(const PairReport& r) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t x) {
    for (int i = 0; i < 8; ++i) h = (h ^ ((x >> (8 * i)) & 0xff)) * 0x100000001b3ull;
  };
  for (const TensorInfo* info : {&*r.info_a, &*r.info_b}) {
    mix(static_cast<uint64_t>(info->dtype));
    mix(info->shape.size());
    for (auto x : info->shape) mix(x);
  }
  return {r.a->checksum, r.b->checksum, h};
}
// Whether pair r has the dtypes and shapes of the pair whose infos are a, b.
bool same_layout(const TensorInfo& a, const TensorInfo& b, const PairReport& r) {
  return a.dtype == r.info_a->dtype && b.dtype == r.info_b->dtype && a.shape == r.info_a->shape &&
         b.shape == r.info_b->shape;
}
// Whether pair r (with a diff) can be a copy: both checksums known, and its two sides differ.
bool may_be_copy(const PairReport& r) {
  return r.a->checksum_known && r.b->checksum_known && r.info_a && r.info_b &&
         !(r.a->checksum == r.b->checksum && r.info_a->dtype == r.info_b->dtype);
}
// The first pair with a key, when pairs come one at a time: its name and infos.
struct FirstCopy {
  std::string name;
  std::shared_ptr<const TensorInfo> info_a, info_b;
};

namespace {

// scale = l2(b)/l2(a) and shift = (mean(b) − mean(a)) / rms(a) where the sides have them, and
// the systematic part max(|scale − 1|, |shift|).
struct Systematic {
  std::optional<double> scale, shift;
  double part = 0;
};

Systematic systematic_of(const PairReport& r) {
  Systematic s;
  if (r.a->l2 && *r.a->l2 > 0 && r.b->l2) {
    s.scale = *r.b->l2 / *r.a->l2;
    s.part = std::fabs(*s.scale - 1);
    if (r.a->mean && r.b->mean && r.a->finite > 0) {
      const double rms = *r.a->l2 / std::sqrt(static_cast<double>(r.a->finite));
      s.shift = (*r.b->mean - *r.a->mean) / rms;
      s.part = std::max(s.part, std::fabs(*s.shift));
    }
  }
  return s;
}

// A backward with inputs ("P.backward.K"): P's latest, for P.parameters_grad.* after it.
void remember_backward(const std::string& module, std::unordered_map<std::string, std::string>& last) {
  if (const size_t at = backward_at(module); at != std::string::npos) last[module.substr(0, at)] = module;
}

// A jump, in the summary: the first one, and the list of all.
void record_jump(const PairReport& r, Summary& summary) {
  if (!r.jump) return;
  if (!summary.first_jump) summary.first_jump = r.name;
  summary.jumps.push_back(r.name);
}

// Whether a summary pair's two sides are the same numbers (a checksum match, or every
// statistic both record equal).
bool summaries_equal(const PairReport& r) {
  if (r.status == Status::kMatch) return true;
  if (r.status != Status::kConsistent || !r.a || !r.b) return false;
  // A statistic both record as NaN (msprobe's Max of a tensor holding a NaN) is the same number.
  for (auto f : {&SideStats::min, &SideStats::max, &SideStats::mean, &SideStats::std, &SideStats::l2}) {
    const auto &x = (*r.a).*f, &y = (*r.b).*f;
    if (x && y && !(*x == *y || (std::isnan(*x) && std::isnan(*y)))) return false;
  }
  return true;
}

// The gap between subnormals of a dtype (fp8 E5M2's own: its precision's is E4M3's); 0 for
// integers.
double dtype_subnormal(DType t) {
  if (t == DType::kF8E5M2) return 0x1p-16;
  const auto p = precision_of(t);
  return p ? subnormal_step(*p) : 0;
}

// The gap between subnormals of a pair's coarser dtype; 0 when unknown.
double pair_subnormal(const PairReport& r) {
  if (!r.info_a || !r.info_b) return 0;
  return std::max(dtype_subnormal(r.info_a->dtype), dtype_subnormal(r.info_b->dtype));
}

// The unit roundoff of a pair's own precision (its less precise dtype's); 0 when unknown.
double pair_roundoff(const PairReport& r) {
  if (!r.info_a || !r.info_b) return 0;
  const auto pa = precision_of(r.info_a->dtype), pb = precision_of(r.info_b->dtype);
  if (!pa || !pb) return 0;
  return std::max(unit_roundoff(*pa), unit_roundoff(*pb));
}

}  // namespace

struct JumpFinder::State {
  // Every pair's systematic part per peer key, when the whole report is known (know_names):
  // the same module in the layers after this one too.
  std::unordered_map<std::string, std::vector<std::pair<std::string, double>>> all_peers;
  JumpRules rules;
  // The whole report's copies (know_names: found by sorting the pairs' copy keys, 32 bytes a
  // pair while it sorts; a hash map of every key held 72 bytes a pair through the diagnosis):
  // (a copy's index, the index of the first pair with its data), by the copy's index.
  std::vector<std::pair<uint32_t, uint32_t>> whole_copies;
  // Pairs that come alone: the first with each copy key, an index into first_copies.
  std::unordered_map<CopyKey, uint32_t, CopyKeyHash> copies;
  std::vector<FirstCopy> first_copies;
  const std::vector<PairReport>* whole = nullptr;
  // Views into the names of the whole report's pairs, or (pairs as they come) of copies kept in
  // streamed_names, whose elements never move.
  PrefixSet output_prefixes;
  std::deque<std::string> streamed_names;
  std::unordered_map<std::string, Seen> inputs;  // per module (with its call): its inputs' largest
  std::unordered_map<std::string, Seen> outputs;  // per module with inputs: its outputs' largest
  // msprobe's "P.backward.K" with inputs, per P: the latest (P.parameters_grad.* follow it).
  std::unordered_map<std::string, std::string> last_backward;
  std::unordered_map<std::string, double> grad_l2;  // per P: its parameter gradients' largest L2 (A's)
  // Per module path and each path above it: the largest error (rel L2, systematic part) of a
  // replayed backward output inside it that its inputs explained, until a backward call of
  // that module takes it.
  std::unordered_map<std::string, std::pair<double, double>> explained_below;
  SuffixMax param_rel, param_sys;  // every parameter record (msprobe's "X.parameters.NAME")
  SuffixMax output_roundoff;  // every output record's own roundoff (pair_roundoff)
  std::unordered_map<std::string, double> peers;  // per peer_key: the largest systematic part
  Seen before, before_outputs;
  bool summaries_differed = false;  // a summary pair (or a recorded value) before differed
  // Pairs whose error is judged against their subnormal step (they lie under the normal range),
  // and the first.
  uint64_t underflows = 0;
  std::string first_underflow;
  std::string last;  // the latest pair with a diff
};

JumpFinder::JumpFinder(const JumpRules& rules) : s_(std::make_unique<State>()) { s_->rules = rules; }
JumpFinder::~JumpFinder() = default;

void JumpFinder::know_names(const std::vector<PairReport>& pairs) {
  s_->whole = &pairs;
  PrefixSet& prefixes = s_->output_prefixes;
  size_t compacted = 1024;
  for (const auto& r : pairs) {
    for_output_prefixes(r.name, [&](std::string_view p) { prefixes.sorted.push_back(p); });
    if (prefixes.sorted.size() >= 2 * compacted) {  // a module's outputs repeat its paths
      prefixes.compact();
      compacted = std::max(compacted, prefixes.sorted.size());
    }
  }
  prefixes.compact();
  prefixes.sorted.shrink_to_fit();
  find_whole_copies(pairs);
  for (const auto& r : pairs) {
    if (!r.diff || !r.a || !r.b || !module_of_input(r.name, s_->output_prefixes).empty()) continue;
    const std::string key = peer_key(split_call(r.name).first, r);
    const double sys = systematic_of(r).part;
    if (!key.empty() && std::isfinite(sys)) s_->all_peers[key].emplace_back(r.name, sys);
  }
}

// The whole report's copies (what add() would find pair by pair): the pairs that reach add()'s
// copy test, sorted by copy key and then index; in each run of one key, a pair with the first's
// dtypes and shapes is its copy.
void JumpFinder::find_whole_copies(const std::vector<PairReport>& pairs) {
  std::vector<std::pair<CopyKey, uint32_t>> keyed;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const PairReport& r = pairs[i];
    if (!is_value_pair(r) && r.diff && r.a && r.b && may_be_copy(r)) keyed.emplace_back(copy_key(r), uint32_t(i));
  }
  auto less = [](const CopyKey& x, const CopyKey& y) {
    return std::tie(x.ca, x.cb, x.layout) < std::tie(y.ca, y.cb, y.layout);
  };
  std::sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return less(x.first, y.first) || (!less(y.first, x.first) && x.second < y.second);
  });
  auto& out = s_->whole_copies;
  for (size_t lo = 0, hi; lo < keyed.size(); lo = hi) {
    for (hi = lo + 1; hi < keyed.size() && keyed[hi].first == keyed[lo].first;) ++hi;
    const PairReport& f = pairs[keyed[lo].second];
    for (size_t k = lo + 1; k < hi; ++k)
      if (same_layout(*f.info_a, *f.info_b, pairs[keyed[k].second])) out.emplace_back(keyed[k].second, keyed[lo].second);
  }
  std::sort(out.begin(), out.end());
  out.shrink_to_fit();
}

// Whether the other pairs of this peer key (every layer, the whole report known) have a
// systematic part of at least half `sys` at their median: what the module does in every layer.
bool JumpFinder::shared_by_peers(const std::string& key, const std::string& name, double sys) const {
  const auto it = s_->all_peers.find(key);
  if (key.empty() || it == s_->all_peers.end()) return false;
  std::vector<double> others;
  for (const auto& [n, v] : it->second)
    if (n != name) others.push_back(v);
  if (others.empty()) return false;
  std::nth_element(others.begin(), others.begin() + others.size() / 2, others.end());
  return others[others.size() / 2] * 2 > sys;
}

void JumpFinder::add(PairReport& r, Summary& summary, double u) {
  State& st = *s_;
  const JumpRules& rules = st.rules;
  const PairReport* whole = st.whole ? st.whole->data() : nullptr;
  const bool in_whole = whole && &r >= whole && &r < whole + st.whole->size();
  if (!in_whole) {  // the whole report's prefixes are known (know_names)
    // A pair that comes alone: its prefixes view a copy of its name, kept where one was added.
    st.streamed_names.push_back(r.name);
    auto& added = st.output_prefixes.added;
    const size_t before = added.size();
    for_output_prefixes(st.streamed_names.back(), [&](std::string_view p) { added.insert(p); });
    if (added.size() == before) st.streamed_names.pop_back();
  }
  r.gap_after.reset();
  r.copy_of.reset();
  // A recorded value (a scalar argument, a setting) that differs is a difference made there,
  // whatever the tensors show: named ahead of any tensor metric.
  if (is_value_pair(r)) {
    r.jump = r.status == Status::kMismatch;
    record_jump(r, summary);
    if (r.jump) st.summaries_differed = true;
    return;
  }
  // Summaries (statistics dumps) measure no error, only that one exists: a pair whose
  // summaries differ beyond tolerance after every earlier pair's were equal (a deterministic
  // run before its slip) is where the error appeared; after any difference, nothing more can
  // be told apart.
  if (!r.diff && r.summary_diff && r.a && r.b) {
    const Systematic systematic = systematic_of(r);
    r.scale = systematic.scale;
    r.shift = systematic.shift;
    r.jump = r.status == Status::kMismatch && !st.summaries_differed;
    record_jump(r, summary);
    if (!summaries_equal(r)) st.summaries_differed = true;
    return;
  }
  if (!r.diff || !r.a || !r.b) return;
  // A copy (the two sides differ, and each equals the same earlier pair's side) carries that
  // pair's error and nothing of its own: its metrics are reported, its jump never.
  if (in_whole) {
    const uint32_t mine = static_cast<uint32_t>(&r - whole);
    const auto it = std::lower_bound(st.whole_copies.begin(), st.whole_copies.end(), std::make_pair(mine, 0u));
    if (it != st.whole_copies.end() && it->first == mine) r.copy_of = (*st.whole)[it->second].name;
  } else if (may_be_copy(r)) {
    const auto [it, first] = st.copies.try_emplace(copy_key(r), static_cast<uint32_t>(st.first_copies.size()));
    if (first) {
      st.first_copies.push_back(FirstCopy{r.name, r.info_a, r.info_b});
    } else {
      const FirstCopy& f = st.first_copies[it->second];
      if (same_layout(*f.info_a, *f.info_b, r)) r.copy_of = f.name;
    }
  }
  const DiffStats& d = *r.diff;
  const double rel = d.rel_l2;
  const double n = static_cast<double>(d.finite_pairs);
  const Systematic systematic = systematic_of(r);
  r.scale = systematic.scale;
  r.shift = systematic.shift;
  const double sys = systematic.part;
  const std::string module = module_of_input(r.name, st.output_prefixes);
  const bool is_input = !module.empty();
  // What this pair inherited. An output: its module's recorded inputs (the nearest enclosing
  // module with inputs, for X.0, X.1.0, X.logits), else every earlier pair. An input: every
  // earlier *output*: an input whose error they do not explain was made by the code between
  // modules (a functional call, an inline scaling), which no hook sees.
  Seen base = is_input ? st.before_outputs : st.before;
  // A module with a jump among the records made since its inputs (inside it: calls nest, so
  // what runs between a module's inputs and its output is its own code and children; the
  // root too, whose children's names do not start with its own) is not named again: its
  // output carries that error.
  bool explained_inside = false;
  bool has_module_inputs = false;
  std::string out_module;  // an output's module (the nearest enclosing one with inputs)
  double received_l2 = 0;  // a parameter gradient: the largest norm (A's) it is a sum of
  double children_roundoff = 0;  // an output: the coarsest roundoff of its module's children
  if (!is_input) {
    const auto [name, call] = split_call(r.name);
    for (size_t end = name.size(); end != std::string::npos && end > 0; end = name.rfind('.', end - 1)) {
      const auto in = st.inputs.find(name.substr(0, end) + call);
      if (in == st.inputs.end()) continue;
      out_module = in->first;
      has_module_inputs = true;
      base = in->second;
      explained_inside = summary.jumps.size() > base.jumps_before;
      // The parameters its submodules consumed since (state: a step's weights carry the
      // previous step's updates) are what it inherited too.
      base.rel = std::max(base.rel, st.param_rel.since(base.params_before));
      base.sys = std::max(base.sys, st.param_sys.since(base.params_before));
      // Its noise floor is the coarsest precision its children computed in (a bf16 Linear
      // inside a float32 block, in a run that is float32 by elements: the block's output
      // carries bf16's rounding). Not their errors: a child downstream of the module's own
      // code (LLaMA's o_proj after a missing 1/sqrt(d)) carries that code's error out.
      Seen& mod = in->second;
      if (!mod.children_known) {
        mod.children_known = true;
        mod.children_roundoff = st.output_roundoff.since(mod.outputs_before);
      }
      children_roundoff = mod.children_roundoff;
      break;
    }
    // A module dump's parameter gradient ("P.parameters_grad.weight") is made by P's backward
    // (msprobe writes it after that backward's records): the norm it is a sum over is that
    // backward's inputs', or where no backward was recorded (msprobe 8.1.2 on torch 1.13) its
    // sibling gradients' (a bias gradient after its weight's: both sum the same incoming
    // gradient). For `cancelled` below; what it inherited stays everything before: a bias
    // gradient sums its rows, and its error's rescaling is not its backward's.
    if (!has_module_inputs)
      if (const size_t at = name.find(".parameters_grad"); at != std::string::npos) {
        const std::string owner = name.substr(0, at);
        const auto bw = st.last_backward.find(owner);
        if (const auto in = bw == st.last_backward.end() ? st.inputs.end() : st.inputs.find(bw->second);
            in != st.inputs.end())
          received_l2 = in->second.l2;
        double& siblings = st.grad_l2[owner];
        received_l2 = std::max(received_l2, siblings);
        if (r.a->l2 && std::isfinite(*r.a->l2)) siblings = std::max(siblings, *r.a->l2);
      }
    // A backward computes from the gradient it receives (its inputs) and from what its forward
    // saved (that forward's inputs and outputs: msprobe's "X.backward" of "X.forward"), one
    // times the other: a weight gradient carries the rescaling of the activation it
    // multiplies on top of the gradient's own, and the two add (a bf16-autocast Gemma step:
    // its RMSNorm's backward rescales by 0.9944 from a gradient at 0.9972 and a saved input at
    // about as much, a false jump against the larger alone).
    if (const std::string fwd = forward_of(out_module); !fwd.empty()) {
      double saved_rel = 0, saved_sys = 0;
      for (const auto* seen : {&st.inputs, &st.outputs})
        if (const auto f = seen->find(fwd); f != seen->end()) {
          saved_rel = std::max(saved_rel, f->second.rel);
          saved_sys = std::max(saved_sys, f->second.sys);
        }
      base.rel += saved_rel;
      base.sys += saved_sys;
    }
    // A backward replayed from its recorded inputs (module_replay: a norm's, which scales each
    // row by its own gain and so reweights the error it receives) inherited what they explain.
    if (r.explained_rel) base.rel = std::max(base.rel, *r.explained_rel);
    if (r.explained_sys) base.sys = std::max(base.sys, *r.explained_sys);
  }
  // The noise floor: the run's roundoff, or the pair's own or (an output) its module's
  // children's where coarser (a bf16 Linear in a run that is mostly float32 by elements,
  // msprobe 8.1.2's module dump of an autocast step: its rounding against float32 is no jump).
  const double relative_floor = std::max({u, pair_roundoff(r), children_roundoff});
  // Values under a format's normal range round to a fixed step, the gap between subnormals,
  // not to a relative one: float16 gradients of 1e-7 (a step without loss scaling) carry a
  // relative error of 0.17 from rounding alone (half that step over their rms). The step is
  // the run's precision's or the pair's coarser dtype's.
  const auto run_precision = precision_from_name(summary.precision);
  const double step = std::max(run_precision ? subnormal_step(*run_precision) : 0.0, pair_subnormal(r));
  const double rms_a = r.a->l2 && n > 0 ? *r.a->l2 / std::sqrt(n) : 0;
  const double underflow = rms_a > 0 && std::isfinite(rms_a) ? 0.5 * step / rms_a : 0;
  const double floor = std::max(relative_floor, underflow);
  if (underflow > relative_floor && rel > relative_floor && !st.underflows++) st.first_underflow = r.name;
  r.growth = std::isfinite(rel) ? rel / std::max(floor, base.rel) : rel;
  // A parameter gradient whose terms cancel (a key projection's bias gradient is 0 but for
  // rounding: softmax ignores a shift) is under one roundoff of the norm it sums: its relative
  // error is that rounding over a near-zero norm (a clean bf16 BERT step: 2.5e4, growth 1.3e6),
  // no error made there. (Not any output: a softmax's or a norm's scale is its own.)
  const double a_l2 = r.a->l2 ? *r.a->l2 : 0;
  const bool cancelled = received_l2 > 0 && std::isfinite(a_l2) && a_l2 < pair_roundoff(r) * received_l2;
  const double noise = std::max(n > 0 ? rel / std::sqrt(n) : rel, rel * rel);
  const bool growth_jump = *r.growth >= rules.growth;
  const std::string key = peer_key(split_call(r.name).first, r);
  // A rescaling or shift below one roundoff of the pair's own precision that the same module
  // shows in the other layers too is how that precision computes it (torch's CPU LayerNorm on
  // bf16 weights rescales by 1.002-1.004 in every layer), not a slip: the first of its kind,
  // with no peer before it, is not named for it.
  const bool systematic_jump = rel > 0 && std::isfinite(sys) && sys >= rules.systematic_fraction * rel &&
                               sys >= rules.systematic_over_before * base.sys &&
                               sys >= rules.systematic_floor * floor && sys >= rules.systematic_z * noise &&
                               !(sys < pair_roundoff(r) && !is_input && shared_by_peers(key, r.name, sys));
  const auto peer = !key.empty() && !is_input ? st.peers.find(key) : st.peers.end();
  // Peers whose systematic part is 0 (they match: an fp32 run before its slip, msprobe's
  // call-numbered "Torch.matmul.#") measure nothing: any error is "infinitely" above them.
  // A systematic part under twice what the module's own recorded inputs carry is theirs (a
  // Linear passes its input's rescaling on, give or take its own rounding: LLaMA's k_proj
  // after an eps slip, 0.0678 from 0.0673 in a float16 step), however quiet its peers.
  const bool peer_jump = peer != st.peers.end() && peer->second > 0 && rel > 0 && std::isfinite(sys) &&
                         sys >= rules.peer_ratio * peer->second && sys >= rules.systematic_floor * floor &&
                         sys >= rules.systematic_z * noise &&
                         !(has_module_inputs && sys < rules.systematic_over_before * base.sys);
  // A gap must be over tolerance: an input within it is one the code between modules passed
  // on faithfully (a bf16 attention mask built from finfo(bfloat16).min rescales by exactly
  // bf16's step, a "systematic" shift of a tensor of one repeated value, and matches).
  const bool gap_possible = !is_input || r.status == Status::kMismatch;
  r.jump = (growth_jump || systematic_jump || peer_jump) && !explained_inside && gap_possible && !r.copy_of &&
           !cancelled;
  // A setting the module ran with differs (inferred from its recorded call): made here, like a
  // differing recorded value, whatever the error's size.
  if (r.setting_differs) r.jump = true;
  // A parameter that differs is where its error entered (a wrong weight), not code between
  // modules: no gap.
  if (r.jump && is_input && !st.last.empty() && !is_parameter(split_call(r.name).first, split_call(module).first.size()))
    r.gap_after = st.last;
  record_jump(r, summary);
  if (r.explained_rel && !r.jump && std::isfinite(rel) && std::isfinite(sys))
    for (std::string path = backward_path(out_module); !path.empty();) {
      auto& [e_rel, e_sys] = st.explained_below[path];
      e_rel = std::max(e_rel, rel);
      e_sys = std::max(e_sys, sys);
      const size_t dot = path.rfind('.');
      path = dot == std::string::npos ? "" : path.substr(0, dot);
    }
  if (is_input) {
    const auto [it, first] = st.inputs.try_emplace(module);
    Seen& in = it->second;
    if (first) in.jumps_before = summary.jumps.size() - (r.jump ? 1 : 0);
    if (first) in.params_before = st.param_rel.count();
    if (first) in.outputs_before = st.output_roundoff.count();
    if (is_parameter(split_call(r.name).first, split_call(module).first.size())) {
      st.param_rel.add(std::isfinite(rel) ? rel : 0.0);
      st.param_sys.add(std::isfinite(sys) ? sys : 0.0);
    }
    in.rel = std::max(in.rel, std::isfinite(rel) ? rel : 0.0);
    in.sys = std::max(in.sys, std::isfinite(sys) ? sys : 0.0);
    if (r.a->l2 && std::isfinite(*r.a->l2)) in.l2 = std::max(in.l2, *r.a->l2);
    if (first) remember_backward(module, st.last_backward);
    // A backward module's submodules ran, and were recorded, before its own record: those whose
    // error their recorded inputs explained (replayed, no jump) pass it on to its outputs (a
    // decoder layer's input gradient sums its norm's); taken once, by this call.
    if (first)
      if (const auto below = st.explained_below.find(backward_path(module)); below != st.explained_below.end()) {
        in.rel = std::max(in.rel, below->second.first);
        in.sys = std::max(in.sys, below->second.second);
        st.explained_below.erase(below);
      }
  } else {
    if (!key.empty() && std::isfinite(sys) && !r.copy_of) st.peers[key] = std::max(st.peers[key], sys);
    st.output_roundoff.add(pair_roundoff(r));
    if (!out_module.empty()) {
      Seen& o = st.outputs[out_module];
      o.rel = std::max(o.rel, std::isfinite(rel) ? rel : 0.0);
      o.sys = std::max(o.sys, std::isfinite(sys) ? sys : 0.0);
    }
    if (std::isfinite(rel)) st.before_outputs.rel = std::max(st.before_outputs.rel, rel);
    if (std::isfinite(sys)) st.before_outputs.sys = std::max(st.before_outputs.sys, sys);
  }
  st.last = r.name;
  if (std::isfinite(rel)) st.before.rel = std::max(st.before.rel, rel);
  if (std::isfinite(sys)) st.before.sys = std::max(st.before.sys, sys);
}

std::string JumpFinder::underflow_note() const {
  const State& st = *s_;
  if (!st.underflows) return "";
  return "diagnosis: " + std::to_string(st.underflows) + " pair" + (st.underflows > 1 ? "s lie" : " lies") +
         " mostly under the normal range of " + (st.underflows > 1 ? "their" : "its") +
         " precision ('" + st.first_underflow + "' first): their error is judged against the gap between "
         "subnormals, not the unit roundoff (gradients this small underflow float16: a loss scale lifts them)";
}

void diagnose(Report& rep, double u, const JumpRules& rules) {
  JumpFinder finder(rules);
  finder.know_names(rep.tensors);  // a whole report: every output name is known up front
  for (auto& r : rep.tensors) finder.add(r, rep.summary, u);
  if (std::string note = finder.underflow_note(); !note.empty()) rep.notes.push_back(std::move(note));
}

}  // namespace tensordiff
