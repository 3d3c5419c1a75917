// The terminal table of DESIGN.md §8: one row per pair in execution order, the first
// divergence marked, colour only when asked (the CLI asks on a TTY).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/matcher.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

const char* kReset = "\033[0m";
const char* kRed = "\033[31m";
const char* kGreen = "\033[32m";
const char* kYellow = "\033[33m";
const char* kBold = "\033[1m";

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string g3(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  return fmt("%.3g", v);
}

std::string pad(const std::string& s, size_t w, bool right = false) {
  if (s.size() >= w) return s;
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

// Long names keep their head and tail: the distinguishing parts are usually at both ends.
std::string shorten(const std::string& s, size_t w) {
  if (s.size() <= w || w < 8) return s;
  const size_t keep = w - 3, head = keep / 2, tail = keep - head;
  return s.substr(0, head) + "..." + s.substr(s.size() - tail);
}

std::string short_dtype(const std::string& t) {
  static const std::pair<const char*, const char*> kShort[] = {
      {"float64", "f64"}, {"float32", "f32"}, {"float16", "f16"}, {"bfloat16", "bf16"},
      {"float8_e4m3fn", "f8e4m3"}, {"float8_e5m2", "f8e5m2"}};
  for (const auto& [l, s] : kShort)
    if (t == l) return s;
  return t.size() > 10 ? t.substr(0, 10) : t;
}

std::string dtype_cell(const PairReport& r) {
  const std::string a = r.info_a ? short_dtype(r.info_a->type_name) : "-";
  const std::string b = r.info_b ? short_dtype(r.info_b->type_name) : "-";
  return a == b ? a : a + "/" + b;
}

std::string status_cell(const PairReport& r) {
  switch (r.status) {
    case Status::kMatch: return "ok";
    case Status::kMismatch: return "DIFF";
    case Status::kOnlyInA: return "only in a";
    case Status::kOnlyInB: return "only in b";
    case Status::kIncompatible: return "incompatible";
    case Status::kConsistent: return "consistent";
    case Status::kError: return "ERROR";
  }
  return "?";
}

const char* status_color(Status s) {
  return s == Status::kMatch ? kGreen : s == Status::kMismatch ? kRed : kYellow;
}

std::string growth_cell(const PairReport& r) {
  if (!r.growth) return "-";
  const double g = *r.growth;
  if (std::isinf(g)) return "inf";
  return g >= 100 ? fmt("x%.3g", g) : fmt("x%.2f", g);
}

}  // namespace

// The name column is as wide as the longest name, up to the style's limit.
template <typename Rows, typename NameOf>
size_t name_column(const Rows& rows, NameOf name_of, size_t limit) {
  size_t w = 4;
  for (const auto& r : rows) w = std::max(w, name_of(r).size());
  return std::min(w, limit);
}

std::string format_table(const Report& rep, const TableStyle& st) {
  const size_t nw = name_column(rep.tensors, [](const PairReport& r) -> const std::string& { return r.name; },
                                st.name_width);
  std::string out;
  out += "  " + pad("#", 5, true) + "  " + pad("name", nw) + "  " + pad("dtype", 9) +
         pad("max|d|", 10, true) + pad("max rel", 10, true) + pad("rel L2", 10, true) +
         pad("cosine", 12, true) + "  " + pad("mismatched", 22, true) + pad("p99|d|", 10, true) +
         pad("growth", 10, true) + "  status\n";
  // Markers: '>' the first divergence (first over tolerance), '*' the first jump (where the
  // error is introduced); both on one row: ">*".
  for (const auto& r : rep.tensors) {
    const bool first = rep.summary.first_divergence && r.name == *rep.summary.first_divergence;
    const bool jump = rep.summary.first_jump && r.name == *rep.summary.first_jump;
    std::string line = std::string(first ? (st.color ? "\u25b6" : ">") : " ") + (jump ? "*" : " ");
    line += pad(std::to_string(r.order), 5, true) + "  " + pad(shorten(r.name, nw), nw) + "  " +
            pad(dtype_cell(r), 9);
    if (r.diff) {
      const DiffStats& d = *r.diff;
      const auto p99 = d.err_hist.quantile_upper_bound(0.99);
      line += pad(d.max_abs ? g3(d.max_abs->value) : "-", 10, true) +
              pad(d.max_rel ? g3(d.max_rel->value) : "-", 10, true) + pad(g3(d.rel_l2), 10, true) +
              pad(d.cosine == 1 ? "1" : fmt("%.8f", d.cosine), 12, true) + "  " +
              pad(std::to_string(d.mismatches) + "/" + std::to_string(d.count) + " (" +
                      (d.mismatches == 0 ? std::string("0%") : fmt("%.3g%%", 100 * d.mismatch_fraction)) + ")",
                  22, true) +
              pad(p99 ? (*p99 == 0 ? "0" : "<" + g3(*p99)) : "-", 10, true) +
              pad(growth_cell(r), 10, true);
    } else {
      line += pad("", 10 * 3 + 12 + 2 + 22 + 10 + 10);
    }
    std::string status = status_cell(r);
    if (r.by_order) status += " [b: " + r.name_b + "]";
    // Summaries carry no per-element diff: the reason is all there is to show.
    if (!r.reason.empty() && (r.status != Status::kMismatch || r.summary_diff))
      status += ": " + r.reason;
    else if (r.summary_diff && r.summary_diff->checksum_equal)
      status += " (identical checksum)";
    if (st.color) status = std::string(status_color(r.status)) + status + kReset;
    line += "  " + status;
    if ((first || jump) && st.color) line = std::string(kBold) + line + kReset;
    out += line + "\n";
  }
  const Summary& s = rep.summary;
  std::string sum = std::to_string(s.compared) + " compared: " + std::to_string(s.matched) +
                    " match, " + std::to_string(s.mismatched) + " differ";
  if (s.only_in_a) sum += ", " + std::to_string(s.only_in_a) + " only in a";
  if (s.only_in_b) sum += ", " + std::to_string(s.only_in_b) + " only in b";
  if (s.consistent)
    sum += ", " + std::to_string(s.consistent) + " consistent (summaries agree; elements not compared)";
  if (s.incompatible) sum += ", " + std::to_string(s.incompatible) + " incompatible";
  if (s.errors) sum += ", " + std::to_string(s.errors) + " could not be read";
  if (s.skipped) sum += ", " + std::to_string(s.skipped) + " not read (--stop-at-first)";
  out += "\n" + sum + "\n";
  if (s.first_divergence) {
    for (const auto& r : rep.tensors)
      if (r.name == *s.first_divergence) {
        std::string fd = "first divergence: " + r.name + " (order " + std::to_string(r.order) + ")";
        if (r.status == Status::kMismatch && r.diff && r.diff->max_abs) {
          const auto idx = unravel_index(r.diff->max_abs->flat_index, r.info_a->shape);
          std::string is;
          for (size_t i = 0; i < idx.size(); ++i) is += (i ? "," : "") + std::to_string(idx[i]);
          fd += ": " + r.reason + "; max|d| " + g3(r.diff->max_abs->value) + " at [" + is +
                "] (a " + g3(r.diff->max_abs->a) + ", b " + g3(r.diff->max_abs->b) + ")";
        } else if (!r.reason.empty()) {
          fd += ": " + r.reason;
        }
        out += (st.color ? std::string(kBold) + kRed + fd + kReset : fd) + "\n";
        break;
      }
  } else if (s.mismatched == 0 && s.incompatible == 0) {
    out += "no divergence\n";
  }
  // Where the error is introduced, which the first divergence (first over tolerance) need not
  // be: in a low-precision run every tensor can be over a strict tolerance from the start.
  if (s.first_jump) {
    for (const auto& r : rep.tensors)
      if (r.name == *s.first_jump) {
        std::string fj = "first jump: " + r.name + " (order " + std::to_string(r.order) + "): rel L2 " +
                         g3(r.diff->rel_l2) + ", " + growth_cell(r) + " what it inherited";
        if (r.scale) fj += ", l2(b)/l2(a) " + fmt("%.6f", *r.scale);
        if (r.shift && std::fabs(*r.shift) > 1e-3) fj += ", mean shift " + g3(*r.shift) + " rms";
        if (r.info_b && !r.info_b->source.empty()) fj += "; recorded at " + r.info_b->source;
        out += (st.color ? std::string(kBold) + kYellow + fj + kReset : fj) + "\n";
        break;
      }
  } else if (s.compared > 0 && s.consistent < s.compared) {
    out += "no jump (no error beyond what earlier tensors carry and the " + s.precision +
           " noise floor)\n";
  }
  if (rep.alignable > 0) {
    const bool applied = rep.options.align == Align::kOrder;
    out += std::to_string(rep.alignable) + " tensors with other names in B " +
           (applied ? "were paired by execution order (--align order)"
                    : "pair by execution order, shape and dtype (--align order)") +
           "; to pair them by name:";
    const size_t show = std::min<size_t>(rep.suggested_maps.size(), 8);
    for (size_t i = 0; i < show; ++i) out += " --map '" + rep.suggested_maps[i] + "'";
    if (rep.suggested_maps.size() > show)
      out += " (and " + std::to_string(rep.suggested_maps.size() - show) + " more in the JSON report)";
    out += "\n";
  }
  out += "precision " + s.precision + "; " + fmt("%.3g GB", s.bytes / 1e9) + " read in " + fmt("%.3g s", s.seconds) + " (" +
         fmt("%.3g GB/s", s.gb_per_s) + ", " + rep.backend + ", " + std::to_string(rep.threads) +
         " threads)\n";
  return out;
}

std::string format_stats_table(const StatsReport& rep, const TableStyle& st) {
  const size_t nw = name_column(rep.tensors, [](const StatsEntry& e) -> const std::string& { return e.info.name; },
                                st.name_width);
  std::string out = pad("#", 5, true) + "  " + pad("name", nw) + "  " + pad("dtype", 9) +
                    pad("shape", 18) + pad("nonzero", 12, true) + pad("min", 11, true) +
                    pad("max", 11, true) + pad("mean", 11, true) + pad("std", 11, true) +
                    "  checksum\n";
  for (const auto& t : rep.tensors) {
    std::string line = pad(std::to_string(t.info.order), 5, true) + "  " +
                       pad(shorten(t.info.name, nw), nw) + "  " +
                       pad(short_dtype(t.info.type_name), 9) + pad(shape_string(t.info.shape), 18);
    if (!t.error.empty()) {
      line += "  error: " + t.error;
    } else if (t.stats) {
      const SideStats& s = *t.stats;
      auto o = [](const std::optional<double>& v) { return v ? g3(*v) : std::string("-"); };
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(s.checksum));
      line += pad(std::to_string(s.nonzero), 12, true) + pad(o(s.min), 11, true) +
              pad(o(s.max), 11, true) + pad(o(s.mean), 11, true) + pad(o(s.std), 11, true) +
              "  " + hex;
      if (s.nan || s.pos_inf || s.neg_inf)
        line += "  (" + std::to_string(s.nan) + " NaN, " + std::to_string(s.pos_inf + s.neg_inf) + " inf)";
    } else {
      line += "  unsupported: " + t.info.unsupported;
    }
    out += line + "\n";
  }
  out += "\n" + std::to_string(rep.tensors.size()) + " tensors, " + fmt("%.3g GB", rep.bytes / 1e9) +
         " read in " + fmt("%.3g s", rep.seconds) + " (" + rep.backend + ")\n";
  return out;
}

}  // namespace tensordiff
