#include "engine/values.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

namespace tensordiff {

namespace {

// "float 0.001" -> ("float", "0.001").
std::pair<std::string, std::string> split_value(const std::string& v) {
  const size_t sp = v.find(' ');
  return sp == std::string::npos ? std::pair{v, std::string()} : std::pair{v.substr(0, sp), v.substr(sp + 1)};
}

bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

bool floating_dtype(const std::string& type, const std::string& value) {
  if (type.find("dtype") == std::string::npos) return false;
  for (const char* f : {"float", "half", "bfloat16", "double"})
    if (value.find(f) != std::string::npos) return true;
  return false;
}

bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto [ta, va] = split_value(a);
  const auto [tb, vb] = split_value(b);
  if (ta != tb) return false;
  double x, y;
  if (parse_number(va, x) && parse_number(vb, y))
    return x == y || std::fabs(x - y) <= 0x1p-23 * std::max(std::fabs(x), std::fabs(y));
  return floating_dtype(ta, va) && floating_dtype(tb, vb);
}

}  // namespace

bool is_value_pair(const PairReport& r) {
  return (r.info_a && r.info_a->value) || (r.info_b && r.info_b->value);
}

bool judge_values(PairReport& r) {
  if (!is_value_pair(r) || !r.info_a || !r.info_b) return is_value_pair(r);
  const auto& a = r.info_a->value;
  const auto& b = r.info_b->value;
  if (a && b) {
    r.status = same_value(*a, *b) ? Status::kMatch : Status::kMismatch;
    r.reason = r.status == Status::kMatch ? "" : "recorded values differ: " + *a + " against " + *b;
  } else {
    r.status = Status::kIncompatible;
    r.reason = a ? "a recorded value (" + *a + ") against a tensor" : "a tensor against a recorded value (" + *b + ")";
  }
  return true;
}

}  // namespace tensordiff
