// compare() and stats(): open the dumps, match, plan jobs, run them, turn partials into the
// fields of docs/design.md §4 and verdicts.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>  // mallinfo2
#endif
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "common/detail_store.hpp"
#include "common/format.hpp"
#include "engine/backend.hpp"
#include "engine/diagnosis.hpp"
#include "engine/values.hpp"
#include "engine/group.hpp"
#include "engine/group_open.hpp"
#include "engine/module_replay.hpp"
#include "engine/precision.hpp"
#include "engine/matcher.hpp"
#include "engine/pair_ops.hpp"
#include "engine/nonfinite.hpp"
#include "engine/runner.hpp"
#include "engine/selection.hpp"
#include "io/formats.hpp"
#include "io/natural_sort.hpp"
#include "io/msprobe/msprobe.hpp"
#include "io/memory_source.hpp"
#include "engine/summary_compare.hpp"
#include "io/summary/summary_source.hpp"
#include "engine/tolerance.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

// --verbose: this process's resident memory now and at its peak, in MiB ("" where /proc is not
// there), so that a run on many tensors shows which phase holds the memory (issue 26).
static std::string resident_memory() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return "";
  char line[256];
  long rss = -1, hwm = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) rss = std::atol(line + 6);
    if (std::strncmp(line, "VmHWM:", 6) == 0) hwm = std::atol(line + 6);
  }
  std::fclose(f);
  if (rss < 0 || hwm < 0) return "";
  char out[160];
  int n = std::snprintf(out, sizeof out, "; resident %ld MiB, peak %ld MiB", rss / 1024, hwm / 1024);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  // What the allocator holds in use (all arenas): resident memory beyond it is the program,
  // its libraries and the free pages between live blocks that the arenas keep.
  const struct mallinfo2 m = mallinfo2();
  std::snprintf(out + n, sizeof out - n, " (heap in use %zu MiB)", (m.uordblks + m.hblkhd) >> 20);
#else
  (void)n;
#endif
  return out;
}

namespace {

std::string num(double v) { return format_number("%.4g", v); }

// A finished pair's (or stats entry's) details to the store. A store that cannot be written (a
// full disk where it lives) is left, and the rest are held in memory: the records already
// written, or still buffered, stay readable (a pair whose put failed keeps its own details).
template <class Entry>
void keep_details(DetailStore*& store, Entry& e, const EngineOptions& o) {
  try {
    store->put(e);
  } catch (const Error& err) {
    if (o.log) o.log(std::string(err.what()) + "; the rest of the details are held in memory");
    store = nullptr;
  }
}

// The verdict of docs/design.md §4: no element out of tolerance (or, with --criterion, the whole
// tensor's rel L2 within rtol / its cosine at least 1 − rtol; NaN and inf mismatches count
// under every criterion), plus the user's extra rules.
void apply_verdict(PairReport& r, const CompareOptions& o, bool reason = true) {
  const DiffStats& d = *r.diff;
  std::string why;
  const double rtol = r.tolerance.rtol;
  if (o.criterion == Criterion::kRelL2 && !(d.rel_l2 <= rtol)) {
    why = "rel_l2 " + num(d.rel_l2) + " > " + num(rtol) + " (--criterion rel-l2)";
  } else if (o.criterion == Criterion::kCosine && !(d.cosine >= 1 - rtol)) {
    why = "cosine " + num(d.cosine) + " < " + num(1 - rtol) + " (--criterion cosine)";
  } else if (o.criterion != Criterion::kElementwise && d.nan_mismatch + d.inf_mismatch > 0) {
    why = std::to_string(d.nan_mismatch) + " NaN and " + std::to_string(d.inf_mismatch) +
          " inf mismatches";
  } else if (o.criterion == Criterion::kElementwise && d.mismatches > 0) {
    why = std::to_string(d.mismatches) + " of " + std::to_string(d.count) + " elements " +
          (o.exact && d.same_dtype ? "differ in bits"
                                   : "not close (rtol " + num(r.tolerance.rtol) + ", atol " +
                                         num(r.tolerance.atol) + ")");
    if (d.nan_mismatch) why += ", " + std::to_string(d.nan_mismatch) + " NaN";
    if (d.inf_mismatch) why += ", " + std::to_string(d.inf_mismatch) + " inf";
  }
  auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  if (o.min_cosine && !(d.cosine >= *o.min_cosine))
    add("cosine " + num(d.cosine) + " < " + num(*o.min_cosine));
  if (o.max_rel_l2 && !(d.rel_l2 <= *o.max_rel_l2))
    add("rel_l2 " + num(d.rel_l2) + " > " + num(*o.max_rel_l2));
  r.status = why.empty() ? Status::kMatch : Status::kMismatch;
  if (reason) r.reason = why;
}

bool is_divergence(const PairReport& r, bool unsupported) {
  return r.status == Status::kMismatch || (r.status == Status::kIncompatible && !unsupported);
}

}  // namespace

PairParams pair_params(const TensorInfo& a, const TensorInfo& b, const Tolerance& tol,
                       const CompareOptions& o) {
  PairParams p;
  p.type_a = a.dtype;
  p.type_b = b.dtype;
  // An infinite tolerance accepts everything: as DBL_MAX, so that inf · |a| = NaN at a = 0
  // cannot make an element "not close".
  p.tol = {std::min(tol.rtol, std::numeric_limits<double>::max()),
           std::min(tol.atol, std::numeric_limits<double>::max())};
  p.equal_nan = o.equal_nan;
  p.exact = o.exact;
  p.first_k = o.engine.first_k;
  p.worst_k = o.engine.worst_k;
  return p;
}

// A pair's fields and verdict from its merged partial.
void finish_pair(PairReport& r, Partial& p, const Job& job, const CompareOptions& o, bool reason) {
  const TreeNode sums = p.tree.total();
  const uint64_t n = job.count;
  const bool details = o.engine.keep_details;
  r.a = finalize_side(p.a, sums.a, n * dtype_size(job.params.type_a), details);
  r.b = finalize_side(p.b, sums.b, n * dtype_size(job.params.type_b), details);
  r.diff = finalize_diff(p.d, sums.d, n, job.params.type_a == job.params.type_b, details);
  if (r.diff->nan_mismatch + r.diff->inf_mismatch > 0)
    r.diff->nonfinite = find_nonfinite_mismatches(job, std::max(o.engine.worst_k, 1));
  apply_verdict(r, o, reason);
}

void say_why(PairReport& r, const CompareOptions& o) { apply_verdict(r, o); }

PrecisionChoice run_precision(const MatchResult& match, const CompareOptions& o) {
  return choose_precision(match.all_pairs, o.precision);
}

// A listing's entry i as a report's pointer: into the listing where it is shared, else a copy.
static std::shared_ptr<const TensorInfo> entry_of(const SharedListing& own, const std::vector<TensorInfo>& list,
                                                  size_t i) {
  return own ? std::shared_ptr<const TensorInfo>(own, &(*own)[i]) : std::make_shared<const TensorInfo>(list[i]);
}

void init_pair_report(PairReport& r, MatchedPair& m, const std::vector<TensorInfo>& ta,
                      const std::vector<TensorInfo>& tb, Precision run, const CompareOptions& o,
                      const SharedListing& own_a, const SharedListing& own_b) {
  r.name = std::move(m.name);
  r.name_b = std::move(m.name_b);
  r.status = m.status;
  r.reason = m.reason;  // shares the pooled copy
  r.by_order = m.by_order;
  if (m.a) r.info_a = entry_of(own_a, ta, *m.a);
  if (m.b) r.info_b = entry_of(own_b, tb, *m.b);
  r.order = m.a ? ta[*m.a].order : tb[*m.b].order;
  if (m.a && m.b && !m.unsupported)
    r.tolerance = resolve_tolerance(r.name, ta[*m.a].dtype, tb[*m.b].dtype, run, o);
}

PairMarks marks_of(const std::vector<MatchedPair>& pairs) {
  PairMarks m;
  m.needs_read.reserve(pairs.size());
  m.unsupported.reserve(pairs.size());
  for (const MatchedPair& p : pairs) {
    m.needs_read.push_back(p.status == Status::kMatch);
    m.unsupported.push_back(p.unsupported);
  }
  return m;
}

void assemble_report(Report& rep, const PairMarks& marks, const std::vector<bool>& done, bool stop_at_first) {
  // With --stop-at-first, pairs of A that were never read are counted as skipped. Kept pairs
  // move down in place: a second vector of 10^5 reports would double the peak memory.
  size_t kept = 0, unpaired_values = 0;
  std::string first_unpaired;
  Summary& s = rep.summary;
  bool cut = false;
  const size_t n = marks.needs_read.size();
  for (size_t i = 0; i < n; ++i) {
    PairReport& r = rep.tensors[i];
    const bool needs_read = marks.needs_read[i];
    if (r.status != Status::kOnlyInB && (cut || (needs_read && !done[i]))) {
      ++s.skipped;
      continue;
    }
    // A recorded value (a scalar argument, a setting) on one side only is a recorder's
    // capability, not a run's difference (msprobe records arguments, an HDF5 twin of the same
    // tensors does not; hook_module(settings=True) on one side): kept as a row, noted, and not
    // counted as a pair that differs.
    const bool one_sided_value = (r.status == Status::kOnlyInA || r.status == Status::kOnlyInB) &&
                                 ((r.info_a && r.info_a->value) || (r.info_b && r.info_b->value));
    if (one_sided_value) {
      if (!unpaired_values++) first_unpaired = r.name;
      if (kept != i) rep.tensors[kept] = std::move(r);
      ++kept;
      continue;
    }
    if (marks.unsupported[i]) ++s.unsupported;
    switch (r.status) {
      case Status::kMatch: ++s.compared; ++s.matched; break;
      case Status::kMismatch: ++s.compared; ++s.mismatched; break;
      case Status::kOnlyInA: ++s.only_in_a; break;
      case Status::kOnlyInB: ++s.only_in_b; break;
      case Status::kIncompatible: ++s.incompatible; break;
      case Status::kConsistent: ++s.compared; ++s.consistent; break;
      case Status::kError: ++s.errors; break;
    }
    if (!s.first_divergence && is_divergence(r, marks.unsupported[i])) {
      s.first_divergence = r.name;
      if (stop_at_first) cut = true;
    }
    if (kept != i) rep.tensors[kept] = std::move(r);
    ++kept;
  }
  rep.tensors.resize(kept);
  rep.tensors.shrink_to_fit();
  if (unpaired_values > 0)
    rep.notes.push_back(std::to_string(unpaired_values) + " recorded value" + (unpaired_values > 1 ? "s" : "") +
                        " (scalar arguments, module settings) on one side only ('" + first_unpaired +
                        "' first): not compared, and not counted as differences (the other side's recorder records none)");
}

namespace {

// compare() on any two sources (dumps or arrays in memory), but for the diagnosis and the run's
// time (finish_report, once the sources are closed).
Report compare_sources(Source& sa, Source& sb, ComputeBackend& backend, const std::string& note,
                       const CompareOptions& o) {
  Source* src_a = &sa;
  Source* src_b = &sb;
  const std::string path_a = sa.path(), path_b = sb.path();
  const auto& ta = src_a->tensors();
  const SharedListing own_a = src_a->shared_tensors(), own_b = src_b->shared_tensors();
  const auto& tb = src_b->tensors();
  // --verbose: where the time goes between the listing and the report (issue 26).
  using Clock = std::chrono::steady_clock;
  Clock::time_point t_phase = Clock::now();
  auto phase = [&](const std::string& what, size_t n) {
    if (!o.engine.log) return;
    const Clock::time_point now = Clock::now();
    const double s = std::chrono::duration<double>(now - t_phase).count();
    char line[160];
    std::snprintf(line, sizeof line, "%s: %.3f s (%.2f us per pair)", what.c_str(), s, n ? s / n * 1e6 : 0.0);
    o.engine.log(line + resident_memory());
    t_phase = now;
  };
  MatchResult match = match_tensors(ta, tb, o);
  // One copy of a name for both sides of a pair (Source::share_name); then the matcher's maps
  // and B's copies are freed, and their pages go back before the reports are made (10^6 pairs:
  // ~200 MB of maps and 76 MB of copies that stayed resident through the planning, the run's
  // peak, issue 26).
  for (MatchedPair& m : match.pairs)
    if (m.a && m.b && m.name_b == ta[*m.a].name) {
      src_b->share_name(*m.b, ta[*m.a].name);
      m.name_b = ta[*m.a].name;
    }
  release_free_memory();
  phase("matched " + std::to_string(match.pairs.size()) + " pairs", match.pairs.size());
  auto& pairs = match.pairs;
  Report rep;
  check_selection(match, ta, tb, path_a, path_b, o, rep.warnings);
  const PrecisionChoice choice = run_precision(match, o);
  const Precision precision = choice.precision;

  rep.input_a = path_a;
  rep.input_b = path_b;
  rep.options = o;
  rep.options.engine.log = nullptr;
  rep.suggested_maps = match.suggested_maps;
  rep.alignable = match.alignable;
  for (const auto& note : match.notes) rep.notes.push_back(note);
  for (const Source* s : {src_a, src_b})
    for (const auto& note : s->notes()) rep.notes.push_back(note);
  rep.backend = backend.name();
  rep.backend_note = note;
  const RunPlan plan = plan_run(o.engine, backend);
  rep.options.engine.chunk_bytes = plan.chunk_bytes;  // what ran (the backend's choice, the budget)
  rep.threads = plan.threads;
  rep.chunk_elements = chunk_elements(plan.chunk_bytes, 4);
  rep.tensors.resize(pairs.size());

  // With --stop-at-first nothing after a divergence known before reading is read.
  size_t read_limit = pairs.size();
  if (o.stop_at_first)
    for (size_t i = 0; i < pairs.size(); ++i)
      if (pairs[i].status == Status::kIncompatible && !pairs[i].unsupported) {
        read_limit = i;
        break;
      }

  // The pairs to read, by their two sides' indices: their jobs are made a batch at a time as the
  // reads come to them (all at once, with the matched pairs, were 250 bytes a pair of the
  // planning's peak at 10^6 pairs, issue 26).
  std::vector<size_t> job_pair, done_early;
  // Where the reports point into shared listings, a pair's sides are where its report points
  // (16 bytes a pair less through the reads); else they are kept.
  const bool sides_by_pointer = own_a.get() == &ta && own_b.get() == &tb;
  std::vector<std::pair<size_t, size_t>> job_sides;
  job_pair.reserve(read_limit);
  if (!sides_by_pointer) job_sides.reserve(read_limit);
  for (size_t i = 0; i < pairs.size(); ++i) {
    MatchedPair& m = pairs[i];
    PairReport& r = rep.tensors[i];
    init_pair_report(r, m, ta, tb, precision, o, own_a, own_b);
    if (i >= read_limit) continue;
    if (m.a && m.b && judge_values(r)) {  // recorded values: no data to read
      done_early.push_back(i);
      continue;
    }
    // A tensor whose listing is corrupt is an error whatever it is paired with: its shape or
    // dtype may be the corrupt part, which would otherwise pass for a mismatch.
    if (m.status != Status::kMatch) {
      std::optional<std::string> e;
      if (m.a) e = src_a->read_error(*m.a);
      if (!e && m.b) e = src_b->read_error(*m.b);
      if (e) {
        r.status = Status::kError;
        r.reason = *e;
        done_early.push_back(i);
      }
      continue;
    }
    job_pair.push_back(i);
    if (!sides_by_pointer) job_sides.emplace_back(*m.a, *m.b);
  }

  // The matched pairs are done with (their names moved into the report): gone before the reads.
  const size_t npairs = pairs.size();
  const PairMarks marks = marks_of(pairs);
  match.pairs = {};
  match.all_pairs = {};  // the run's precision is chosen
  // A pair's job, made when the reads reach its batch (run_jobs).
  auto make_job = [&](size_t j) {
    const PairReport& r = rep.tensors[job_pair[j]];
    const auto [ia, ib] = sides_by_pointer ? std::pair<size_t, size_t>(r.info_a.get() - ta.data(), r.info_b.get() - tb.data())
                                           : job_sides[j];
    Job job;
    job.a = src_a;
    job.ia = ia;
    job.b = src_b;
    job.ib = ib;
    job.count = ta[ia].count;
    job.params = pair_params(ta[ia], tb[ib], r.tolerance, o);
    auto uniform_a = src_a->uniform_value(ia);
    auto uniform_b = uniform_a ? src_b->uniform_value(ib) : std::nullopt;
    job.set_rare(std::move(uniform_a), std::move(uniform_b), known_read_error(*src_a, ia, src_b, ib));
    return job;
  };
  phase("planned " + std::to_string(npairs) + " pairs (" + std::to_string(job_pair.size()) + " to read)", npairs);
  release_free_memory();  // the matching's freed pairs and the planning's transients, before the reads
  std::vector<bool> done(npairs, false);
  for (size_t i : done_early) done[i] = true;
  // Each pair's details to a file as the pair finishes (EngineOptions::details_dir).
  if (o.engine.keep_details && !o.engine.details_dir.empty()) {
    rep.detail_store = DetailStore::open(o.engine.details_dir, job_pair.size());
    if (o.engine.log)
      o.engine.log(rep.detail_store ? "details of each pair to a temporary file in " + o.engine.details_dir
                                    : "details kept in memory: no temporary file can be made in " + o.engine.details_dir);
  }
  DetailStore* store = rep.detail_store.get();
  run_jobs(job_pair.size(), make_job, plan, backend, [&](size_t j, const Job& job, Partial& p, const std::string* error) {
    PairReport& r = rep.tensors[job_pair[j]];
    if (error) {
      r.status = Status::kError;
      r.reason = *error;
      done[job_pair[j]] = true;
      return true;
    }
    finish_pair(r, p, job, o, /*reason=*/false);
    if (store) keep_details(store, r, o.engine);
    rep.summary.bytes += p.bytes;
    done[job_pair[j]] = true;
    return !(o.stop_at_first && r.status != Status::kMatch);
  });
  job_sides = {};  // before the diagnosis allocates its own per-pair state
  job_pair = {};

  release_free_memory();  // the reads' freed buffers and partials, before the reasons and diagnosis
  for (PairReport& r : rep.tensors)
    if (r.status == Status::kMismatch && r.diff) say_why(r, o);
  phase("read and reduced", npairs);
  replay_modules(rep.tensors, done, *src_a, *src_b, rep.notes);
  phase("module calls replayed", npairs);
  assemble_report(rep, marks, done, o.stop_at_first);
  Summary& s = rep.summary;
  s.precision = precision_name(precision);
  s.precision_reason = choice.reason;
  s.unit_roundoff = unit_roundoff(precision);
  phase("verdicts", npairs);
  return rep;
}

// The diagnosis and the run's time: called once the inputs are closed, so that their read
// plans (and an HDF5 input's helper process) are gone before the diagnosis allocates its
// per-pair state (10^6 pairs: 64 bytes a pair of the run's peak, issue 26).
void finish_report(Report& rep, std::chrono::steady_clock::time_point t0, const CompareOptions& o) {
  const auto t = std::chrono::steady_clock::now();
  Summary& s = rep.summary;
  // The closed inputs' pages (read plans, the matcher's leftovers) back before the diagnosis
  // allocates: without it the diagnosis grew resident memory past the reads' peak (10^6 pairs:
  // 911 -> 945 MiB while the heap in use fell 898 -> 813).
  release_free_memory();
  diagnose(rep, s.unit_roundoff);
  const auto now = std::chrono::steady_clock::now();
  if (o.engine.log) {
    const double took = std::chrono::duration<double>(now - t).count();
    const size_t n = rep.tensors.size();
    char line[160];
    std::snprintf(line, sizeof line, "diagnosis: %.3f s (%.2f us per pair)", took, n ? took / n * 1e6 : 0.0);
    o.engine.log(line + resident_memory());
  }
  s.seconds = std::chrono::duration<double>(now - t0).count();
  s.gb_per_s = s.seconds > 0 ? s.bytes / 1e9 / s.seconds : 0;
}

StatsReport stats_source(Source& source, ComputeBackend& backend, const std::string& note,
                         std::chrono::steady_clock::time_point t0, const EngineOptions& o,
                         const std::vector<std::string>& names) {
  Source* src = &source;
  StatsReport rep;
  rep.input = source.path();
  rep.notes = source.notes();
  rep.backend = backend.name();
  rep.backend_note = note;
  const RunPlan plan = plan_run(o, backend);
  rep.threads = plan.threads;
  std::vector<size_t> job_entry;
  size_t selected = 0;
  for (const auto& t : src->tensors()) selected += name_selected(t.name, names, {}, {});
  check_stats_selection(src->tensors(), source.path(), names, selected);
  for (const auto& t : src->tensors()) {
    if (!name_selected(t.name, names, {}, {})) continue;
    rep.tensors.push_back({t, std::nullopt, "", 0});
    if (!t.unsupported.empty()) {
      ++rep.unsupported;
      continue;
    }
    job_entry.push_back(rep.tensors.size() - 1);
  }
  // A tensor's job, made when the reads reach its batch (run_jobs).
  auto make_job = [&](size_t j) {
    const TensorInfo& t = rep.tensors[job_entry[j]].info;
    Job job;
    job.a = src;
    job.ia = t.order;
    job.count = t.count;
    job.params.type_a = t.dtype;
    job.params.first_k = o.first_k;
    job.set_rare(src->uniform_value(t.order), std::nullopt, known_read_error(*src, t.order, nullptr, 0));
    return job;
  };
  // Each entry's details to a file as it finishes (EngineOptions::details_dir).
  if (o.keep_details && !o.details_dir.empty()) rep.detail_store = DetailStore::open(o.details_dir, job_entry.size());
  DetailStore* store = rep.detail_store.get();
  run_jobs(job_entry.size(), make_job, plan, backend, [&](size_t j, const Job& job, Partial& p, const std::string* error) {
    if (error) {
      rep.tensors[job_entry[j]].error = *error;
      ++rep.errors;
      return true;
    }
    const uint64_t bytes = job.count * dtype_size(job.params.type_a);
    const TreeNode sums = p.tree.total();
    rep.tensors[job_entry[j]].stats = finalize_side(p.a, sums.a, bytes, o.keep_details);
    if (store) keep_details(store, rep.tensors[job_entry[j]], o);
    rep.bytes += p.bytes;
    return true;
  });
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace

namespace {

// A summary, or an msprobe statistics dump (no tensor files): compared by their statistics.
bool is_summary_input(const std::string& path) {
  const Format f = detect_format(path);
  if (f == Format::kFolder) {  // a folder holding a summary (msprobe's statistics dumps under a root)
    for (const std::string& rel : folder_parts(path)) {
      try {
        if (is_summary_input(path + "/" + rel)) return true;
      } catch (const Error&) {
      }
    }
    return false;
  }
  return f == Format::kSummary || (f == Format::kMsprobe && !msprobe_has_data(read_msprobe(path)));
}

// The parts of a path: "dump/step0/rank0/" → dump, step0, rank0.
std::vector<std::string> components(const std::string& p) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= p.size();) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    if (end > start && p.compare(start, end - start, ".") != 0) out.push_back(p.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string first_parts(const std::vector<std::string>& rels) {
  std::string out;
  for (size_t i = 0; i < rels.size() && i < 3; ++i) out += (i ? ", " : "") + rels[i];
  return out + (rels.size() > 3 ? ", ... (" + std::to_string(rels.size()) + " dumps)" : "");
}

// A folder of dumps pairs its parts by relative path. Given at different levels (a rank's dump
// against the root above it, a step folder against a root of steps) nothing pairs, and a
// report of everything one-sided is a wrong answer: say what was given and what to give
// (docs/design.md §7).
void check_same_level(const std::string& a, bool folder_a, const std::string& b, bool folder_b,
                      const CompareOptions& o) {
  if (folder_a != folder_b) {
    const std::string& folder = folder_a ? a : b;
    const std::string& one = folder_a ? b : a;
    const std::vector<std::string> rels = folder_parts(folder);
    if (detect_format(one) == Format::kMsprobe) {
      // The part whose relative path ends the other path (dump/step0/rank0 ↔ root/step0/rank0).
      const std::vector<std::string> c = components(one);
      std::string same;
      size_t best = 0;
      for (const std::string& r : rels) {
        const std::vector<std::string> rc = components(r);
        size_t k = 0;
        while (k < rc.size() && k < c.size() && rc[rc.size() - 1 - k] == c[c.size() - 1 - k]) ++k;
        if (k == rc.size() && k > best) best = k, same = r;
      }
      throw Error(ErrorCode::kUsage,
                  one + ": one msprobe dump, but " + folder + " is a folder of dumps (" + first_parts(rels) +
                      "): give " + (same.empty() ? "one of its dumps" : folder + "/" + same) + " against " + one +
                      ", or the two roots");
    }
    throw Error(ErrorCode::kUsage, folder + ": is a folder of dumps, but " + one +
                                       " is one file; compare two folders (files pair by relative path) or two files");
  }
  if (!folder_a || !o.maps.empty()) return;  // --map may pair what the paths do not
  const std::vector<std::string> ra = folder_parts(a), rb = folder_parts(b);
  if (ra.empty() || rb.empty()) return;
  const std::unordered_set<std::string> in_a(ra.begin(), ra.end()), in_b(rb.begin(), rb.end());
  for (const std::string& r : rb)
    if (in_a.count(r)) return;
  // The deeper side's parts are PREFIX/<the other side's part>: a level apart. Of the
  // prefixes, the one the shallow folder's own path ends with (A/step1 against B: B/step1).
  auto prefix_over = [](const std::vector<std::string>& deep, const std::unordered_set<std::string>& shallow,
                        const std::string& shallow_path) {
    const std::vector<std::string> c = components(shallow_path);
    std::string first;
    for (const std::string& r : deep)
      for (size_t slash = r.find('/'); slash != std::string::npos; slash = r.find('/', slash + 1)) {
        if (!shallow.count(r.substr(slash + 1))) continue;
        const std::string x = r.substr(0, slash);
        const std::vector<std::string> xc = components(x);
        if (xc.size() <= c.size() && std::equal(xc.begin(), xc.end(), c.end() - xc.size())) return x;
        if (first.empty()) first = x;
      }
    return first;
  };
  std::string x = prefix_over(rb, in_a, a);
  const bool b_deeper = !x.empty();
  if (!b_deeper) x = prefix_over(ra, in_b, b);
  if (x.empty()) return;
  const std::string& deep = b_deeper ? b : a;
  const std::string& shallow = b_deeper ? a : b;
  const std::vector<std::string>& rs = b_deeper ? ra : rb;
  const std::vector<std::string>& rd = b_deeper ? rb : ra;
  throw Error(ErrorCode::kUsage, shallow + " holds " + first_parts(rs) + " and " + deep + " holds " + first_parts(rd) +
                                     ": folders pair their dumps by relative path, and these are a level apart; give " +
                                     deep + "/" + x + " against " + shallow + ", or two folders of the same level");
}

}  // namespace

namespace {

// A folder of dumps: each file's part of the report (names are "FILE:tensor").
void per_file(Report& rep) {
  std::unordered_map<std::string, size_t> at;
  for (const auto& r : rep.tensors) {
    const size_t colon = r.name.find(':');
    if (colon == std::string::npos) continue;
    const std::string f = r.name.substr(0, colon);
    const auto [it, fresh] = at.emplace(f, rep.files.size());
    if (fresh) {
      rep.files.emplace_back();
      rep.files.back().file = f;
    }
    FileSummary& s = rep.files[it->second];
    ++s.pairs;
    if (r.jump && !s.first_jump) s.first_jump = r.name;
    if (r.status == Status::kMatch || r.status == Status::kConsistent) {
      ++s.matched;
    } else {
      ++s.differ;
      if (!s.first_divergence) s.first_divergence = r.name;
    }
  }
  std::sort(rep.files.begin(), rep.files.end(),
            [](const FileSummary& a, const FileSummary& b) { return natural_less(a.file, b.file); });
}

}  // namespace

Report compare(const std::string& path_a, const std::string& path_b, const CompareOptions& o) {
  // Formats by content, before anything reads them (a FIFO is refused, not waited on).
  // A folder of dumps pairs its files by relative path; against one file there is nothing to
  // pair, and silently reading the file as a one-file folder would report everything missing.
  const bool folder_a = detect_format(path_a) == Format::kFolder, folder_b = detect_format(path_b) == Format::kFolder;
  check_same_level(path_a, folder_a, path_b, folder_b, o);
  if (is_summary_input(path_a) || is_summary_input(path_b)) {
    Report rep = compare_summaries(path_a, path_b, o);
    if (folder_a) per_file(rep);
    return rep;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(o.engine.backend, o.engine.device, o.engine.simd, o.engine.log, &note);
  // Both listings at once; in an MPI group rank 0's listings serve every rank.
  auto sources = open_inputs({path_a, path_b}, o.engine);
  // What the listings freed (helper messages, decoded records) stays in the listing threads'
  // malloc arenas, whole pages of it between live entries: glibc hands free pages back only
  // when asked. Asked here and after the planning and the reads (10^5 tiny tensors: peak RSS
  // 282 -> ~256 MB; each call takes a few ms).
  release_free_memory();
  if (o.engine.log) {
    char line[96];
    std::snprintf(line, sizeof line, "listed both inputs: %.3f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    o.engine.log(line + resident_memory());
  }
  Report rep = compare_sources(*sources[0], *sources[1], *backend, note, o);
  sources.clear();  // the report shares the listings it needs
  finish_report(rep, t0, o);
  if (folder_a) per_file(rep);
  return rep;
}

Report compare_arrays(const std::vector<ArrayView>& a, const std::vector<ArrayView>& b,
                      const CompareOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(o.engine.backend, o.engine.device, o.engine.simd, o.engine.log, &note);
  auto src_a = memory_source(a, "arrays a");
  auto src_b = memory_source(b, "arrays b");
  Report rep = compare_sources(*src_a, *src_b, *backend, note, o);
  src_a.reset();
  src_b.reset();
  finish_report(rep, t0, o);
  return rep;
}

namespace {

// `stats` of a summary input (an msprobe statistics dump, a folder of them, a summary file):
// what it records, as recorded; nothing is read or computed (docs/design.md §1, §4).
StatsReport stats_of_summary(const std::string& path, const EngineOptions& o, const std::vector<std::string>& names,
                             std::chrono::steady_clock::time_point t0) {
  CompareOptions co;
  co.engine = o;
  const SummaryDump d = summary_input(path, co);
  StatsReport rep;
  rep.input = path;
  rep.backend = "none (the statistics the summary records)";
  size_t selected = 0;
  for (const auto& t : d.tensors) selected += name_selected(t.name, names, {}, {});
  check_stats_selection(d.tensors, path, names, selected);
  bool producer_float32 = false;
  for (size_t i = 0; i < d.tensors.size(); ++i) {
    const TensorInfo& t = d.tensors[i];
    if (!name_selected(t.name, names, {}, {})) continue;
    StatsEntry e{t, std::nullopt, "", 0};
    if (!t.unsupported.empty()) {
      ++rep.unsupported;
    } else {
      e.stats = d.stats[i];
      producer_float32 = producer_float32 || d.stats[i].reduction_roundoff > 0;
    }
    rep.tensors.push_back(std::move(e));
  }
  if (producer_float32)
    rep.notes.push_back(path + ": msprobe's statistics as it recorded them: min, max, and mean and L2 computed in "
                               "float32; it records no counts, std, first nonzeros or checksum (shown as -)");
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace

StatsReport stats(const std::string& path, const EngineOptions& o,
                  const std::vector<std::string>& names) {
  const auto t0 = std::chrono::steady_clock::now();
  if (is_summary_input(path)) return stats_of_summary(path, o, names, t0);
  std::string note;
  auto backend = make_backend(o.backend, o.device, o.simd, o.log, &note);
  auto sources = open_inputs({path}, o);
  return stats_source(*sources[0], *backend, note, t0, o, names);
}

StatsReport stats_arrays(const std::vector<ArrayView>& arrays, const EngineOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(o.backend, o.device, o.simd, o.log, &note);
  auto src = memory_source(arrays, "arrays");
  return stats_source(*src, *backend, note, t0, o, {});
}

}  // namespace tensordiff
