// The terminal table of docs/design.md §8: one row per pair in execution order, the first
// divergence marked, colour only when asked (the CLI asks on a TTY).
#include <algorithm>
#include <cmath>
#include <string>

#include "common/format.hpp"
#include "report/table_layout.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

const char* kReset = "\033[0m";
const char* kRed = "\033[31m";
const char* kGreen = "\033[32m";
const char* kYellow = "\033[33m";
const char* kBold = "\033[1m";

// Three significant digits, to fit the table's 9-wide columns; zero as "0" whatever its sign.
std::string g3(double v) { return v == 0 ? "0" : sig(v, 3); }

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
  return g >= 100 ? format_number("x%.3g", g) : format_number("x%.2f", g);
}

}  // namespace

// The name column is as wide as the longest name, up to the style's limit.
template <typename Rows, typename NameOf>
size_t name_column(const Rows& rows, NameOf name_of, size_t limit) {
  size_t w = 4;
  for (const auto& r : rows) w = std::max(w, display_width(name_of(r)));
  return std::min(w, limit);
}

namespace {

// The compare table's columns; `drop` is the order in which they go on a narrow terminal.
enum Col { kOrder, kName, kDtype, kMaxAbs, kMaxRel, kRelL2, kCosine, kMismatched, kP99, kGrowth, kStatus };
const std::vector<Column>& compare_columns(size_t name_w) {
  static std::vector<Column> cols = {
      {"#", 5, true, 0},       {"name", 0, false, 0},    {"dtype", 7, false, 6},
      {"max|d|", 9, true, 5},  {"max rel", 9, true, 2},  {"rel L2", 9, true, 0},
      {"cosine", 11, true, 3}, {"mismatched", 22, true, 4}, {"p99|d|", 9, true, 1},
      {"growth", 9, true, 0},  {"status", 6, false, 0}};
  cols[kName].width = name_w;
  return cols;
}

std::string mismatch_cell(const DiffStats& d) {
  return std::to_string(d.mismatches) + "/" + std::to_string(d.count) + " (" +
         (d.mismatches == 0 ? std::string("0%") : format_number("%.3g%%", 100 * d.mismatch_fraction)) + ")";
}

std::vector<std::string> cells(const PairReport& r, const TableStyle& st) {
  std::vector<std::string> c(11);
  c[kOrder] = std::to_string(r.order);
  c[kName] = r.name;
  c[kDtype] = dtype_cell(r);
  for (int k : {kMaxAbs, kMaxRel, kRelL2, kCosine, kMismatched, kP99, kGrowth}) c[k] = "";
  if (r.diff) {
    const DiffStats& d = *r.diff;
    const auto p99 = d.err_hist.quantile_upper_bound(0.99);
    c[kMaxAbs] = d.max_abs ? g3(d.max_abs->value) : "-";
    c[kMaxRel] = d.max_rel ? g3(d.max_rel->value) : "-";
    c[kRelL2] = g3(d.rel_l2);
    c[kCosine] = d.cosine == 1 ? "1" : format_number("%.8f", d.cosine);
    c[kMismatched] = mismatch_cell(d);
    c[kP99] = p99 ? (*p99 == 0 ? "0" : "<" + g3(*p99)) : "-";
    c[kGrowth] = growth_cell(r);
  }
  std::string status = status_cell(r);
  // NaN and inf mismatches are outside max|d|, rel L2 and cosine (finite pairs only).
  if (r.diff && (r.diff->nan_mismatch || r.diff->inf_mismatch)) {
    std::string m;
    if (r.diff->nan_mismatch) m += std::to_string(r.diff->nan_mismatch) + " NaN";
    if (r.diff->inf_mismatch) m += (m.empty() ? "" : ", ") + std::to_string(r.diff->inf_mismatch) + " inf";
    status += " (" + m + " mismatched)";
  }
  if (r.by_order) status += " [b: " + r.name_b + "]";
  // Summaries carry no per-element diff: the reason is all there is to show.
  if (!r.reason.empty() && (r.status != Status::kMismatch || r.summary_diff))
    status += ": " + r.reason;
  else if (r.summary_diff && r.summary_diff->checksum_equal)
    status += " (identical checksum)";
  (void)st;
  c[kStatus] = status;
  return c;
}

// The rows to print: all, the differing ones, or the top N; each with whether it is the first
// divergence / first jump. Runs of matching rows longer than `collapse` become one line (-1).
std::vector<long> chosen_rows(const Report& rep, const TableStyle& st) {
  const Summary& s = rep.summary;
  // Rows always shown: the first divergence and every jump; with --top only the two headlines.
  auto marked = [&](const PairReport& r) {
    return (s.first_divergence && r.name == *s.first_divergence) ||
           (st.top > 0 ? s.first_jump && r.name == *s.first_jump : r.jump);
  };
  std::vector<long> rows;
  if (st.top > 0) {
    std::vector<long> idx;
    for (size_t i = 0; i < rep.tensors.size(); ++i)
      if (rep.tensors[i].diff) idx.push_back(static_cast<long>(i));
    auto key = [&](long i) {
      const PairReport& r = rep.tensors[i];
      const double v = st.top_by_growth ? r.growth.value_or(0) : r.diff->rel_l2;
      return std::isnan(v) ? INFINITY : v;
    };
    std::stable_sort(idx.begin(), idx.end(), [&](long x, long y) { return key(x) > key(y); });
    if (idx.size() > st.top) idx.resize(st.top);
    for (size_t i = 0; i < rep.tensors.size(); ++i)  // the markers' rows always
      if (marked(rep.tensors[i]) && std::find(idx.begin(), idx.end(), static_cast<long>(i)) == idx.end())
        idx.push_back(static_cast<long>(i));
    return idx;
  }
  size_t run = 0;
  auto flush = [&](size_t end) {
    if (st.collapse > 0 && run > st.collapse) {
      // keep the first and last two of the run, one line for the rest
      const size_t begin = end - run;
      rows.push_back(static_cast<long>(begin));
      rows.push_back(static_cast<long>(begin + 1));
      rows.push_back(-static_cast<long>(run - 4) - 1);
      rows.push_back(static_cast<long>(end - 2));
      rows.push_back(static_cast<long>(end - 1));
    } else {
      for (size_t i = end - run; i < end; ++i) rows.push_back(static_cast<long>(i));
    }
    run = 0;
  };
  for (size_t i = 0; i < rep.tensors.size(); ++i) {
    const PairReport& r = rep.tensors[i];
    const bool ok = r.status == Status::kMatch && !marked(r);
    if (st.only_diff && ok) continue;
    if (ok && !st.only_diff) {
      ++run;
      continue;
    }
    flush(i);
    rows.push_back(static_cast<long>(i));
  }
  flush(rep.tensors.size());
  return rows;
}

}  // namespace

std::string format_table(const Report& rep, const TableStyle& st) {
  const size_t nw = name_column(rep.tensors, [](const PairReport& r) -> const std::string& { return r.name; },
                                st.name_width);
  auto cols = compare_columns(nw);
  Layout lay = fit_columns(cols, kName, nw, std::min<size_t>(nw, 14), st.width, 2);
  std::vector<std::string> full(rep.tensors.size());
  for (size_t i = 0; i < rep.tensors.size(); ++i) full[i] = rep.tensors[i].name;
  std::vector<std::string> shown_names = shorten_names(full, lay.name_width);
  // Names kept apart may need more room than the column had: other columns make it.
  size_t need = 0;
  for (const auto& n : shown_names) need = std::max(need, display_width(n));
  if (need > lay.name_width) {
    cols = compare_columns(need);
    lay = fit_columns(cols, kName, need, need, st.width, 2);
    shown_names = shorten_names(full, lay.name_width);
  }
  auto render = [&](const std::vector<std::string>& c, bool head, size_t row = 0) {
    std::string line;
    for (size_t k = 0; k < cols.size(); ++k) {
      if (!lay.shown[k]) continue;
      std::string v = k == kName && !head ? shown_names[row] : c[k];
      const size_t w = k == kName ? lay.name_width : cols[k].width;
      if (k == kStatus) {
        line += v;
      } else {
        line += pad_to(v, w, cols[k].right) + "  ";
      }
    }
    return line;
  };
  std::vector<std::string> head;
  for (const auto& c : cols) head.push_back(c.head);
  std::string out = "  " + render(head, true) + "\n";
  const Summary& s = rep.summary;
  const size_t used = display_width(out) - 1;
  const std::vector<long> rows = chosen_rows(rep, st);
  PairReport scratch;  // a row's pair with its details (p99|d|) read back (Report::detailed)
  for (long i : rows) {
    if (i < 0) {
      out += "   " + pad_to("", cols[kOrder].width) + "\u2026 " + std::to_string(-i - 1) + " more matching tensors\n";
      continue;
    }
    const PairReport& r = rep.detailed(static_cast<size_t>(i), scratch);
    const bool first = s.first_divergence && r.name == *s.first_divergence;
    const bool jump = r.jump;  // every jump; the first is the summary's headline
    // Markers: '>' the first divergence (first over tolerance), '*' the first jump (where the
    // error is introduced); both on one row: ">*".
    std::string line = std::string(first ? (st.color ? "\u25b6" : ">") : " ") + (jump ? "*" : " ");
    std::vector<std::string> c = cells(r, st);
    std::string status = c[kStatus];
    c[kStatus].clear();
    line += render(c, false, static_cast<size_t>(i));
    // On a terminal the status keeps to the width (the reason is in the summary and JSON).
    if (st.width > 0 && display_width(line) + display_width(status) > st.width) {
      const size_t room = st.width > display_width(line) + 1 ? st.width - display_width(line) - 1 : 4;
      if (display_width(status) > room) status = status.substr(0, room) + "\u2026";
    }
    if (st.color) status = std::string(status_color(r.status)) + status + kReset;
    line += status;
    if ((first || jump) && st.color) line = std::string(kBold) + line + kReset;
    out += line + "\n";
  }
  (void)used;
  if (rows.size() < rep.tensors.size() && (st.only_diff || st.top > 0))
    out += "   (" + std::to_string(rep.tensors.size() - rows.size()) + " rows not shown: " +
           (st.top > 0 ? "--top " + std::to_string(st.top) : std::string("--only-diff")) + ")\n";
  return out + "\n" + format_summary(rep, st);
}

std::string format_summary(const Report& rep, const TableStyle& st) {
  std::string out;
  const Summary& s = rep.summary;
  auto emit = [&](const std::string& text, const char* color) {
    const std::string w = wrap(text, st.width);
    out += (st.color && color ? std::string(kBold) + color + w + kReset : w) + "\n";
  };
  std::string sum = std::to_string(s.compared) + " compared: " + std::to_string(s.matched) +
                    " match, " + std::to_string(s.mismatched) + " differ";
  if (s.only_in_a) sum += ", " + std::to_string(s.only_in_a) + " only in a";
  if (s.only_in_b) sum += ", " + std::to_string(s.only_in_b) + " only in b";
  if (s.consistent)
    sum += ", " + std::to_string(s.consistent) + " consistent (summaries agree; elements not compared)";
  if (s.incompatible) sum += ", " + std::to_string(s.incompatible) + " incompatible";
  if (s.errors) sum += ", " + std::to_string(s.errors) + " could not be read";
  if (s.skipped) sum += ", " + std::to_string(s.skipped) + " not read (--stop-at-first)";
  emit(sum, nullptr);
  if (!rep.files.empty()) {  // folders of dumps: the files with differences
    size_t with = 0;
    for (const auto& f : rep.files) with += f.differ > 0;
    emit(std::to_string(rep.files.size()) + " files, " + std::to_string(with) + " with differences" +
             (with ? ":" : ""), nullptr);
    size_t shown = 0;
    for (const auto& f : rep.files) {
      if (f.differ == 0) continue;
      if (++shown > 10) {
        emit("  ... and " + std::to_string(with - 10) + " more (the JSON report lists every file)", nullptr);
        break;
      }
      emit("  " + f.file + ": " + std::to_string(f.differ) + " of " + std::to_string(f.pairs) + " differ, first " +
               f.first_divergence.value_or("-") + (f.first_jump ? ", first jump " + *f.first_jump : ""),
           nullptr);
    }
  }
  if (s.first_divergence) {
    PairReport scratch;  // its first NaN/inf mismatch is a detail (Report::detailed)
    for (size_t i = 0; i < rep.tensors.size(); ++i)
      if (rep.tensors[i].name == *s.first_divergence) {
        const PairReport& r = rep.detailed(i, scratch);
        std::string fd = "first divergence: " + r.name + " (order " + std::to_string(r.order) + ")";
        if (r.status == Status::kMismatch && r.diff) {
          const DiffStats& d = *r.diff;
          auto at = [&](const ExtremeAt& e) {
            return index_string(e.flat_index, r.info_a->shape) + " (a " + exact_value(e.a, r.info_a->dtype) + ", b " +
                   exact_value(e.b, r.info_b->dtype) + ")";
          };
          fd += ": " + r.reason;
          if (!d.nonfinite.empty())
            fd += std::string("; first ") + (std::isnan(d.nonfinite[0].value) ? "NaN" : "inf") +
                  " mismatch at " + at(d.nonfinite[0]);
          // max|d| is over finite pairs: worth a mention when a finite pair differs.
          if (d.max_abs && d.max_abs->value > 0)
            fd += "; max|d| " + g3(d.max_abs->value) + " at " + at(*d.max_abs);
          else if (d.nonfinite.empty() && d.same_dtype && d.bits_differ > 0)
            fd += "; no element differs in value (bits only: -0 vs +0, NaN payloads)";
        } else if (!r.reason.empty()) {
          fd += ": " + r.reason;
        }
        emit(fd, kRed);
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
        // At a gap: the code between two modules, which no hook sees, made the error.
        std::string fj = r.gap_after ? "first jump: between " + *r.gap_after + " and " + r.name + " (order " +
                                           std::to_string(r.order) + ", made by the code between them)"
                                     : "first jump: " + r.name + " (order " + std::to_string(r.order) + ")";
        if (r.diff) fj += ": rel L2 " + g3(r.diff->rel_l2) + ", " + growth_cell(r) + " what it inherited";
        else if (!r.reason.empty()) fj += ": " + r.reason;  // a recorded value that differs
        if (r.scale) fj += ", l2(b)/l2(a) " + format_number("%.6f", *r.scale);
        if (r.shift && std::fabs(*r.shift) > 1e-3) fj += ", mean shift " + g3(*r.shift) + " rms";
        if (r.gap_after)
          for (const auto& before : rep.tensors)
            if (before.name == *r.gap_after && before.info_b && !before.info_b->source.empty())
              fj += "; " + *r.gap_after + " recorded at " + before.info_b->source;
        if (r.info_b && !r.info_b->source.empty()) fj += "; recorded at " + r.info_b->source;
        emit(fj, kYellow);
        break;
      }
    // Every later jump: the slip after the first one is the next thing a migrator fixes.
    if (s.jumps.size() > 1) {
      std::string more = std::to_string(s.jumps.size() - 1) + " more jump" + (s.jumps.size() > 2 ? "s" : "") + " (*):";
      size_t listed = 0;
      for (const auto& r : rep.tensors) {
        if (!r.jump || r.name == *s.first_jump) continue;
        if (++listed > 8) {
          more += " ... (--top-by growth or the JSON report's summary.jumps list them all)";
          break;
        }
        // On a terminal a name must fit a wrapped line; the order number tells it apart.
        const std::string n = st.width > 0 ? shorten_name(r.name, std::max<size_t>(20, st.width - 30)) : r.name.str();
        more += " " + n + " (order " + std::to_string(r.order) + ", " + growth_cell(r) + ")";
      }
      emit(more, kYellow);
    }
  } else if (rep.backend == "summary" && s.mismatched > 0) {
    // Summaries measure no error: a jump is named only after equal summaries (§4).
    emit("no jump named: summaries measure no error (only a difference after equal summaries is one)", nullptr);
  } else if (s.compared > 0 && s.consistent < s.compared) {
    emit("no jump (no error beyond what earlier tensors carry and the " + s.precision + " noise floor)", nullptr);
  }
  if (rep.alignable > 0) {
    const bool applied = rep.options.align == Align::kOrder;
    std::string al = std::to_string(rep.alignable) + " tensors with other names in B " +
                     (applied ? "were paired by execution order (--align order)"
                              : "pair by execution order, shape and dtype (--align order)") +
                     "; to pair them by name:";
    const size_t show = std::min<size_t>(rep.suggested_maps.size(), 8);
    for (size_t i = 0; i < show; ++i) al += " --map '" + rep.suggested_maps[i] + "'";
    if (rep.suggested_maps.size() > show)
      al += " (and " + std::to_string(rep.suggested_maps.size() - show) + " more in the JSON report)";
    emit(al, nullptr);
  }
  emit("precision " + s.precision + (s.precision_reason.empty() ? "" : " (" + s.precision_reason + ")") + "; " +
           format_number("%.3g GB", s.bytes / 1e9) + " read in " + format_number("%.3g s", s.seconds) + " (" +
           format_number("%.3g GB/s", s.gb_per_s) + ", " + rep.backend + ", " + std::to_string(rep.threads) + " threads)",
       nullptr);
  return out;
}

std::string format_stats_table(const StatsReport& rep, const TableStyle& st) {
  const size_t nw = name_column(rep.tensors, [](const StatsEntry& e) -> const std::string& { return e.info.name; },
                                st.name_width);
  enum { kO, kN, kD, kShape, kNz, kMin, kMax, kMean, kStd, kSum };
  const std::vector<Column> cols = {{"#", 5, true, 0},        {"name", nw, false, 0},   {"dtype", 7, false, 4},
                                    {"shape", 16, false, 5},  {"nonzero", 10, true, 2}, {"min", 9, true, 0},
                                    {"max", 9, true, 0},      {"mean", 9, true, 3},     {"std", 9, true, 1},
                                    {"checksum", 16, false, 6}};
  const Layout lay = fit_columns(cols, kN, nw, std::min<size_t>(nw, 14), st.width, 0);
  auto render = [&](std::vector<std::string> c, bool head) {
    std::string line;
    for (size_t k = 0; k < cols.size(); ++k) {
      if (!lay.shown[k]) continue;
      if (k == kN && !head) c[k] = shorten_name(c[k], lay.name_width);
      line += pad_to(c[k], k == kN ? lay.name_width : cols[k].width, cols[k].right) + (k + 1 < cols.size() ? "  " : "");
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line;
  };
  std::vector<std::string> head;
  for (const auto& c : cols) head.push_back(c.head);
  std::string out = render(head, true) + "\n";
  for (const auto& t : rep.tensors) {
    std::vector<std::string> c(cols.size());
    c[kO] = std::to_string(t.info.order);
    c[kN] = t.info.name;
    c[kD] = short_dtype(t.info.type_name);
    c[kShape] = shape_string(t.info.shape);
    std::string tail;
    if (!t.error.empty()) {
      tail = "error: " + t.error;
    } else if (t.stats) {
      const SideStats& s = *t.stats;
      auto o = [](const std::optional<double>& v) { return v ? g3(*v) : std::string("-"); };
      c[kNz] = s.counts_known ? std::to_string(s.nonzero) : "-";
      c[kMin] = o(s.min);
      c[kMax] = o(s.max);
      c[kMean] = o(s.mean);
      c[kStd] = o(s.std);
      c[kSum] = s.checksum_known ? hex16(s.checksum) : "-";
      if (s.nan || s.pos_inf || s.neg_inf)
        tail = "(" + std::to_string(s.nan) + " NaN, " + std::to_string(s.pos_inf + s.neg_inf) + " inf)";
    } else {
      tail = "unsupported: " + t.info.unsupported;
    }
    std::string line = render(c, false);
    if (!tail.empty()) line += "  " + tail;
    out += line + "\n";
  }
  out += "\n" + wrap(std::to_string(rep.tensors.size()) + " tensors, " + format_number("%.3g GB", rep.bytes / 1e9) +
                     " read in " + format_number("%.3g s", rep.seconds) + " (" + rep.backend + ")", st.width) + "\n";
  return out;
}

}  // namespace tensordiff
