// compare() and stats(): open the dumps, match, plan jobs, run them, turn partials into the
// fields of docs/design.md §4 and verdicts.
#include <algorithm>
#include <chrono>
#include <limits>
#include <future>
#include <unordered_map>

#include "common/format.hpp"
#include "engine/backend.hpp"
#include "engine/diagnosis.hpp"
#include "engine/values.hpp"
#include "engine/group.hpp"
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

namespace {

std::string num(double v) { return format_number("%.4g", v); }

// The verdict of docs/design.md §4: no element out of tolerance (or, with --criterion, the whole
// tensor's rel L2 within rtol / its cosine at least 1 − rtol; NaN and inf mismatches count
// under every criterion), plus the user's extra rules.
void apply_verdict(PairReport& r, const CompareOptions& o) {
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
  r.reason = why;
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
void finish_pair(PairReport& r, Partial& p, const Job& job, const CompareOptions& o) {
  const TreeNode sums = p.tree.total();
  const uint64_t n = job.count;
  r.a = finalize_side(p.a, sums.a, n * dtype_size(job.params.type_a));
  r.b = finalize_side(p.b, sums.b, n * dtype_size(job.params.type_b));
  r.diff = finalize_diff(p.d, sums.d, n, job.params.type_a == job.params.type_b);
  if (r.diff->nan_mismatch + r.diff->inf_mismatch > 0)
    r.diff->nonfinite = find_nonfinite_mismatches(job, std::max(o.engine.worst_k, 1));
  apply_verdict(r, o);
}

PrecisionChoice run_precision(const MatchResult& match, const CompareOptions& o) {
  return choose_precision(match.all_pairs, o.precision);
}

void init_pair_report(PairReport& r, const MatchedPair& m, const std::vector<TensorInfo>& ta,
                      const std::vector<TensorInfo>& tb, Precision run, const CompareOptions& o) {
  r.name = m.name;
  r.name_b = m.name_b;
  r.status = m.status;
  r.reason = m.reason;
  r.by_order = m.by_order;
  if (m.a) r.info_a = ta[*m.a];
  if (m.b) r.info_b = tb[*m.b];
  r.order = m.a ? ta[*m.a].order : tb[*m.b].order;
  if (m.a && m.b && !m.unsupported)
    r.tolerance = resolve_tolerance(m.name, ta[*m.a].dtype, tb[*m.b].dtype, run, o);
}

void assemble_report(Report& rep, const std::vector<MatchedPair>& pairs,
                     const std::vector<bool>& done, bool stop_at_first) {
  // With --stop-at-first, pairs of A that were never read are counted as skipped. Kept pairs
  // move down in place: a second vector of 10^5 reports would double the peak memory.
  size_t kept = 0;
  Summary& s = rep.summary;
  bool cut = false;
  for (size_t i = 0; i < pairs.size(); ++i) {
    PairReport& r = rep.tensors[i];
    const bool needs_read = pairs[i].status == Status::kMatch;
    if (r.status != Status::kOnlyInB && (cut || (needs_read && !done[i]))) {
      ++s.skipped;
      continue;
    }
    if (pairs[i].unsupported) ++s.unsupported;
    switch (r.status) {
      case Status::kMatch: ++s.compared; ++s.matched; break;
      case Status::kMismatch: ++s.compared; ++s.mismatched; break;
      case Status::kOnlyInA: ++s.only_in_a; break;
      case Status::kOnlyInB: ++s.only_in_b; break;
      case Status::kIncompatible: ++s.incompatible; break;
      case Status::kConsistent: ++s.compared; ++s.consistent; break;
      case Status::kError: ++s.errors; break;
    }
    if (!s.first_divergence && is_divergence(r, pairs[i].unsupported)) {
      s.first_divergence = r.name;
      if (stop_at_first) cut = true;
    }
    if (kept != i) rep.tensors[kept] = std::move(r);
    ++kept;
  }
  rep.tensors.resize(kept);
  rep.tensors.shrink_to_fit();
}

namespace {

// compare() on any two sources: dumps or arrays in memory.
Report compare_sources(Source& sa, Source& sb, ComputeBackend& backend, const std::string& note,
                       std::chrono::steady_clock::time_point t0, const CompareOptions& o) {
  Source* src_a = &sa;
  Source* src_b = &sb;
  const std::string path_a = sa.path(), path_b = sb.path();
  const auto& ta = src_a->tensors();
  const auto& tb = src_b->tensors();
  const MatchResult match = match_tensors(ta, tb, o);
  const auto& pairs = match.pairs;
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

  std::vector<Job> jobs;
  std::vector<size_t> job_pair, done_early;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const MatchedPair& m = pairs[i];
    PairReport& r = rep.tensors[i];
    init_pair_report(r, m, ta, tb, precision, o);
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
    Job job;
    job.a = src_a;
    job.ia = *m.a;
    job.b = src_b;
    job.ib = *m.b;
    job.count = ta[*m.a].count;
    job.params = pair_params(ta[*m.a], tb[*m.b], r.tolerance, o);
    job.error = known_read_error(*src_a, *m.a, src_b, *m.b);
    job.uniform_a = src_a->uniform_value(*m.a);
    if (job.uniform_a) job.uniform_b = src_b->uniform_value(*m.b);
    jobs.push_back(job);
    job_pair.push_back(i);
  }

  std::vector<bool> done(pairs.size(), false);
  for (size_t i : done_early) done[i] = true;
  run_pipeline(jobs, plan, backend, [&](size_t j, Partial& p, const std::string* error) {
    PairReport& r = rep.tensors[job_pair[j]];
    if (error) {
      r.status = Status::kError;
      r.reason = *error;
      done[job_pair[j]] = true;
      return true;
    }
    finish_pair(r, p, jobs[j], o);
    rep.summary.bytes += p.bytes;
    done[job_pair[j]] = true;
    return !(o.stop_at_first && r.status != Status::kMatch);
  });

  assemble_report(rep, pairs, done, o.stop_at_first);
  Summary& s = rep.summary;
  s.precision = precision_name(precision);
  s.precision_reason = choice.reason;
  s.unit_roundoff = unit_roundoff(precision);
  diagnose(rep, s.unit_roundoff);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.gb_per_s = s.seconds > 0 ? s.bytes / 1e9 / s.seconds : 0;
  return rep;
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
  std::vector<Job> jobs;
  std::vector<size_t> job_entry;
  size_t selected = 0;
  for (const auto& t : src->tensors()) selected += name_selected(t.name, names, {}, {});
  check_stats_selection(src->tensors(), source.path(), names, selected);
  for (const auto& t : src->tensors()) {
    if (!name_selected(t.name, names, {}, {})) continue;
    rep.tensors.push_back({t, std::nullopt, ""});
    if (!t.unsupported.empty()) {
      ++rep.unsupported;
      continue;
    }
    Job job;
    job.a = src;
    job.ia = t.order;
    job.count = t.count;
    job.params.type_a = t.dtype;
    job.params.first_k = o.first_k;
    job.error = known_read_error(*src, t.order, nullptr, 0);
    job.uniform_a = src->uniform_value(t.order);
    jobs.push_back(job);
    job_entry.push_back(rep.tensors.size() - 1);
  }
  run_pipeline(jobs, plan, backend, [&](size_t j, Partial& p, const std::string* error) {
    if (error) {
      rep.tensors[job_entry[j]].error = *error;
      ++rep.errors;
      return true;
    }
    const uint64_t bytes = jobs[j].count * dtype_size(jobs[j].params.type_a);
    const TreeNode sums = p.tree.total();
    rep.tensors[job_entry[j]].stats = finalize_side(p.a, sums.a, bytes);
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
  if (folder_a != folder_b)
    throw Error(ErrorCode::kUsage, (folder_a ? path_a : path_b) + ": is a folder of dumps, but " +
                                       (folder_a ? path_b : path_a) +
                                       " is one file; compare two folders (files pair by relative path) or two files");
  if (is_summary_input(path_a) || is_summary_input(path_b)) {
    Report rep = compare_summaries(path_a, path_b, o);
    if (folder_a) per_file(rep);
    return rep;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(o.engine.backend, o.engine.device, o.engine.simd, o.engine.log, &note);
  // Both listings at once (each HDF5 file's comes from its own helper process). In an MPI
  // group every rank lists them; a rank that cannot ends all of them with its message.
  std::unique_ptr<Source> src_a, src_b;
  std::optional<std::string> failed;
  try {
    auto b_future = std::async(std::launch::async, [&] { return open_source(path_b, o.engine); });
    try {
      src_a = open_source(path_a, o.engine);
    } catch (...) {
      try { b_future.get(); } catch (...) {}  // A's error is the one reported
      throw;
    }
    src_b = b_future.get();
  } catch (const Error& e) {
    if (process_count() == 1) throw;
    failed = e.what();
  }
  if (process_count() > 1)
    if (auto e = group_agree(failed)) throw Error(ErrorCode::kIo, *e);
  Report rep = compare_sources(*src_a, *src_b, *backend, note, t0, o);
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
  return compare_sources(*src_a, *src_b, *backend, note, t0, o);
}

StatsReport stats(const std::string& path, const EngineOptions& o,
                  const std::vector<std::string>& names) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(o.backend, o.device, o.simd, o.log, &note);
  std::unique_ptr<Source> src;
  std::optional<std::string> failed;
  try {
    src = open_source(path, o);
  } catch (const Error& e) {
    if (process_count() == 1) throw;
    failed = e.what();
  }
  if (process_count() > 1)
    if (auto e = group_agree(failed)) throw Error(ErrorCode::kIo, *e);
  return stats_source(*src, *backend, note, t0, o, names);
}

StatsReport stats_arrays(const std::vector<ArrayView>& arrays, const EngineOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string note;
  auto backend = make_backend(o.backend, o.device, o.simd, o.log, &note);
  auto src = memory_source(arrays, "arrays");
  return stats_source(*src, *backend, note, t0, o, {});
}

}  // namespace tensordiff
