// InternedString's pool (tensordiff/compact.hpp): weak references to the live copy of each
// distinct value, so that records made at once share one copy and a value goes with its last
// record. Expired entries are dropped whenever the pool has doubled since the last sweep.
#include <algorithm>
#include <iterator>
#include <mutex>
#include <unordered_map>

#include "tensordiff/compact.hpp"

namespace tensordiff {

namespace {

struct Pool {
  std::mutex m;
  std::unordered_map<std::string, std::weak_ptr<const std::string>> live;
  size_t swept_at = 1024;  // sweep when the pool holds this many entries
};

// Leaked on purpose: records in static objects may outlive any pool destroyed at exit.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

const std::string& InternedString::empty_string() {
  static const std::string* empty = new std::string();
  return *empty;
}

std::shared_ptr<const std::string> InternedString::intern(const std::string& s) {
  if (s.empty()) return nullptr;
  // The values a listing repeats (its dtypes and layouts) come back dataset after dataset: a
  // few recent ones per thread are found without the pool's lock (a decode of 10^6 datasets
  // took 1.2 us each with the lock every time, 0.4 without interning). What the cache holds
  // stays alive until pushed out: eight values per thread.
  constexpr size_t kRecent = 8;
  thread_local std::shared_ptr<const std::string> recent[kRecent];
  thread_local size_t next = 0;
  for (const auto& r : recent)
    if (r && *r == s) return r;
  auto found = pooled_copy(s);
  recent[next] = found;
  next = (next + 1) % kRecent;
  return found;
}

std::shared_ptr<const std::string> InternedString::pooled_copy(const std::string& s) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.m);
  auto& slot = p.live[s];
  if (auto alive = slot.lock()) return alive;
  auto made = std::make_shared<const std::string>(s);
  slot = made;
  if (p.live.size() >= p.swept_at) {
    for (auto it = p.live.begin(); it != p.live.end();) it = it->second.expired() ? p.live.erase(it) : std::next(it);
    p.swept_at = std::max<size_t>(1024, 2 * p.live.size());
  }
  return made;
}

size_t InternedString::pooled() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.m);
  size_t n = 0;
  for (const auto& [value, w] : p.live) n += !w.expired();
  return n;
}

}  // namespace tensordiff
