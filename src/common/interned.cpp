// InternedString's pool (tensordiff/compact.hpp): the live copy of each distinct value, keyed by
// a view of the copy itself, so that records made at once share one copy and a value leaves the
// pool with its last record.
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "tensordiff/compact.hpp"

namespace tensordiff {

namespace {

struct Pool {
  std::mutex m;
  std::unordered_map<std::string_view, void*> live;  // a view of each block's own string
};

// Leaked on purpose: records in static objects may outlive any pool destroyed at exit.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

}  // namespace

const std::string& SharedString::empty_string() {
  static const std::string* empty = new std::string();
  return *empty;
}

// The last reference is gone: a lookup that finds this block now sees no references and replaces
// it rather than reviving it (pooled_copy), so nothing can hold it any more.
void InternedString::leave_pool(Block* b) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.m);
  auto it = p.live.find(b->s);
  if (it != p.live.end() && it->second == b) p.live.erase(it);
}

InternedString::Block* InternedString::intern(const std::string& s) {
  if (s.empty()) return nullptr;
  // The values a listing repeats (its dtypes and layouts) come back dataset after dataset: a
  // few recent ones per thread are found without the pool's lock (a decode of 10^6 datasets
  // took 1.2 us each with the lock every time, 0.4 without interning). What the cache holds
  // stays alive until pushed out: eight values per thread.
  constexpr size_t kRecent = 8;
  thread_local InternedString recent[kRecent];
  thread_local size_t next = 0;
  for (const InternedString& r : recent)
    if (r.p_ && r.p_->s == s) {
      hold(r.p_);
      return r.p_;
    }
  Block* found = pooled_copy(s);
  hold(found);
  recent[next] = InternedString(found);  // the cache's own reference
  next = (next + 1) % kRecent;
  return found;
}

InternedString::Block* InternedString::pooled_copy(const std::string& s) {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.m);
  auto it = p.live.find(s);
  if (it != p.live.end()) {
    Block* b = static_cast<Block*>(it->second);
    // Revived only while referenced: a count of 0 is a block its last holder is freeing.
    uint32_t n = b->refs.load(std::memory_order_relaxed);
    while (n != 0 && !b->refs.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) {
    }
    if (n != 0) return b;
    p.live.erase(it);  // its holder's release finds the new block under this key and leaves it
  }
  Block* made = new Block(s, true);
  p.live.emplace(made->s, made);
  return made;
}

size_t InternedString::pooled() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.m);
  return p.live.size();
}

}  // namespace tensordiff
