#include "io/summary_source.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
using nlohmann::json;

double number(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto s = j.get<std::string>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  throw std::runtime_error("not a number: " + j.dump());
}

std::optional<double> opt_number(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return number(j[key]);
}

ExpHistogram hist(const json& j) {
  ExpHistogram h;
  if (j.is_null()) return h;
  h.counts[ExpHistogram::kZero] = j.at("zero").get<uint64_t>();
  h.counts[ExpHistogram::kUnderflow] = j.at("underflow").get<uint64_t>();
  h.counts[ExpHistogram::kOverflow] = j.at("overflow").get<uint64_t>();
  const auto& c = j.at("counts");
  for (int i = 0; i < ExpHistogram::kExpBins && i < static_cast<int>(c.size()); ++i)
    h.counts[ExpHistogram::kFirstExp + i] = c[i].get<uint64_t>();
  return h;
}

void add_entry(const json& e, SummaryDump& out) {
  TensorInfo t;
  t.name = e.at("name").get<std::string>();
  t.shape = e.at("shape").get<std::vector<uint64_t>>();
  t.count = 1;
  for (auto d : t.shape) t.count *= d;
  t.type_name = e.at("dtype").get<std::string>();
  t.storage = "summary";
  if (auto dt = dtype_from_name(t.type_name)) t.dtype = *dt;
  else t.unsupported = "unknown dtype '" + t.type_name + "'";
  if (e.contains("reason") && e["reason"].is_string()) t.unsupported = e["reason"].get<std::string>();
  t.order = e.contains("order") ? e["order"].get<uint64_t>() : out.tensors.size();
  SideStats s;
  if (t.unsupported.empty()) {
    s.count = e.at("count").get<uint64_t>();
    s.nonzero = e.at("nonzero").get<uint64_t>();
    s.nan = e.at("nan").get<uint64_t>();
    s.pos_inf = e.at("pos_inf").get<uint64_t>();
    s.neg_inf = e.at("neg_inf").get<uint64_t>();
    s.finite = s.count - s.nan - s.pos_inf - s.neg_inf;
    s.min = opt_number(e, "min");
    s.max = opt_number(e, "max");
    s.mean = opt_number(e, "mean");
    s.std = opt_number(e, "std");
    s.l2 = opt_number(e, "l2");
    for (const auto& f : e.at("first_nonzero"))
      s.first_nonzero.push_back({f.at("flat_index").get<uint64_t>(), number(f.at("value"))});
    s.mag_hist = hist(e.contains("mag_hist") ? e["mag_hist"] : json());
    s.checksum = std::stoull(e.at("checksum").get<std::string>(), nullptr, 16);
  }
  out.tensors.push_back(std::move(t));
  out.stats.push_back(std::move(s));
}

}  // namespace

bool is_summary_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char c;
  while (in.get(c))
    if (!std::isspace(static_cast<unsigned char>(c))) return c == '{';
  return false;
}

SummaryDump load_summary(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  SummaryDump out;
  std::string line;
  size_t lineno = 0;
  try {
    // A stats --json document is one JSON value (possibly spread over lines); a summary dump
    // is JSON lines. Try the whole file first, then line by line.
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded() && doc.contains("tensors")) {
      for (const auto& e : doc["tensors"]) add_entry(e, out);
    } else {
      std::istringstream lines(text);
      while (std::getline(lines, line)) {
        ++lineno;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const json e = json::parse(line);
        if (e.contains("kind")) continue;  // the header line
        add_entry(e, out);
      }
    }
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kCorrupt, path + (lineno ? ":" + std::to_string(lineno) : "") +
                                         ": not a tensordiff summary: " + e.what());
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
