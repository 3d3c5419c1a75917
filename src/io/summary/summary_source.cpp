#include "io/summary/summary_source.hpp"

#include "io/formats.hpp"
#include "io/input_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
using nlohmann::json;

// Summaries are user files: every field is checked and every complaint names the field (the
// caller adds the file and line). No message is built with json::dump(), which recurses.
struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const json& field(const json& e, const char* key) {
  if (!e.is_object()) throw FieldError("an entry must be a JSON object");
  const auto it = e.find(key);
  if (it == e.end()) throw FieldError(std::string("missing field '") + key + "'");
  return *it;
}

std::string text(const json& e, const char* key) {
  const json& v = field(e, key);
  if (!v.is_string()) throw FieldError(std::string("field '") + key + "' must be a string");
  return v.get<std::string>();
}

uint64_t count(const json& e, const char* key) {
  const json& v = field(e, key);
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw FieldError(std::string("field '") + key + "' must be a non-negative integer");
  return v.get<uint64_t>();
}

double number(const json& j, const std::string& what) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  throw FieldError("field '" + what + "' must be a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
}

std::optional<double> opt_number(const json& e, const char* key) {
  const auto it = e.find(key);
  if (it == e.end() || it->is_null()) return std::nullopt;
  return number(*it, key);
}

// Schema 2 keeps the non-empty exponent bins in "exp" ({"-3": n}); schema 1 (and the numpy
// fallback of the Python package) a dense "counts" array from min_exp.
SparseHistogram hist(const json& e) {
  ExpHistogram h;
  const auto it = e.find("mag_hist");
  if (it == e.end() || it->is_null()) return {};
  const json& j = *it;
  h.counts[ExpHistogram::kZero] = count(j, "zero");
  h.counts[ExpHistogram::kUnderflow] = count(j, "underflow");
  h.counts[ExpHistogram::kOverflow] = count(j, "overflow");
  auto nonneg = [](const json& v) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      throw FieldError("field 'mag_hist' must hold non-negative integer counts");
    return v.get<uint64_t>();
  };
  if (j.contains("exp")) {
    const json& x = j["exp"];
    if (!x.is_object()) throw FieldError("field 'mag_hist.exp' must be an object");
    for (const auto& [key, v] : x.items()) {
      char* end = nullptr;
      const long exp = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || exp < ExpHistogram::kMinExp || exp > ExpHistogram::kMaxExp)
        throw FieldError("field 'mag_hist.exp' has a bad exponent '" + key.substr(0, 20) + "'");
      h.counts[ExpHistogram::kFirstExp + (exp - ExpHistogram::kMinExp)] = nonneg(v);
    }
  } else {
    const json& c = field(j, "counts");
    if (!c.is_array()) throw FieldError("field 'mag_hist.counts' must be an array");
    for (int i = 0; i < ExpHistogram::kExpBins && i < static_cast<int>(c.size()); ++i)
      h.counts[ExpHistogram::kFirstExp + i] = nonneg(c[i]);
  }
  return SparseHistogram::from(h);
}

uint64_t checksum(const json& e) {
  const std::string s = text(e, "checksum");
  if (s.empty() || s.size() > 16 || s.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    throw FieldError("field 'checksum' must be 1 to 16 hex digits");
  return std::stoull(s, nullptr, 16);
}

void add_entry(const json& e, SummaryDump& out) {
  TensorInfo t;
  t.name = text(e, "name");
  const json& shape = field(e, "shape");
  if (!shape.is_array()) throw FieldError("field 'shape' must be an array");
  t.count = 1;
  std::vector<uint64_t> dims;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
      throw FieldError("field 'shape' must hold non-negative integers");
    const uint64_t v = d.get<uint64_t>();
    if (v != 0 && t.count > (UINT64_MAX >> 4) / v) throw FieldError("field 'shape' overflows");
    dims.push_back(v);
    t.count *= v;
  }
  t.shape = dims;
  t.type_name = text(e, "dtype");
  t.storage = "summary";
  if (auto dt = dtype_from_name(t.type_name)) t.dtype = *dt;
  else t.unsupported = "unknown dtype '" + t.type_name + "'";
  if (e.contains("reason") && e["reason"].is_string()) t.unsupported = e["reason"].get<std::string>();
  t.order = e.contains("order") ? count(e, "order") : out.tensors.size();
  if (e.contains("source") && e["source"].is_string()) t.source = e["source"].get<std::string>();
  SideStats s;
  if (t.unsupported.empty()) {
    s.count = count(e, "count");
    s.nonzero = count(e, "nonzero");
    s.nan = count(e, "nan");
    s.pos_inf = count(e, "pos_inf");
    s.neg_inf = count(e, "neg_inf");
    if (s.nan > s.count || s.pos_inf > s.count - s.nan || s.neg_inf > s.count - s.nan - s.pos_inf)
      throw FieldError("counts of NaN and inf exceed 'count'");
    s.finite = s.count - s.nan - s.pos_inf - s.neg_inf;
    s.min = opt_number(e, "min");
    s.max = opt_number(e, "max");
    s.mean = opt_number(e, "mean");
    s.std = opt_number(e, "std");
    s.l2 = opt_number(e, "l2");
    const json& fnz = field(e, "first_nonzero");
    if (!fnz.is_array()) throw FieldError("field 'first_nonzero' must be an array");
    for (const auto& f : fnz) s.first_nonzero.push_back({count(f, "flat_index"), number(field(f, "value"), "first_nonzero.value")});
    s.mag_hist = hist(e);
    s.checksum = checksum(e);
  }
  out.tensors.push_back(std::move(t));
  out.stats.push_back(std::move(s));
}

// Nesting deeper than any summary has: refused while parsing, before it costs stack.
constexpr int kMaxDepth = 32;

json parse_limited(const std::string& text, bool allow_exceptions) {
  const json::parser_callback_t limit = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxDepth) throw FieldError("values nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return true;
  };
  return json::parse(text, limit, allow_exceptions);
}

}  // namespace

bool is_summary_file(const std::string& path) {
  try {
    return detect_format(path) == Format::kSummary;
  } catch (const Error&) {
    return false;  // the reader that opens it says what is wrong
  }
}

SummaryDump load_summary(const std::string& path) {
  // Checked as every input is (a regular file, never blocking): a summary of 10^6 tensors is
  // about a GB; more is no summary.
  return parse_summary(read_input_text(path, uint64_t(4) << 30), path);
}

SummaryDump parse_summary(const std::string& text, const std::string& path) {
  SummaryDump out;
  std::string line;
  size_t lineno = 0;
  std::string where;  // ":LINE" of a JSON-lines summary, ": tensors[K]" of a stats document
  try {
    // A stats --json document is one JSON value (possibly spread over lines); a summary dump
    // is JSON lines. Try the whole file first, then line by line.
    json doc;
    try {
      doc = parse_limited(text, false);
    } catch (const FieldError&) {
      doc = json::value_t::discarded;
    }
    if (!doc.is_discarded() && doc.is_object() && doc.contains("tensors")) {
      if (!doc["tensors"].is_array()) throw FieldError("'tensors' must be an array");
      size_t k = 0;
      for (const auto& e : doc["tensors"]) {
        where = ": tensors[" + std::to_string(k++) + "]";
        add_entry(e, out);
      }
      where.clear();
    } else {
      std::istringstream lines(text);
      while (std::getline(lines, line)) {
        ++lineno;
        where = ":" + std::to_string(lineno);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const json e = parse_limited(line, true);
        if (e.is_object() && e.contains("kind")) continue;  // the header line
        add_entry(e, out);
      }
    }
  } catch (const FieldError& e) {
    throw Error(ErrorCode::kCorrupt, path + where + ": not a tensordiff summary: " + e.what());
  } catch (const json::exception& e) {
    // nlohmann's parse errors carry a position; its type errors are ours to avoid above.
    throw Error(ErrorCode::kCorrupt, path + where + ": not a tensordiff summary: invalid JSON (" +
                                         std::string(e.what()).substr(0, 200) + ")");
  }
  // Execution order: the recorded `order`, ties (and absent orders) by position.
  std::vector<size_t> idx(out.tensors.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
    return out.tensors[x].order < out.tensors[y].order;
  });
  SummaryDump sorted;
  for (size_t k = 0; k < idx.size(); ++k) {
    sorted.tensors.push_back(out.tensors[idx[k]]);
    sorted.tensors.back().order = k;
    sorted.stats.push_back(out.stats[idx[k]]);
  }
  return sorted;
}

}  // namespace tensordiff
