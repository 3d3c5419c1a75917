// The HTML report: one self-contained file (no network, no external script) that opens from
// disk. What a person looks for first is written here as HTML: a headline with the first
// divergence, the first jump and every jump, each a link to its row. The data sits in the page
// as columnar JSON; the script (html_page.js, with html_page.css compiled in as literals by
// cmake/embed_text.cmake) draws rel L2 and growth per pair in execution order on two plots,
// pages the table (sortable, filterable, only-diff toggle) so that 100,000 pairs open fast,
// opens a row from a link, the plot or a click, and shows its fields at full precision and its
// histograms beside the table (over it on a narrow window).
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "common/format.hpp"
#include "report/json_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

#include "html_page_css.inc"
#include "html_page_js.inc"

// JSON inside <script>: "</" would end the element.
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') out += "<\\/", ++i;
    else out += json[i];
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void hist(JsonWriter& w, const SparseHistogram& h) {
  w.begin_array();
  for (const auto& [bin, c] : h.bins) {
    w.begin_array();
    w.value(static_cast<int64_t>(bin));
    w.value(c);
    w.end_array();
  }
  w.end_array();
}

// Columnar: one array per field, index = row in execution order.
std::string data_json(const Report& rep) {
  std::string text;
  JsonWriter w(text);
  w.begin_object();
  w.key("a").value(rep.input_a);
  w.key("b").value(rep.input_b);
  const Summary& s = rep.summary;
  w.key("first_divergence").value(s.first_divergence.value_or(""));
  w.key("first_jump").value(s.first_jump.value_or(""));
  w.key("jumps").begin_array();
  for (const auto& j : s.jumps) w.value(j);
  w.end_array();
  w.key("precision").value(s.precision);
  w.key("unit_roundoff").value(s.unit_roundoff);
  w.key("hist_first_exp").value(static_cast<int64_t>(ExpHistogram::kMinExp));
  w.key("hist_zero").value(static_cast<int64_t>(ExpHistogram::kZero));
  w.key("hist_under").value(static_cast<int64_t>(ExpHistogram::kUnderflow));
  w.key("hist_over").value(static_cast<int64_t>(ExpHistogram::kOverflow));
  w.key("hist_first_bin").value(static_cast<int64_t>(ExpHistogram::kFirstExp));
  auto column = [&](const char* key, auto get) {
    w.key(key).begin_array();
    for (const auto& r : rep.tensors) get(r);
    w.end_array();
  };
  // A column of the pairs' details, read back a pair at a time where the run streamed them.
  PairReport scratch;
  auto detail_column = [&](const char* key, auto get) {
    w.key(key).begin_array();
    for (size_t i = 0; i < rep.tensors.size(); ++i) get(rep.detailed(i, scratch));
    w.end_array();
  };
  auto opt = [&](const std::optional<double>& v) {
    if (v && std::isfinite(*v)) w.value(*v);
    else w.null();
  };
  column("name", [&](const PairReport& r) { w.value(r.name); });
  column("order", [&](const PairReport& r) { w.value(r.order); });
  column("status", [&](const PairReport& r) { w.value(std::string(status_name(r.status))); });
  column("reason", [&](const PairReport& r) { w.value(r.reason); });
  column("dtype", [&](const PairReport& r) {
    const std::string a = r.info_a ? r.info_a->type_name : "-", b = r.info_b ? r.info_b->type_name : "-";
    w.value(a == b ? a : a + "/" + b);
  });
  column("shape", [&](const PairReport& r) {
    const TensorInfo* t = r.info_a ? &*r.info_a : r.info_b ? &*r.info_b : nullptr;
    w.value("(" + (t ? join_numbers(t->shape, ", ") : std::string()) + ")");
  });
  column("rel_l2", [&](const PairReport& r) { opt(r.diff ? std::optional<double>(r.diff->rel_l2) : std::nullopt); });
  column("cosine", [&](const PairReport& r) { opt(r.diff ? std::optional<double>(r.diff->cosine) : std::nullopt); });
  column("max_abs", [&](const PairReport& r) {
    opt(r.diff && r.diff->max_abs ? std::optional<double>(r.diff->max_abs->value) : std::nullopt);
  });
  column("max_rel", [&](const PairReport& r) {
    opt(r.diff && r.diff->max_rel ? std::optional<double>(r.diff->max_rel->value) : std::nullopt);
  });
  column("mismatches", [&](const PairReport& r) {
    if (r.diff) w.value(r.diff->mismatches);
    else w.null();
  });
  column("count", [&](const PairReport& r) {
    if (r.diff) w.value(r.diff->count);
    else w.null();
  });
  // NaN/inf mismatches, which max|d|, rel L2 and cosine (finite pairs) do not show.
  column("nonfinite", [&](const PairReport& r) {
    if (r.diff) w.value(r.diff->nan_mismatch + r.diff->inf_mismatch);
    else w.null();
  });
  column("growth", [&](const PairReport& r) { opt(r.growth); });
  column("scale", [&](const PairReport& r) { opt(r.scale); });
  column("shift", [&](const PairReport& r) { opt(r.shift); });
  // Where max|d| is, with both elements to the digits that tell them apart (as the terminal).
  column("max_at", [&](const PairReport& r) {
    if (!r.diff || !r.diff->max_abs || !r.info_a || !r.info_b) return (void)w.null();
    const ExtremeAt& e = *r.diff->max_abs;
    w.value(index_string(e.flat_index, r.info_a->shape) + " (a " + exact_value(e.a, r.info_a->dtype) + ", b " +
            exact_value(e.b, r.info_b->dtype) + ")");
  });
  auto text_or_null = [&](const std::optional<std::string>& v) {
    if (v) w.value(*v);
    else w.null();
  };
  column("value_a", [&](const PairReport& r) { text_or_null(r.info_a ? r.info_a->value : std::nullopt); });
  column("value_b", [&](const PairReport& r) { text_or_null(r.info_b ? r.info_b->value : std::nullopt); });
  column("copy_of", [&](const PairReport& r) { text_or_null(r.copy_of); });
  column("gap_after", [&](const PairReport& r) { text_or_null(r.gap_after); });
  column("jump", [&](const PairReport& r) { w.value(r.jump); });
  column("source", [&](const PairReport& r) {
    w.value(r.info_b && !r.info_b->source.empty() ? r.info_b->source : r.info_a ? r.info_a->source : "");
  });
  detail_column("err_hist", [&](const PairReport& r) {
    if (r.diff) hist(w, r.diff->err_hist);
    else w.null();
  });
  detail_column("hist_a", [&](const PairReport& r) {
    if (r.a && r.a->counts_known) hist(w, r.a->mag_hist);
    else w.null();
  });
  detail_column("hist_b", [&](const PairReport& r) {
    if (r.b && r.b->counts_known) hist(w, r.b->mag_hist);
    else w.null();
  });
  w.end_object();
  return text;
}

// The row of each name (the first, should two share one), for links.
std::map<std::string, size_t> rows_by_name(const Report& rep) {
  std::map<std::string, size_t> rows;
  for (size_t i = 0; i < rep.tensors.size(); ++i) rows.emplace(rep.tensors[i].name, i);
  return rows;
}

std::string row_link(const std::string& name, const std::map<std::string, size_t>& rows) {
  const auto it = rows.find(name);
  if (it == rows.end()) return html_escape(name);
  const std::string i = std::to_string(it->second);
  return "<a class=\"row-link\" href=\"#row-" + i + "\" data-row=\"" + i + "\">" + html_escape(name) + "</a>";
}

// A summary line with the given names, in the order they appear in it, made links to their rows.
std::string linked(const std::string& line, const std::vector<std::string>& names,
                   const std::map<std::string, size_t>& rows) {
  std::string out;
  size_t at = 0;
  for (const auto& n : names) {
    const size_t k = n.empty() ? std::string::npos : line.find(n, at);
    if (k == std::string::npos) continue;
    out += html_escape(line.substr(at, k - at)) + row_link(n, rows);
    at = k + n.size();
  }
  return out + html_escape(line.substr(at));
}

constexpr size_t kMaxJumpLinks = 200;  // a headline, not a second table

// The headline: the summary as the terminal words it, its first divergence and first jump lines
// with their names as links, and every jump (the terminal lists eight) as a link.
std::string headline(const Report& rep) {
  const Summary& s = rep.summary;
  const auto rows = rows_by_name(rep);
  const PairReport* fj = nullptr;
  for (const auto& r : rep.tensors)
    if (s.first_jump && r.name == *s.first_jump) fj = &r;
  std::string out = "<section id=\"headline\">\n";
  const std::string text = format_summary(rep, TableStyle{});
  std::string notes;  // the lines after the answer: precision, files, alignment
  size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const std::string fd_tag = "first divergence: ", fj_tag = "first jump: ";
    if (s.first_divergence && line.rfind(fd_tag, 0) == 0) {
      out += "<p class=\"hl fd\"><span class=\"tag\">first divergence</span> " +
             linked(line.substr(fd_tag.size()), {*s.first_divergence}, rows) + "</p>\n";
    } else if (fj && line.rfind(fj_tag, 0) == 0) {
      out += "<p class=\"hl fj\"><span class=\"tag\">first jump</span> " +
             linked(line.substr(fj_tag.size()), {fj->gap_after.value_or(""), fj->name}, rows) + "</p>\n";
    } else if (line.find(" more jump") != std::string::npos && line.find("(*):") != std::string::npos) {
      continue;  // the list below names every jump
    } else if (line.rfind("no divergence", 0) == 0 || line.rfind("no jump", 0) == 0) {
      out += "<p class=\"hl none\">" + html_escape(line) + "</p>\n";  // the answer too
    } else {
      (first ? out : notes) += std::string("<p class=\"") + (first ? "counts" : "note") + "\">" + html_escape(line) + "</p>\n";
    }
    first = false;
  }
  if (!s.jumps.empty()) {
    out += "<p class=\"hl jl\"><span class=\"tag\">" + std::to_string(s.jumps.size()) + " jump" +
           (s.jumps.size() > 1 ? "s" : "") + "</span> ";
    size_t listed = 0;
    for (const auto& r : rep.tensors) {
      if (!r.jump) continue;
      if (++listed > kMaxJumpLinks) {
        out += " &middot; and " + std::to_string(s.jumps.size() - kMaxJumpLinks) + " more (marked * in the table)";
        break;
      }
      const bool sep = listed > 1;
      out += std::string(sep ? " &middot; " : "") + row_link(r.name, rows) + " (order " + std::to_string(r.order);
      if (r.growth) out += ", x" + (std::isinf(*r.growth) ? std::string("inf") : sig(*r.growth, 3));
      if (r.gap_after) out += ", made by the code after " + row_link(*r.gap_after, rows);
      out += ")";
    }
    out += "</p>\n";
  }
  return out + notes + "</section>\n";
}

}  // namespace

void write_html(const Report& rep, const TextSink& sink) {
  const std::string title = "tensordiff: " + html_escape(rep.input_a) + " vs " + html_escape(rep.input_b);
  sink("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" + title +
       "</title>\n<style>" + kPageCSS + "</style></head>\n<body>\n<h1>" + title + "</h1>\n");
  sink(headline(rep));
  sink("<noscript><p>The plots and the table need JavaScript; the data is in this file, as JSON.</p></noscript>\n"
       "<section id=\"plots\">\n<div class=\"legend\">"
       "<span><i class=\"dot rel\"></i>rel L2 (a pair that matches)</span>"
       "<span><i class=\"dot reld\"></i>rel L2 (a pair that differs)</span>"
       "<span><i class=\"dot gr\"></i>growth over what it inherited</span>"
       "<span><i class=\"line fdl\"></i>first divergence</span>"
       "<span><i class=\"line jl\"></i>jump</span>"
       "<span><i class=\"line ref\"></i>unit roundoff; growth x8</span></div>\n"
       "<div id=\"plotbox\"><canvas id=\"cv-rel\"></canvas><canvas id=\"cv-growth\"></canvas>"
       "<div id=\"tip\" hidden></div></div>\n</section>\n"
       "<div class=\"controls\"><input id=\"filter\" placeholder=\"filter names\"> <label><input type=\"checkbox\" "
       "id=\"onlydiff\"> only pairs that differ</label> <button id=\"prev\">&lt;</button> <span id=\"pager\"></span> "
       "<button id=\"next\">&gt;</button> <span class=\"hint\">click a row, a point or a headline name for its "
       "details</span></div>\n"
       "<div id=\"tablebox\"><table id=\"pairs\"><thead><tr id=\"hr\"></tr></thead>"
       "<tbody id=\"tb\"></tbody></table></div>\n<aside id=\"detail\" hidden></aside>\n");
  sink("<script id=\"data\" type=\"application/json\">" + script_safe(data_json(rep)) + "</script>\n");
  sink(std::string("<script>") + kPageJS + "</script>\n</body></html>\n");
}

}  // namespace tensordiff
