// ReferenceSession: one pair at a time against a reference opened once (tensordiff.hpp).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "engine/backend.hpp"
#include "engine/diagnosis.hpp"
#include "engine/matcher.hpp"
#include "engine/pair_ops.hpp"
#include "engine/precision.hpp"
#include "engine/runner.hpp"
#include "engine/selection.hpp"
#include "engine/summary_compare.hpp"
#include "engine/tolerance.hpp"
#include "io/formats.hpp"
#include "io/memory_source.hpp"
#include "io/summary/summary_source.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

struct ReferenceSession::Impl {
  CompareOptions o;
  std::unique_ptr<ComputeBackend> backend;
  std::string note;
  std::unique_ptr<Source> ref;
  std::unordered_map<std::string, size_t> by_name;
  NameMap map;
  Report rep;
  std::vector<PairDtypes> pairs;  // compared so far: the run's precision
  JumpFinder jumps;               // the diagnosis as the pairs come (each row's jump)
  Summary live;                   // its jumps so far
  uint64_t matched = 0;           // tensors that found their counterpart
  uint64_t recorded = 0;          // tensors checked, selected or not
  bool warned_unmatched = false;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  mutable std::mutex m;

  explicit Impl(const CompareOptions& options) : o(options), map(options) {}
};

ReferenceSession::ReferenceSession(const std::string& reference, const CompareOptions& options)
    : impl_(std::make_unique<Impl>(options)) {
  Impl& s = *impl_;
  if (detect_format(reference) == Format::kSummary)
    throw Error(ErrorCode::kUsage, reference + ": a summary holds no data to check tensors against; "
                                               "record the reference run in full mode");
  s.backend = make_backend(s.o.engine.backend, s.o.engine.device, s.o.engine.simd, s.o.engine.log, &s.note);
  s.ref = open_source(reference, s.o.engine);
  const auto& t = s.ref->tensors();
  for (size_t i = 0; i < t.size(); ++i) s.by_name.emplace(t[i].name, i);
  s.rep.input_a = reference;
  s.rep.input_b = "(this run)";
  s.rep.options = s.o;
  s.rep.options.engine.log = nullptr;
  s.rep.backend = s.backend->name();
  s.rep.backend_note = s.note;
  for (const auto& n : s.ref->notes()) s.rep.notes.push_back(n);
}

ReferenceSession::~ReferenceSession() = default;

uint64_t ReferenceSession::checked() const {
  std::lock_guard<std::mutex> lock(impl_->m);
  return impl_->recorded;
}

uint64_t ReferenceSession::matched() const {
  std::lock_guard<std::mutex> lock(impl_->m);
  return impl_->matched;
}

PairReport ReferenceSession::check(const ArrayView& b) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.m);
  auto mem = memory_source({b}, "this run");
  const TensorInfo& tb = mem->tensors()[0];
  PairReport r;
  r.name_b = b.name;
  r.name = s.map(b.name);
  r.info_b = std::make_shared<const TensorInfo>(tb);  // this run's tensor: its source goes
  const auto it = s.by_name.find(r.name);
  if (it == s.by_name.end() || !name_selected(r.name, s.o.tensors, s.o.include, s.o.exclude)) {
    r.status = Status::kOnlyInB;
    r.order = s.rep.tensors.size();
    ++s.recorded;
    if (!name_selected(r.name, s.o.tensors, s.o.include, s.o.exclude)) {
      r.reason = "not selected (include/exclude)";
      return r;  // not part of the report
    }
    // A name the reference does not hold: when nothing has matched yet, the names of the two
    // runs are not alike (another prefix, another framework) and every check would pass
    // silently; later, one warning with the closest name.
    if (!s.warned_unmatched) {
      const Closest c = closest_name(r.name, s.ref->tensors());
      std::string hint = c.name.empty() ? "" : "; closest there: '" + clip(c.name) + "'";
      if (!c.map.empty()) hint += " (--map '" + clip(c.map) + "', or the same hook_module prefix, would pair them)";
      const std::string what = "'" + clip(b.name) + "' has no counterpart in " + s.rep.input_a + hint;
      // The same name under another prefix, with no layer number in what differs ("net." for
      // ""): the two runs were named unlike, and every check would pass silently. A reference
      // recorded with a filter lacks names too, but the nearest one differs in its numbers
      // (blocks.0.attn vs blocks.1.attn): that is a warning, and the end of the run decides.
      const bool prefix_only =
          !c.map.empty() && std::none_of(c.map.begin(), c.map.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (s.matched == 0 && prefix_only)
        throw Error(ErrorCode::kUsage, what + "; no tensor of this run has matched the reference yet");
      s.warned_unmatched = true;
      s.rep.warnings.push_back(what + " (the first of this run's tensors not in the reference)");
      r.reason = "not in the reference" + hint;
    } else {
      r.reason = "not in the reference";
    }
    s.rep.tensors.push_back(r);
    return r;
  }
  ++s.matched;
  ++s.recorded;
  const size_t ia = it->second;
  const TensorInfo& ta = s.ref->tensors()[ia];
  if (const auto own = s.ref->shared_tensors()) r.info_a = std::shared_ptr<const TensorInfo>(own, &ta);
  else r.info_a = std::make_shared<const TensorInfo>(ta);
  r.order = ta.order;
  bool unsupported = false;
  r.reason = incompatibility(ta, tb, s.o.allow_reshape, unsupported);
  if (!r.reason.empty()) {
    r.status = Status::kIncompatible;
  } else if (auto e = s.ref->read_error(ia)) {
    r.status = Status::kError;
    r.reason = *e;
  } else {
    s.pairs.push_back({ta.dtype, tb.dtype, ta.count});
    const Precision run = choose_precision(s.pairs, s.o.precision).precision;
    r.tolerance = resolve_tolerance(r.name, ta.dtype, tb.dtype, run, s.o);
    Job job;
    job.a = s.ref.get();
    job.ia = ia;
    job.b = mem.get();
    job.ib = 0;
    job.count = ta.count;
    job.params = pair_params(ta, tb, r.tolerance, s.o);
    job.set_rare(s.ref->uniform_value(ia), std::nullopt, std::nullopt);
    RunPlan plan = plan_run(s.o.engine, *s.backend);
    // A tensor of one chunk is computed in this thread: no pool for a few KB.
    if (ta.count * std::max(dtype_size(ta.dtype), dtype_size(tb.dtype)) <= plan.chunk_bytes) plan.threads = 1;
    run_pipeline({job}, plan, *s.backend, [&](size_t, Partial& p, const std::string* error) {
      if (error) {
        r.status = Status::kError;
        r.reason = *error;
      } else {
        finish_pair(r, p, job, s.o);
        s.rep.summary.bytes += p.bytes;
        s.jumps.add(r, s.live, unit_roundoff(run));
      }
      return true;
    });
  }
  s.rep.tensors.push_back(r);
  return r;
}

Report ReferenceSession::report() const {
  const Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.m);
  Report rep = s.rep;
  const RunPlan plan = plan_run(s.o.engine, *s.backend);
  rep.threads = plan.threads;
  rep.chunk_elements = chunk_elements(plan.chunk_bytes, 4);
  rep.options.engine.chunk_bytes = plan.chunk_bytes;
  // Counts and the first divergence as compare() gives them, in check order.
  std::vector<MatchedPair> pairs(rep.tensors.size());
  for (size_t i = 0; i < rep.tensors.size(); ++i) {
    pairs[i].status = rep.tensors[i].status == Status::kOnlyInB ? Status::kOnlyInB
                      : rep.tensors[i].status == Status::kIncompatible ? Status::kIncompatible
                                                                        : Status::kMatch;
    pairs[i].unsupported = rep.tensors[i].reason.rfind("a: ", 0) == 0 || rep.tensors[i].reason.rfind("b: ", 0) == 0;
  }
  if (s.matched == 0)
    throw Error(ErrorCode::kUsage, "nothing compared: none of the " + std::to_string(rep.tensors.size()) +
                                       " tensors checked so far has a counterpart in " + s.rep.input_a);
  assemble_report(rep, marks_of(pairs), std::vector<bool>(pairs.size(), true), false);
  const PrecisionChoice choice = choose_precision(s.pairs, s.o.precision);
  const Precision run = choice.precision;
  rep.summary.precision = precision_name(run);
  rep.summary.precision_reason = choice.reason + " (of the pairs checked so far)";
  rep.summary.unit_roundoff = unit_roundoff(run);
  diagnose(rep, rep.summary.unit_roundoff);
  rep.summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.t0).count();
  rep.summary.gb_per_s = rep.summary.seconds > 0 ? rep.summary.bytes / 1e9 / rep.summary.seconds : 0;
  return rep;
}

}  // namespace tensordiff
