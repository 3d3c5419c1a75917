#include "engine/summary_compare.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/format.hpp"
#include "engine/diagnosis.hpp"
#include "engine/precision.hpp"
#include "engine/selection.hpp"
#include "engine/values.hpp"
#include "engine/tolerance.hpp"
#include "io/formats.hpp"
#include "io/msprobe/msprobe.hpp"
#include "io/summary/summary_source.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

SummaryDump summary_of(const std::string& path, const CompareOptions& o);

// A folder of dumps as one summary: each part's ("REL:name"), in the folder's order (step,
// then order within the part, then the part; docs/design.md §4).
SummaryDump folder_summary(const std::string& root, const CompareOptions& o) {
  struct Ref {
    int64_t step;
    uint64_t order;
    size_t part, index;
  };
  std::vector<SummaryDump> parts;
  std::vector<std::string> rels;
  std::vector<Ref> refs;
  for (const std::string& rel : folder_parts(root)) {
    const std::string path = root + "/" + rel;
    Format f;
    try {
      f = detect_format(path);
    } catch (const Error&) {
      continue;  // none of the formats read (the tensor path notes it)
    }
    if (f == Format::kSafetensorsIndex || f == Format::kMsprobeConfig) continue;
    parts.push_back(summary_of(path, o));
    rels.push_back(rel);
    const int64_t step = step_of(rel);
    for (size_t i = 0; i < parts.back().tensors.size(); ++i)
      refs.push_back({step, parts.back().tensors[i].order, parts.size() - 1, i});
  }
  std::stable_sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) {
    if (a.step != b.step) return a.step < b.step;
    return a.order != b.order ? a.order < b.order : a.part < b.part;
  });
  SummaryDump out;
  for (const Ref& r : refs) {
    TensorInfo t = parts[r.part].tensors[r.index];
    t.name = rels[r.part] + ":" + t.name;
    t.order = out.tensors.size();
    out.tensors.push_back(std::move(t));
    out.stats.push_back(parts[r.part].stats[r.index]);
  }
  return out;
}

SummaryDump summary_of(const std::string& path, const CompareOptions& o) {
  if (detect_format(path) == Format::kFolder) return folder_summary(path, o);
  if (is_summary_file(path)) return load_summary(path);
  if (detect_format(path) == Format::kMsprobe) {
    const MsprobeDump d = read_msprobe(path);
    if (!msprobe_has_data(d)) return msprobe_summary(path);
  }
  // Its first nonzeros and histogram held, not streamed: they are compared and reported here
  // (the command line's details_dir is for its own report's pairs).
  EngineOptions e = o.engine;
  e.keep_details = true;
  e.details_dir.clear();
  const StatsReport st = stats(path, e);
  SummaryDump d;
  for (const auto& e : st.tensors) {
    d.tensors.push_back(e.info);
    d.stats.push_back(e.stats.value_or(SideStats{}));
  }
  return d;
}

}  // namespace

SummaryDump summary_input(const std::string& path, const CompareOptions& o) { return summary_of(path, o); }

namespace {

bool close(double a, double b, const Tolerance& t) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(b - a) <= t.atol + t.rtol * std::fabs(a);
}

std::string g(double v) { return format_number("%.6g", v); }

// The tolerance of a statistic that is a reduction (mean, std, l2) when a side's producer
// reduced in a lower precision than this engine's float64 (msprobe: float32): its rounding,
// up to (4 + 2 sqrt(n)) roundoffs relative (measured: msprobe's float32 Norm off by up to
// 1.3e-4 on large tensors), and for a mean the same relative to the values' rms.
Tolerance reduction_tolerance(const Tolerance& t, const SideStats& a, const SideStats& b) {
  const double red = std::max(a.reduction_roundoff, b.reduction_roundoff);
  if (red == 0) return t;
  const double n = static_cast<double>(std::max(a.count, b.count));
  Tolerance r = t;
  r.rtol = std::max(t.rtol, (4 + 2 * std::sqrt(n)) * red);
  // A side's L2 as the values' scale, where finite (msprobe's float32 Norm overflows to inf,
  // which would make every mean agree).
  const auto finite = [](const OptionalDouble& x) { return x && std::isfinite(*x); };
  const auto& l2 = finite(a.l2) ? a.l2 : b.l2;
  if (finite(l2) && n > 0) r.atol = std::max(t.atol, r.rtol * *l2 / std::sqrt(n));
  return r;
}

// A summary pair matches when the bytes are identical (same checksum and dtype) or when
// every summary statistic agrees under the pair's tolerance.
void judge(PairReport& r, const SideStats& a, const SideStats& b, bool same_dtype) {
  SummaryDiff d;
  d.checksum_equal = a.checksum_known && b.checksum_known && a.checksum == b.checksum;
  auto delta = [](const std::optional<double>& x, const std::optional<double>& y) {
    return x && y ? std::optional<double>(*y - *x) : std::nullopt;
  };
  d.d_min = delta(a.min, b.min);
  d.d_max = delta(a.max, b.max);
  d.d_mean = delta(a.mean, b.mean);
  d.d_std = delta(a.std, b.std);
  const Tolerance& t = r.tolerance;
  d.first_nonzero_equal = a.first_nonzero.size() == b.first_nonzero.size();
  for (size_t i = 0; d.first_nonzero_equal && i < a.first_nonzero.size(); ++i)
    d.first_nonzero_equal = a.first_nonzero[i].flat_index == b.first_nonzero[i].flat_index &&
                            close(a.first_nonzero[i].value, b.first_nonzero[i].value, t);
  std::string why;
  auto add = [&](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  // Only what both summaries record is compared (msprobe's statistics have no counts, no std
  // and no first nonzeros).
  const bool counts = a.counts_known && b.counts_known;
  if (!(d.checksum_equal && same_dtype)) {
    if (counts && a.nan != b.nan) add("NaN count " + std::to_string(a.nan) + " vs " + std::to_string(b.nan));
    if (counts && a.pos_inf + a.neg_inf != b.pos_inf + b.neg_inf)
      add("inf count " + std::to_string(a.pos_inf + a.neg_inf) + " vs " +
          std::to_string(b.pos_inf + b.neg_inf));
    const std::pair<const char*, std::pair<std::optional<double>, std::optional<double>>> fields[] =
        {{"min", {a.min, b.min}}, {"max", {a.max, b.max}}, {"mean", {a.mean, b.mean}},
         {"std", {a.std, b.std}}, {"l2", {a.l2, b.l2}}};
    const bool partial = !counts;  // a side may lack a field it does not record
    const Tolerance reduced = reduction_tolerance(t, a, b);
    for (const auto& [name, v] : fields) {
      if (partial && v.first.has_value() != v.second.has_value()) continue;
      const std::string field = name;
      const bool sum = field == "mean" || field == "std" || field == "l2";
      if (v.first.has_value() != v.second.has_value() || (v.first && !close(*v.first, *v.second, sum ? reduced : t)))
        add(std::string(name) + " " + (v.first ? g(*v.first) : "-") + " vs " +
            (v.second ? g(*v.second) : "-"));
    }
    const bool both_fnz = !a.first_nonzero.empty() && !b.first_nonzero.empty();
    if (!d.first_nonzero_equal && (counts || both_fnz)) add("first nonzero values differ");
  }
  r.summary_diff = d;
  // Equal checksums and dtypes: the same bytes (a 64-bit hash collision aside). Otherwise
  // agreeing summaries are only consistent: elements can differ while statistics agree.
  r.status = !why.empty() ? Status::kMismatch
             : d.checksum_equal && same_dtype ? Status::kMatch
                                              : Status::kConsistent;
  r.reason = why;
}

}  // namespace

Report compare_summaries(const std::string& path_a, const std::string& path_b,
                         const CompareOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const SummaryDump da = summary_of(path_a, o), db = summary_of(path_b, o);
  MatchResult match = match_tensors(da.tensors, db.tensors, o);
  auto& pairs = match.pairs;
  Report rep;
  check_selection(match, da.tensors, db.tensors, path_a, path_b, o, rep.warnings);
  const PrecisionChoice choice = run_precision(match, o);
  const Precision precision = choice.precision;
  rep.input_a = path_a;
  rep.input_b = path_b;
  rep.options = o;
  rep.options.engine.log = nullptr;
  rep.suggested_maps = match.suggested_maps;
  rep.alignable = match.alignable;
  for (const auto& note : match.notes) rep.notes.push_back(note);
  rep.backend = "summary";
  rep.tensors.resize(pairs.size());
  std::vector<bool> done(pairs.size(), true);
  for (size_t i = 0; i < pairs.size(); ++i) {
    MatchedPair& m = pairs[i];
    PairReport& r = rep.tensors[i];
    init_pair_report(r, m, da.tensors, db.tensors, precision, o);
    if (m.a && m.b && judge_values(r)) continue;  // recorded values
    if (m.status != Status::kMatch) continue;
    r.a = da.stats[*m.a];
    r.b = db.stats[*m.b];
    judge(r, *r.a, *r.b, r.info_a->dtype == r.info_b->dtype);
  }
  assemble_report(rep, marks_of(pairs), done, o.stop_at_first);
  for (const SummaryDump* d : {&da, &db})
    if (std::any_of(d->stats.begin(), d->stats.end(), [](const SideStats& x) { return x.reduction_roundoff > 0; })) {
      rep.notes.push_back((d == &da ? path_a : path_b) +
                          ": msprobe computed its mean and L2 in float32; they are judged within their rounding, "
                          "(4 + 2 sqrt(n)) x 2^-24 relative");
    }
  rep.summary.precision = precision_name(precision);
  rep.summary.precision_reason = choice.reason;
  rep.summary.unit_roundoff = unit_roundoff(precision);
  diagnose(rep, rep.summary.unit_roundoff);  // summaries have no diff: recorded values alone
  rep.summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace tensordiff
