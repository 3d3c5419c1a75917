// The JSON report of docs/design.md §8 (and the stats summary), with exactly its field names.
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/format.hpp"
#include "report/json_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {
using nlohmann::ordered_json;

// Non-finite numbers as the strings "NaN", "Infinity", "-Infinity" (JSON has no literal).
ordered_json jnum(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}
ordered_json jopt(const std::optional<double>& v) { return v ? jnum(*v) : ordered_json(nullptr); }

const char* criterion_name(Criterion c) {
  return c == Criterion::kRelL2 ? "rel-l2" : c == Criterion::kCosine ? "cosine" : "elementwise";
}

ordered_json precision_option(Precision p) {
  return p == Precision::kAuto ? ordered_json(nullptr) : ordered_json(precision_name(p));
}

ordered_json jname(const std::optional<std::string>& s) {
  return s ? ordered_json(*s) : ordered_json(nullptr);
}

const char* backend_name(Backend b) {
  return b == Backend::kCpu ? "cpu" : b == Backend::kCuda ? "cuda" : b == Backend::kGpuEmu ? "gpu-emu" : "auto";
}

ordered_json joptions(const CompareOptions& o, const Report& r) {
  ordered_json tol = ordered_json::array();
  for (const auto& t : o.tol_rules)
    tol.push_back({{"glob", t.glob}, {"rtol", jopt(t.rtol)}, {"atol", jopt(t.atol)}});
  ordered_json maps = ordered_json::array();
  for (const auto& [re, repl] : o.maps) maps.push_back({{"regex", re}, {"replace", repl}});
  return {{"tensors", o.tensors},           {"include", o.include},
          {"exclude", o.exclude},           {"map", maps},
          {"rtol", jopt(o.rtol)},           {"atol", jopt(o.atol)},
          {"tol", tol},                     {"equal_nan", o.equal_nan},
          {"exact", o.exact},               {"min_cosine", jopt(o.min_cosine)},
          {"max_rel_l2", jopt(o.max_rel_l2)}, {"allow_reshape", o.allow_reshape},
          {"stop_at_first", o.stop_at_first}, {"backend", backend_name(o.engine.backend)},
          {"threads", r.threads},           {"chunk_mib", o.engine.chunk_bytes / double(1 << 20)},
          {"memory_mib", o.engine.memory_bytes / double(1 << 20)},
          {"first_k", o.engine.first_k},
          {"worst_k", o.engine.worst_k},
          {"precision", precision_option(o.precision)},
          {"criterion", criterion_name(o.criterion)},
          {"align", o.align == Align::kOrder ? "order" : "name"},
          {"simd", o.engine.simd.empty() ? ordered_json(nullptr) : ordered_json(o.engine.simd)}};
}

}  // namespace

namespace {

// Names are bytes from the files: invalid UTF-8 becomes U+FFFD instead of an exception.
std::string text(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

template <class W>
void whist(W& w, const SparseHistogram& h) {
  w.begin_object();
  w.key("zero").value(h.count(ExpHistogram::kZero));
  w.key("underflow").value(h.count(ExpHistogram::kUnderflow));
  w.key("min_exp").value(ExpHistogram::kMinExp);
  w.key("max_exp").value(ExpHistogram::kMaxExp);
  w.key("exp").begin_object();
  char key[8];
  for (const auto& [bin, c] : h.bins)
    if (bin >= ExpHistogram::kFirstExp && bin < ExpHistogram::kOverflow) {
      std::snprintf(key, sizeof key, "%d", ExpHistogram::kMinExp + (bin - ExpHistogram::kFirstExp));
      w.key(key).value(c);
    }
  w.end_object();
  w.key("overflow").value(h.count(ExpHistogram::kOverflow));
  w.end_object();
}

template <class W>
void wside(W& w, const SideStats& s, const std::vector<uint64_t>& shape, bool open = true) {
  if (open) w.begin_object();
  w.key("count").value(s.count);
  auto counted = [&](const char* k, uint64_t v) {
    w.key(k);
    if (s.counts_known) w.value(v);
    else w.null();
  };
  counted("nonzero", s.nonzero);
  counted("nan", s.nan);
  counted("pos_inf", s.pos_inf);
  counted("neg_inf", s.neg_inf);
  w.key("min").value(s.min);
  w.key("max").value(s.max);
  w.key("mean").value(s.mean);
  w.key("std").value(s.std);
  w.key("l2").value(s.l2);
  w.key("first_nonzero").begin_array();
  for (const auto& e : s.first_nonzero) {
    w.begin_object();
    w.key("index").value(unravel_index(e.flat_index, shape));
    w.key("flat_index").value(e.flat_index);
    w.key("value").value(e.value);
    w.end_object();
  }
  w.end_array();
  w.key("mag_hist");
  if (s.counts_known) whist(w, s.mag_hist);
  else w.null();
  w.key("checksum");
  if (s.checksum_known) w.value(hex16(s.checksum));
  else w.null();
  if (open) w.end_object();
}

template <class W>
void wextreme(W& w, const std::optional<ExtremeAt>& e, const std::vector<uint64_t>& shape) {
  if (!e) {
    w.null();
    return;
  }
  w.begin_object();
  w.key("index").value(unravel_index(e->flat_index, shape));
  w.key("flat_index").value(e->flat_index);
  w.key("a").value(e->a);
  w.key("b").value(e->b);
  w.end_object();
}

template <class W>
void wdiff(W& w, const DiffStats& d, const std::vector<uint64_t>& shape) {
  w.begin_object();
  w.key("count").value(d.count);
  w.key("finite_pairs").value(d.finite_pairs);
  w.key("max_abs");
  if (d.max_abs) w.value(d.max_abs->value); else w.null();
  w.key("max_abs_at");
  wextreme(w, d.max_abs, shape);
  w.key("max_rel");
  if (d.max_rel) w.value(d.max_rel->value); else w.null();
  w.key("max_rel_at");
  wextreme(w, d.max_rel, shape);
  w.key("mean_abs").value(d.mean_abs);
  w.key("rmse").value(d.rmse);
  w.key("rel_l2").value(d.rel_l2);
  w.key("cosine").value(d.cosine);
  w.key("mismatches").value(d.mismatches);
  w.key("mismatch_fraction").value(d.mismatch_fraction);
  w.key("nan_mismatch").value(d.nan_mismatch);
  w.key("inf_mismatch").value(d.inf_mismatch);
  w.key("bits_differ");
  if (d.same_dtype) w.value(d.bits_differ); else w.null();
  w.key("max_ulp");
  if (d.same_dtype) w.value(d.max_ulp); else w.null();
  w.key("err_hist");
  whist(w, d.err_hist);
  // An element list: {index, flat_index, a, b} and `last`'s field for each.
  auto elements = [&](const char* key, const std::vector<ExtremeAt>& xs, const auto& last) {
    w.key(key).begin_array();
    for (const auto& x : xs) {
      w.begin_object();
      w.key("index").value(unravel_index(x.flat_index, shape));
      w.key("flat_index").value(x.flat_index);
      w.key("a").value(x.a);
      w.key("b").value(x.b);
      last(x);
      w.end_object();
    }
    w.end_array();
  };
  elements("worst", d.worst, [&](const ExtremeAt& x) { w.key("abs_diff").value(x.value); });
  // Where the NaN/inf mismatches are, first in flat order: what max|d| cannot show.
  elements("nonfinite", d.nonfinite,
           [&](const ExtremeAt& x) { w.key("kind").value(std::isnan(x.value) ? "nan" : "inf"); });
  w.end_object();
}

template <class W>
void wtensor(W& w, const PairReport& t) {
  auto opt_str = [&](const char* k, const std::string& v) {
    w.key(k);
    if (v.empty()) w.null(); else w.value(v);
  };
  w.begin_object();
  w.key("name").value(t.name);
  opt_str("name_b", t.name_b);
  w.key("order").value(t.order);
  w.key("status").value(status_name(t.status));
  w.key("growth").value(t.growth);
  w.key("scale").value(t.scale);
  w.key("shift").value(t.shift);
  w.key("jump").value(t.jump);
  if (t.gap_after) w.key("gap_after").value(*t.gap_after);  // only at a gap (docs/design.md §8)
  if (t.copy_of) w.key("copy_of").value(*t.copy_of);        // only on a copy (docs/design.md §8)
  if (t.setting_differs) w.key("setting_differs").value(true);  // only where inferred (§5)
  if (t.explained_rel) w.key("explained_rel_l2").value(*t.explained_rel);  // only where replayed (§5)
  if (t.explained_sys) w.key("explained_systematic").value(*t.explained_sys);
  if (t.info_a && t.info_a->value) w.key("value_a").value(*t.info_a->value);  // recorded values (§4)
  if (t.info_b && t.info_b->value) w.key("value_b").value(*t.info_b->value);
  w.key("by_order").value(t.by_order);
  const TensorInfo* src = t.info_b && !t.info_b->source.empty() ? &*t.info_b
                          : t.info_a && !t.info_a->source.empty() ? &*t.info_a : nullptr;
  opt_str("source", src ? src->source : "");
  opt_str("reason", t.reason);
  opt_str("dtype_a", t.info_a ? t.info_a->type_name : "");
  opt_str("dtype_b", t.info_b ? t.info_b->type_name : "");
  w.key("shape_a");
  if (t.info_a) w.value(t.info_a->shape); else w.null();
  w.key("shape_b");
  if (t.info_b) w.value(t.info_b->shape); else w.null();
  w.key("tolerance").begin_object().key("rtol").value(t.tolerance.rtol).key("atol").value(t.tolerance.atol).end_object();
  w.key("a");
  if (t.a) wside(w, *t.a, t.info_a->shape); else w.null();
  w.key("b");
  if (t.b) wside(w, *t.b, t.info_b->shape); else w.null();
  w.key("diff");
  if (t.diff) wdiff(w, *t.diff, t.info_a->shape); else w.null();
  if (t.summary_diff) {
    const SummaryDiff& sd = *t.summary_diff;
    w.key("summary_diff").begin_object();
    w.key("checksum_equal").value(sd.checksum_equal);
    w.key("d_min").value(sd.d_min);
    w.key("d_max").value(sd.d_max);
    w.key("d_mean").value(sd.d_mean);
    w.key("d_std").value(sd.d_std);
    w.key("first_nonzero_equal").value(sd.first_nonzero_equal);
    w.end_object();
  }
  w.end_object();
}

// Writes `head`'s fields, then "key": [items...] from `item(i)`, then `tail`'s fields, as one
// JSON object, a piece at a time.
void object_with_array(const ordered_json& head, const char* key, size_t n,
                       const std::function<void(JsonWriter&, size_t)>& item, const ordered_json& tail,
                       const TextSink& sink) {
  std::string h = text(head);
  h.pop_back();  // the closing brace
  sink(h + (head.empty() ? "" : ",") + "\"" + key + "\":[");
  std::string piece;
  for (size_t i = 0; i < n; ++i) {
    piece.clear();
    if (i) piece += ',';
    JsonWriter w(piece);
    item(w, i);
    sink(piece);
  }
  std::string t = text(tail);
  sink("]" + (tail.empty() ? std::string("}") : "," + t.substr(1)) + "\n");
}

// A DOM value as builder calls, as its text would read back (invalid UTF-8 replaced).
void emit(const ordered_json& j, DocumentBuilder& out) {
  switch (j.type()) {
    case ordered_json::value_t::object:
      out.begin_object();
      for (const auto& [k, v] : j.items()) {
        out.key(valid_utf8(k));
        emit(v, out);
      }
      out.end_object();
      break;
    case ordered_json::value_t::array:
      out.begin_array();
      for (const auto& v : j) emit(v, out);
      out.end_array();
      break;
    case ordered_json::value_t::string: out.string(valid_utf8(j.get_ref<const std::string&>())); break;
    case ordered_json::value_t::boolean: out.boolean(j.get<bool>()); break;
    case ordered_json::value_t::number_integer: out.integer(j.get<int64_t>()); break;
    case ordered_json::value_t::number_unsigned: out.unsigned_integer(j.get<uint64_t>()); break;
    case ordered_json::value_t::number_float: out.real(j.get<double>()); break;
    default: out.null(); break;
  }
}

// object_with_array's document: head's fields, "key": [items...], tail's fields.
void build_object_with_array(const ordered_json& head, const char* key, size_t n,
                             const std::function<void(BuilderWriter&, size_t)>& item, const ordered_json& tail,
                             DocumentBuilder& out) {
  out.begin_object();
  for (const auto& [k, v] : head.items()) {
    out.key(k);
    emit(v, out);
  }
  out.key(key);
  out.begin_array();
  BuilderWriter w(out);
  for (size_t i = 0; i < n; ++i) item(w, i);
  out.end_array();
  for (const auto& [k, v] : tail.items()) {
    out.key(k);
    emit(v, out);
  }
  out.end_object();
}

ordered_json report_head(const Report& r) {
  ordered_json head;
  head["schema"] = kReportSchema;
  head["version"] = version();
  head["inputs"] = {{"a", r.input_a}, {"b", r.input_b}};
  head["options"] = joptions(r.options, r);
  head["backend"] = r.backend;
  const Summary& s = r.summary;
  head["summary"] = {{"compared", s.compared},
                     {"matched", s.matched},
                     {"mismatched", s.mismatched},
                     {"only_in_a", s.only_in_a},
                     {"only_in_b", s.only_in_b},
                     {"incompatible", s.incompatible},
                     {"consistent", s.consistent},
                     {"errors", s.errors},
                     {"skipped", s.skipped},
                     {"unsupported", s.unsupported},
                     {"first_divergence", jname(s.first_divergence)},
                     {"first_jump", jname(s.first_jump)},
                     {"jumps", s.jumps},
                     {"precision", s.precision},
                     {"precision_reason", s.precision_reason},
                     {"unit_roundoff", jnum(s.unit_roundoff)},
                     {"bytes", s.bytes},
                     {"seconds", jnum(s.seconds)},
                     {"gb_per_s", jnum(s.gb_per_s)}};
  return head;
}

ordered_json report_tail(const Report& r) {
  ordered_json tail;
  tail["notes"] = r.notes;
  tail["warnings"] = r.warnings;
  if (!r.files.empty()) {
    ordered_json files = ordered_json::array();
    for (const auto& f : r.files)
      files.push_back({{"file", f.file}, {"pairs", f.pairs}, {"matched", f.matched}, {"differ", f.differ},
                       {"first_divergence", jname(f.first_divergence)}, {"first_jump", jname(f.first_jump)}});
    tail["files"] = std::move(files);
  }
  tail["alignment"] = {{"alignable_by_order", r.alignable},
                       {"applied", r.options.align == Align::kOrder},
                       {"suggested_maps", r.suggested_maps}};
  return tail;
}
}  // namespace

void write_json(const Report& r, const TextSink& sink) {
  PairReport scratch;  // a pair with its details read back (Report::detailed)
  object_with_array(report_head(r), "tensors", r.tensors.size(),
                    [&](JsonWriter& w, size_t i) { wtensor(w, r.detailed(i, scratch)); }, report_tail(r), sink);
}

void build_document(const Report& r, DocumentBuilder& out) {
  PairReport scratch;
  build_object_with_array(report_head(r), "tensors", r.tensors.size(),
                          [&](BuilderWriter& w, size_t i) { wtensor(w, r.detailed(i, scratch)); }, report_tail(r),
                          out);
}

namespace {

ordered_json stats_head(const StatsReport& r) {
  ordered_json head;
  head["schema"] = kReportSchema;
  head["version"] = version();
  head["kind"] = "stats";
  head["input"] = r.input;
  head["backend"] = r.backend;
  head["summary"] = {{"tensors", r.tensors.size()}, {"unsupported", r.unsupported}, {"errors", r.errors},
                     {"bytes", r.bytes}, {"seconds", jnum(r.seconds)}};
  return head;
}

template <class W>
void stats_entry(W& w, const StatsEntry& t) {
  w.begin_object();
  w.key("name").value(t.info.name);
  w.key("order").value(t.info.order);
  w.key("dtype").value(t.info.type_name);
  w.key("shape").value(t.info.shape);
  w.key("storage").value(t.info.storage);
  if (t.info.value) w.key("value").value(*t.info.value);  // a recorded value (docs/design.md §4)
  w.key("big_endian").value(t.info.big_endian);
  w.key("source");
  if (t.info.source.empty()) w.null(); else w.value(t.info.source);
  w.key("reason");
  if (!t.error.empty()) w.value(t.error);
  else if (!t.info.unsupported.empty()) w.value(t.info.unsupported);
  else w.null();
  if (t.stats) wside(w, *t.stats, t.info.shape, false);
  w.end_object();
}

}  // namespace

void write_json(const StatsReport& r, const TextSink& sink) {
  StatsEntry scratch;  // an entry with its details read back (StatsReport::detailed)
  object_with_array(stats_head(r), "tensors", r.tensors.size(),
                    [&](JsonWriter& w, size_t i) { stats_entry(w, r.detailed(i, scratch)); }, ordered_json::object(),
                    sink);
}

void build_document(const StatsReport& r, DocumentBuilder& out) {
  StatsEntry scratch;
  build_object_with_array(stats_head(r), "tensors", r.tensors.size(),
                          [&](BuilderWriter& w, size_t i) { stats_entry(w, r.detailed(i, scratch)); },
                          ordered_json::object(), out);
}

std::string to_json(const Report& r) {
  std::string out;
  write_json(r, [&](const std::string& piece) { out += piece; });
  return out;
}

std::string to_json(const StatsReport& r) {
  std::string out;
  write_json(r, [&](const std::string& piece) { out += piece; });
  return out;
}

}  // namespace tensordiff
