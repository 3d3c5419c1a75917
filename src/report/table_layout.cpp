#include "report/table_layout.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

namespace tensordiff {

size_t display_width(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {  // CSI ... m
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((c & 0xc0) != 0x80) ++w;  // not a UTF-8 continuation byte
  }
  return w;
}

std::string pad_to(const std::string& s, size_t w, bool right) {
  const size_t n = display_width(s);
  if (n >= w) return s;
  return right ? std::string(w - n, ' ') + s : s + std::string(w - n, ' ');
}

Layout fit_columns(const std::vector<Column>& cols, size_t name_index, size_t name_max, size_t name_min,
                   size_t width, size_t fixed) {
  Layout l;
  l.shown.assign(cols.size(), true);
  l.name_width = name_max;
  if (width == 0) return l;
  auto total = [&] {
    size_t t = fixed;
    for (size_t i = 0; i < cols.size(); ++i)
      if (l.shown[i]) t += (i == name_index ? l.name_width : cols[i].width) + 2;
    return t;
  };
  const size_t comfortable = std::max(name_min, std::min<size_t>(name_max, 28));
  auto shrink_name = [&](size_t floor) {
    const size_t t = total();
    if (t > width) l.name_width = std::max(floor, l.name_width - std::min(l.name_width - floor, t - width));
  };
  shrink_name(comfortable);
  int max_drop = 0;
  for (const auto& c : cols) max_drop = std::max(max_drop, c.drop);
  for (int d = 1; d <= max_drop && total() > width; ++d)
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i].drop == d) l.shown[i] = false;
  shrink_name(name_min);
  return l;
}

namespace {

bool is_number(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

std::string shorten_name(const std::string& name, size_t w, const std::vector<bool>& protect, bool cut) {
  if (display_width(name) <= w || w < 6) return name;
  std::vector<std::string> parts;
  std::vector<char> seps;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i)
    if (i == name.size() || name[i] == '.' || name[i] == '/') {
      parts.push_back(name.substr(start, i - start));
      if (i < name.size()) seps.push_back(name[i]);
      start = i + 1;
    }
  const size_t n = parts.size();
  std::vector<bool> keep(n, false), gone(n, false);
  // Kept whole: numbers and short words that end in one (rank0, step3, h0), the word before a
  // number (layers.7), and the last two components. Long words with digits inside
  // (dense_4h_to_h) stay shortenable, or they crowd out the numbers that tell rows apart.
  auto has_digit = [](const std::string& x) {
    return is_number(x) || (!x.empty() && x.size() <= 8 && std::isdigit(static_cast<unsigned char>(x.back())));
  };
  for (size_t i = 0; i < n; ++i)
    if (has_digit(parts[i]) || (i + 1 < n && is_number(parts[i + 1])) || i + 2 >= n ||
        (i < protect.size() && protect[i]))
      keep[i] = true;
  // Removed components leave one "…" per run.
  auto render = [&] {
    std::string out;
    bool ellipsis = false;
    for (size_t i = 0; i < n; ++i) {
      if (gone[i]) {
        if (!ellipsis) out += (out.empty() ? "" : std::string(1, seps[i - 1])) + "\u2026";
        ellipsis = true;
        continue;
      }
      if (!out.empty() && !ellipsis) out += seps[i - 1];  // "…" stands for the separator too
      out += parts[i];
      ellipsis = false;
    }
    return out;
  };
  // 1. The other components shrink to their first letter, from the left; 2. then they go,
  // from the left; 3. then the words before numbers shrink too.
  for (size_t i = 0; i < n && display_width(render()) > w; ++i)
    if (!keep[i] && parts[i].size() > 1) parts[i] = parts[i].substr(0, 1);
  for (size_t i = 0; i < n && display_width(render()) > w; ++i)
    if (!keep[i]) gone[i] = true;
  for (size_t i = 0; i + 2 < n && display_width(render()) > w; ++i)
    if (!has_digit(parts[i]) && parts[i].size() > 1 && !(i < protect.size() && protect[i]))
      parts[i] = parts[i].substr(0, 1);
  const std::string s = render();
  if (display_width(s) <= w || !cut) return s;
  // 4. Cut the middle.
  const size_t keep_n = w - 1, head = keep_n / 2, tail = keep_n - head;
  return name.substr(0, head) + "\u2026" + name.substr(name.size() - tail);
}

namespace {
std::vector<std::string> components(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i)
    if (i == name.size() || name[i] == '.' || name[i] == '/') {
      parts.push_back(name.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}
}  // namespace

std::vector<std::string> shorten_names(const std::vector<std::string>& names, size_t w) {
  std::vector<std::string> out(names.size());
  std::unordered_map<std::string, std::vector<size_t>> by_short;
  for (size_t i = 0; i < names.size(); ++i) {
    out[i] = shorten_name(names[i], w);
    if (out[i] != names[i]) by_short[out[i]].push_back(i);
  }
  // A shortened name may also equal another row's full name.
  std::unordered_set<std::string> full(names.begin(), names.end());
  for (auto& [shortened, rows] : by_short) {
    std::unordered_set<std::string> distinct;
    for (size_t i : rows) distinct.insert(names[i]);
    if (distinct.size() < 2 && !full.count(shortened)) continue;
    // Protect the component positions at which the group's names differ (or some name ends):
    // one pass over the group per position, not every pair of its names.
    std::vector<std::vector<std::string>> parts;
    size_t longest = 0, shortest = SIZE_MAX;
    for (size_t i : rows) {
      parts.push_back(components(names[i]));
      longest = std::max(longest, parts.back().size());
      shortest = std::min(shortest, parts.back().size());
    }
    std::vector<bool> protect(longest, false);
    for (size_t k = 0; k < longest; ++k) {
      if (k >= shortest) {
        protect[k] = true;
        continue;
      }
      for (const auto& p : parts)
        if (p[k] != parts[0][k]) {
          protect[k] = true;
          break;
        }
    }
    std::unordered_set<std::string> seen;
    bool clash = false;
    std::vector<std::string> again(rows.size());
    for (size_t x = 0; x < rows.size(); ++x) {
      again[x] = shorten_name(names[rows[x]], w, protect, false);
      clash = clash || (again[x] != names[rows[x]] && (full.count(again[x]) || !seen.insert(again[x]).second));
    }
    for (size_t x = 0; x < rows.size(); ++x) out[rows[x]] = clash ? names[rows[x]] : again[x];
  }
  // Last guard, across groups: any two rows still alike print in full.
  std::unordered_map<std::string, size_t> first_row;
  for (size_t i = 0; i < out.size(); ++i) {
    const auto [it, fresh] = first_row.emplace(out[i], i);
    if (!fresh && names[it->second] != names[i]) {
      out[i] = names[i];
      out[it->second] = names[it->second];
    }
  }
  return out;
}

std::string wrap(const std::string& text, size_t width, size_t indent) {
  if (width == 0 || display_width(text) <= width) return text;
  std::string out, line;
  size_t start = 0;
  auto flush = [&] {
    out += (out.empty() ? "" : "\n" + std::string(indent, ' ')) + line;
    line.clear();
  };
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    const size_t room = width - (out.empty() ? 0 : indent);
    if (!line.empty() && display_width(line) + 1 + display_width(word) > room) flush();
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  if (!line.empty()) flush();
  return out;
}

}  // namespace tensordiff
