// The JSON report of DESIGN.md §8 (and the stats summary), with exactly its field names.
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "engine/matcher.hpp"
#include "engine/precision.hpp"
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

std::string hex16(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

ordered_json jhist(const ExpHistogram& h) {
  ordered_json counts = ordered_json::array();
  for (int i = 0; i < ExpHistogram::kExpBins; ++i) counts.push_back(h.counts[ExpHistogram::kFirstExp + i]);
  return {{"zero", h.counts[ExpHistogram::kZero]},
          {"underflow", h.counts[ExpHistogram::kUnderflow]},
          {"min_exp", ExpHistogram::kMinExp},
          {"max_exp", ExpHistogram::kMaxExp},
          {"counts", counts},
          {"overflow", h.counts[ExpHistogram::kOverflow]}};
}

ordered_json jside(const SideStats& s, const std::vector<uint64_t>& shape) {
  ordered_json fnz = ordered_json::array();
  for (const auto& e : s.first_nonzero)
    fnz.push_back({{"index", unravel_index(e.flat_index, shape)},
                   {"flat_index", e.flat_index},
                   {"value", jnum(e.value)}});
  return {{"count", s.count},   {"nonzero", s.nonzero},   {"nan", s.nan},
          {"pos_inf", s.pos_inf}, {"neg_inf", s.neg_inf}, {"min", jopt(s.min)},
          {"max", jopt(s.max)}, {"mean", jopt(s.mean)},   {"std", jopt(s.std)},
          {"l2", jopt(s.l2)},   {"first_nonzero", fnz},   {"mag_hist", jhist(s.mag_hist)},
          {"checksum", hex16(s.checksum)}};
}

ordered_json jextreme(const std::optional<ExtremeAt>& e, const std::vector<uint64_t>& shape) {
  if (!e) return nullptr;
  return {{"index", unravel_index(e->flat_index, shape)},
          {"flat_index", e->flat_index},
          {"a", jnum(e->a)},
          {"b", jnum(e->b)}};
}

ordered_json jdiff(const DiffStats& d, const std::vector<uint64_t>& shape) {
  ordered_json j;
  j["count"] = d.count;
  j["finite_pairs"] = d.finite_pairs;
  j["max_abs"] = d.max_abs ? jnum(d.max_abs->value) : ordered_json(nullptr);
  j["max_abs_at"] = jextreme(d.max_abs, shape);
  j["max_rel"] = d.max_rel ? jnum(d.max_rel->value) : ordered_json(nullptr);
  j["max_rel_at"] = jextreme(d.max_rel, shape);
  j["mean_abs"] = jopt(d.mean_abs);
  j["rmse"] = jopt(d.rmse);
  j["rel_l2"] = jnum(d.rel_l2);
  j["cosine"] = jnum(d.cosine);
  j["mismatches"] = d.mismatches;
  j["mismatch_fraction"] = jnum(d.mismatch_fraction);
  j["nan_mismatch"] = d.nan_mismatch;
  j["inf_mismatch"] = d.inf_mismatch;
  j["bits_differ"] = d.same_dtype ? ordered_json(d.bits_differ) : ordered_json(nullptr);
  j["max_ulp"] = d.same_dtype ? ordered_json(d.max_ulp) : ordered_json(nullptr);
  j["err_hist"] = jhist(d.err_hist);
  ordered_json worst = ordered_json::array();
  for (const auto& w : d.worst)
    worst.push_back({{"index", unravel_index(w.flat_index, shape)},
                     {"flat_index", w.flat_index},
                     {"a", jnum(w.a)},
                     {"b", jnum(w.b)},
                     {"abs_diff", jnum(w.value)}});
  j["worst"] = std::move(worst);
  return j;
}

ordered_json jshape(const std::optional<TensorInfo>& t) {
  return t ? ordered_json(t->shape) : ordered_json(nullptr);
}
ordered_json jdtype(const std::optional<TensorInfo>& t) {
  return t ? ordered_json(t->type_name) : ordered_json(nullptr);
}

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
  return b == Backend::kCpu ? "cpu" : b == Backend::kCuda ? "cuda" : "auto";
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

std::string to_json(const Report& r) {
  ordered_json j;
  j["schema"] = kReportSchema;
  j["version"] = version();
  j["inputs"] = {{"a", r.input_a}, {"b", r.input_b}};
  j["options"] = joptions(r.options, r);
  j["backend"] = r.backend;
  const Summary& s = r.summary;
  j["summary"] = {{"compared", s.compared},
                  {"matched", s.matched},
                  {"mismatched", s.mismatched},
                  {"only_in_a", s.only_in_a},
                  {"only_in_b", s.only_in_b},
                  {"incompatible", s.incompatible},
                  {"consistent", s.consistent},
                  {"skipped", s.skipped},
                  {"unsupported", s.unsupported},
                  {"first_divergence", jname(s.first_divergence)},
                  {"first_jump", jname(s.first_jump)},
                  {"precision", s.precision},
                  {"unit_roundoff", jnum(s.unit_roundoff)},
                  {"bytes", s.bytes},
                  {"seconds", jnum(s.seconds)},
                  {"gb_per_s", jnum(s.gb_per_s)}};
  ordered_json tensors = ordered_json::array();
  for (const auto& t : r.tensors) {
    ordered_json e;
    e["name"] = t.name;
    e["name_b"] = t.name_b.empty() ? ordered_json(nullptr) : ordered_json(t.name_b);
    e["order"] = t.order;
    e["status"] = status_name(t.status);
    e["growth"] = jopt(t.growth);
    e["scale"] = jopt(t.scale);
    e["shift"] = jopt(t.shift);
    e["jump"] = t.jump;
    e["by_order"] = t.by_order;
    const TensorInfo* src = t.info_b && !t.info_b->source.empty() ? &*t.info_b
                            : t.info_a && !t.info_a->source.empty() ? &*t.info_a : nullptr;
    e["source"] = src ? ordered_json(src->source) : ordered_json(nullptr);
    e["reason"] = t.reason.empty() ? ordered_json(nullptr) : ordered_json(t.reason);
    e["dtype_a"] = jdtype(t.info_a);
    e["dtype_b"] = jdtype(t.info_b);
    e["shape_a"] = jshape(t.info_a);
    e["shape_b"] = jshape(t.info_b);
    e["tolerance"] = {{"rtol", jnum(t.tolerance.rtol)}, {"atol", jnum(t.tolerance.atol)}};
    e["a"] = t.a ? jside(*t.a, t.info_a->shape) : ordered_json(nullptr);
    e["b"] = t.b ? jside(*t.b, t.info_b->shape) : ordered_json(nullptr);
    e["diff"] = t.diff ? jdiff(*t.diff, t.info_a->shape) : ordered_json(nullptr);
    if (t.summary_diff)
      e["summary_diff"] = {{"checksum_equal", t.summary_diff->checksum_equal},
                           {"d_min", jopt(t.summary_diff->d_min)},
                           {"d_max", jopt(t.summary_diff->d_max)},
                           {"d_mean", jopt(t.summary_diff->d_mean)},
                           {"d_std", jopt(t.summary_diff->d_std)},
                           {"first_nonzero_equal", t.summary_diff->first_nonzero_equal}};
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  j["alignment"] = {{"alignable_by_order", r.alignable},
                    {"applied", r.options.align == Align::kOrder},
                    {"suggested_maps", r.suggested_maps}};
  return j.dump() + "\n";  // compact: reports of thousands of tensors are for programs
}

std::string to_json(const StatsReport& r) {
  ordered_json j;
  j["schema"] = kReportSchema;
  j["version"] = version();
  j["kind"] = "stats";
  j["input"] = r.input;
  j["backend"] = r.backend;
  j["summary"] = {{"tensors", r.tensors.size()}, {"unsupported", r.unsupported},
                  {"bytes", r.bytes}, {"seconds", jnum(r.seconds)}};
  ordered_json tensors = ordered_json::array();
  for (const auto& t : r.tensors) {
    ordered_json e = {{"name", t.info.name},        {"order", t.info.order},
                      {"dtype", t.info.type_name},  {"shape", t.info.shape},
                      {"storage", t.info.storage},  {"big_endian", t.info.big_endian},
                      {"reason", t.info.unsupported.empty() ? ordered_json(nullptr)
                                                            : ordered_json(t.info.unsupported)}};
    if (t.stats) {
      const ordered_json side = jside(*t.stats, t.info.shape);  // must outlive the loop
      for (const auto& [k, v] : side.items()) e[k] = v;
    }
    tensors.push_back(std::move(e));
  }
  j["tensors"] = std::move(tensors);
  return j.dump() + "\n";  // compact: reports of thousands of tensors are for programs
}

}  // namespace tensordiff
