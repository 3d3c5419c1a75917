#include "engine/tolerance.hpp"

#include <algorithm>
#include <cstdlib>

#include "engine/precision.hpp"

#include "tensordiff/error.hpp"

namespace tensordiff {

Tolerance default_tolerance(DType a, DType b) {
  const DType t = dtype_precision_rank(a) <= dtype_precision_rank(b) ? a : b;
  switch (t) {
    case DType::kF64: return {1e-7, 1e-7};
    case DType::kF32: return {1.3e-6, 1e-5};
    case DType::kF16: return {1e-3, 1e-5};
    case DType::kBF16: return {1.6e-2, 1e-5};
    // float8: rtol is the format's machine epsilon (2^-3 and 2^-2), as torch has no default.
    case DType::kF8E4M3: return {0.125, 1e-5};
    case DType::kF8E5M2: return {0.25, 1e-5};
    default: return {0, 0};
  }
}

Tolerance resolve_tolerance(const std::string& name, DType a, DType b, Precision run,
                            const CompareOptions& o) {
  if (o.exact) return {0, 0};
  Tolerance t = default_tolerance(a, b);
  if ((dtype_is_float(a) || dtype_is_float(b)) && run != Precision::kAuto) {
    const Tolerance r = precision_tolerance(run);
    t = {std::max(t.rtol, r.rtol), std::max(t.atol, r.atol)};
  }
  if (o.rtol) t.rtol = *o.rtol;
  if (o.atol) t.atol = *o.atol;
  for (const auto& rule : o.tol_rules) {
    if (!glob_match(rule.glob, name)) continue;
    if (rule.rtol) t.rtol = *rule.rtol;
    if (rule.atol) t.atol = *rule.atol;
  }
  return t;
}

namespace {
// One character class "[...]" (with ranges and a leading '!' or '^') starting at pattern[p];
// sets `end` past it. An unterminated '[' matches itself.
bool class_match(const std::string& pattern, size_t p, char c, size_t& end) {
  size_t i = p + 1;
  const bool negate = i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^');
  if (negate) ++i;
  bool found = false;
  const size_t first = i;
  for (; i < pattern.size() && (pattern[i] != ']' || i == first); ++i) {
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      found = found || (pattern[i] <= c && c <= pattern[i + 2]);
      i += 2;
    } else {
      found = found || pattern[i] == c;
    }
  }
  if (i >= pattern.size()) {  // no closing ']'
    end = p + 1;
    return c == '[';
  }
  end = i + 1;
  return found != negate;
}
}  // namespace

// Shell-style glob where '*' also crosses '/'. The classic greedy matcher with one saved star
// position: O(len(pattern) * len(name)) at worst, whatever the pattern (fnmatch backtracks
// exponentially on patterns like '*a*a*a*a*b').
bool glob_match(const std::string& pattern, const std::string& name) {
  size_t p = 0, n = 0, star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
      continue;
    }
    if (p < pattern.size()) {
      size_t next = p + 1;
      bool ok;
      if (pattern[p] == '?') ok = true;
      else if (pattern[p] == '[') ok = class_match(pattern, p, name[n], next);
      else if (pattern[p] == '\\' && p + 1 < pattern.size()) ok = pattern[++next - 1] == name[n];
      else ok = pattern[p] == name[n];
      if (ok) {
        p = next;
        ++n;
        continue;
      }
    }
    if (star == std::string::npos) return false;
    p = star + 1;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {
double parse_nonneg(const std::string& spec, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= 0))
    throw Error(ErrorCode::kUsage, "--tol '" + spec + "': '" + text + "' is not a number >= 0");
  return v;
}
}  // namespace

ToleranceRule parse_tolerance_rule(const std::string& spec) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw Error(ErrorCode::kUsage, "--tol '" + spec + "': expected 'GLOB:rtol=X,atol=Y'");
  ToleranceRule r;
  r.glob = spec.substr(0, colon);
  std::string rest = spec.substr(colon + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    const auto comma = rest.find(',', pos);
    const std::string item = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || (key != "rtol" && key != "atol"))
      throw Error(ErrorCode::kUsage, "--tol '" + spec + "': expected rtol=X or atol=Y, got '" + item + "'");
    (key == "rtol" ? r.rtol : r.atol) = parse_nonneg(spec, item.substr(eq + 1));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return r;
}

}  // namespace tensordiff
