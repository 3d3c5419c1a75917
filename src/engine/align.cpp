#include "engine/align.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>

namespace tensordiff {

namespace {

struct Signature {
  std::vector<uint64_t> shape;
  int cls = 0;  // 0 float, 1 integer, 2 bool, 3 unsupported (never aligned)
  bool operator==(const Signature& o) const { return cls != 3 && cls == o.cls && shape == o.shape; }
};

Signature signature(const TensorInfo& t) {
  Signature s;
  s.shape = t.shape;
  s.cls = !t.unsupported.empty() ? 3 : dtype_is_float(t.dtype) ? 0 : t.dtype == DType::kBool ? 2 : 1;
  return s;
}

// The pairs every longest common subsequence alignment of x and y makes. The tracebacks that
// prefer a match, skipping in x, or skipping in y give the extreme alignments; every LCS
// alignment lies between them, so a pair all three make is made by every one (when the three
// agree, the alignment is unique and every pair is kept). Where a run could pair either way
// (B has one tensor more of a repeated shape), those tensors stay unpaired and the rest pair.
std::vector<std::pair<size_t, size_t>> agreed_lcs(const std::vector<Signature>& x, const std::vector<Signature>& y,
                                                  bool& too_long) {
  const size_t n = x.size(), m = y.size();
  if (n == 0 || m == 0) return {};
  if (n == m && std::equal(x.begin(), x.end(), y.begin())) {  // the usual case: same layers
    std::vector<std::pair<size_t, size_t>> r;
    for (size_t i = 0; i < n; ++i) r.emplace_back(i, i);
    return r;
  }
  if (n * m > 4'000'000) {  // too long to align: say so rather than guess
    too_long = true;
    return {};
  }
  std::vector<std::vector<uint32_t>> len(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      len[i][j] = x[i] == y[j] ? std::max({len[i + 1][j + 1] + 1, len[i + 1][j], len[i][j + 1]})
                               : std::max(len[i + 1][j], len[i][j + 1]);
  if (len[0][0] == 0) return {};
  auto trace = [&](int prefer) {  // 0: match first, 1: skip in x first, 2: skip in y first
    std::vector<std::pair<size_t, size_t>> r;
    size_t i = 0, j = 0;
    while (i < n && j < m && len[i][j] > 0) {
      const bool can_match = x[i] == y[j] && len[i][j] == len[i + 1][j + 1] + 1;
      const bool can_x = len[i + 1][j] == len[i][j], can_y = len[i][j + 1] == len[i][j];
      if (can_match && (prefer == 0 || (!can_x && !can_y) || (prefer == 1 && !can_x) || (prefer == 2 && !can_y))) {
        r.emplace_back(i++, j++);
      } else if (can_x && (prefer != 2 || !can_y)) {
        ++i;
      } else {
        ++j;
      }
    }
    return r;
  };
  const auto first = trace(0), second = trace(1), third = trace(2);
  std::vector<std::pair<size_t, size_t>> both, all;
  std::set_intersection(first.begin(), first.end(), second.begin(), second.end(), std::back_inserter(both));
  std::set_intersection(both.begin(), both.end(), third.begin(), third.end(), std::back_inserter(all));
  return all;
}

std::vector<std::string> digit_runs(const std::string& s) {
  std::vector<std::string> runs;
  for (size_t i = 0; i < s.size();) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) { ++i; continue; }
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    runs.push_back(s.substr(i, j - i));
    i = j;
  }
  return runs;
}

// Both names with their digit runs replaced: B's by (\d+), A's by $1, $2, ...
std::string templated(const std::string& s, bool is_regex) {
  std::string r;
  int k = 0;
  for (size_t i = 0; i < s.size();) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      r += is_regex ? std::string("(\\d+)") : "$" + std::to_string(++k);
    } else {
      const std::string c(1, s[i++]);
      r += is_regex ? regex_escape(c) : (c == "$" ? "$$" : c);
    }
  }
  return r;
}

}  // namespace

std::string regex_escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) r += '\\';
    r += c;
  }
  return r;
}

OrderAlignment align_by_order(const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b,
                              const std::vector<size_t>& ua, const std::vector<size_t>& ub,
                              const std::vector<std::pair<size_t, size_t>>& anchors) {
  // Segments between anchors: positions in each side's execution order. Anchors whose B
  // positions are not increasing cannot delimit segments; then everything is one segment.
  std::vector<std::pair<size_t, size_t>> cuts;
  bool monotonic = true;
  for (size_t k = 1; k < anchors.size(); ++k)
    if (b[anchors[k].second].order < b[anchors[k - 1].second].order) monotonic = false;
  if (monotonic)
    for (const auto& [ia, ib] : anchors) cuts.emplace_back(a[ia].order, b[ib].order);
  OrderAlignment out;
  size_t pa = 0, pb = 0;
  for (size_t s = 0; s <= cuts.size(); ++s) {
    const uint64_t end_a = s < cuts.size() ? cuts[s].first : UINT64_MAX;
    const uint64_t end_b = s < cuts.size() ? cuts[s].second : UINT64_MAX;
    std::vector<size_t> xa, xb;
    while (pa < ua.size() && a[ua[pa]].order < end_a) xa.push_back(ua[pa++]);
    while (pb < ub.size() && b[ub[pb]].order < end_b) xb.push_back(ub[pb++]);
    std::vector<Signature> sx, sy;
    for (size_t i : xa) sx.push_back(signature(a[i]));
    for (size_t j : xb) sy.push_back(signature(b[j]));
    bool too_long = false;
    const auto pairs = agreed_lcs(sx, sy, too_long);
    out.too_long |= too_long;
    // A segment is ambiguous when tensors of like shape and class stay unpaired on both sides.
    std::vector<bool> used_x(xa.size()), used_y(xb.size());
    for (const auto& [i, j] : pairs) {
      out.pairs.emplace_back(xa[i], xb[j]);
      used_x[i] = used_y[j] = true;
    }
    for (size_t i = 0; i < xa.size() && !too_long; ++i)
      for (size_t j = 0; j < xb.size(); ++j)
        if (!used_x[i] && !used_y[j] && sx[i] == sy[j]) {
          if (!out.ambiguous_example) out.ambiguous_example = std::make_pair(xa[i], xb[j]);
          ++out.ambiguous_segments;
          i = xa.size();
          break;
        }
  }
  return out;
}

std::vector<std::string> suggest_maps(const std::vector<std::pair<std::string, std::string>>& b_to_a) {
  std::map<std::string, size_t> uses;
  for (const auto& [nb, na] : b_to_a) {
    std::string rule;
    if (digit_runs(nb) == digit_runs(na) && !digit_runs(nb).empty())
      rule = "^" + templated(nb, true) + "$=" + templated(na, false);
    else
      rule = "^" + regex_escape(nb) + "$=" + na;
    ++uses[rule];
  }
  std::vector<std::pair<size_t, std::string>> sorted;
  for (const auto& [rule, n] : uses) sorted.emplace_back(n, rule);
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  std::vector<std::string> rules;
  for (const auto& [n, rule] : sorted) rules.push_back(rule);
  return rules;
}

}  // namespace tensordiff
