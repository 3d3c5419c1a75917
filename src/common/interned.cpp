// The pools of InternedString and Shape (tensordiff/compact.hpp): the live copy of each
// distinct value, keyed by a pointer to that copy (hashed and compared by content), so that
// records made at once share one copy and a value leaves its pool with its last record.
#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "tensordiff/compact.hpp"

namespace tensordiff {

namespace {

size_t hash_of(const std::string& s) { return std::hash<std::string_view>()(s); }
size_t hash_of(const std::vector<uint64_t>& v) {
  size_t h = 1469598103934665603ull ^ v.size();
  for (uint64_t d : v) h = (h ^ d) * 1099511628211ull;
  return h;
}

template <class T>
struct Pool {
  struct Hash {
    size_t operator()(const T* v) const { return hash_of(*v); }
  };
  struct Equal {
    bool operator()(const T* x, const T* y) const { return *x == *y; }
  };
  std::mutex m;
  std::unordered_map<const T*, SharedBlock<T>*, Hash, Equal> live;  // keys: the blocks' own values
};

// Leaked on purpose: records in static objects may outlive any pool destroyed at exit.
template <class T>
Pool<T>& pool() {
  static Pool<T>* p = new Pool<T>();
  return *p;
}

template <class T>
SharedBlock<T>* pooled_copy(const T& v) {
  Pool<T>& p = pool<T>();
  std::lock_guard<std::mutex> lock(p.m);
  auto it = p.live.find(&v);
  if (it != p.live.end()) {
    SharedBlock<T>* b = it->second;
    // Revived only while referenced: a count of 0 is a block its last holder is freeing.
    uint32_t n = b->refs.load(std::memory_order_relaxed);
    while (n != 0 && !b->refs.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) {
    }
    if (n != 0) return b;
    p.live.erase(it);  // its holder's leave_pool finds the new block under this key and leaves it
  }
  auto* made = new SharedBlock<T>(v, true);
  p.live.emplace(&made->value, made);
  return made;
}

// A few values this thread interned last, each with the cache's own reference: a listing
// repeats its dtypes, layouts and shapes dataset after dataset, and these are found without
// the pool's lock (a decode of 10^6 datasets took 1.2 us each with the lock every time, 0.4
// without interning).
template <class T>
struct Recent {
  static constexpr size_t kSize = 8;
  SharedBlock<T>* held[kSize] = {};
  size_t next = 0;
  ~Recent() {
    for (auto* b : held) release_block(b);
  }
};

}  // namespace

template <class T>
SharedBlock<T>* intern_block(const T& v) {
  thread_local Recent<T> recent;
  for (SharedBlock<T>* b : recent.held)
    if (b && b->value == v) {
      hold_block(b);
      return b;
    }
  SharedBlock<T>* found = pooled_copy(v);
  hold_block(found);
  release_block(recent.held[recent.next]);
  recent.held[recent.next] = found;
  recent.next = (recent.next + 1) % Recent<T>::kSize;
  return found;
}

template <class T>
void leave_pool(SharedBlock<T>* b) {
  Pool<T>& p = pool<T>();
  std::lock_guard<std::mutex> lock(p.m);
  auto it = p.live.find(&b->value);
  if (it != p.live.end() && it->second == b) p.live.erase(it);
}

template <class T>
size_t pooled_values() {
  Pool<T>& p = pool<T>();
  std::lock_guard<std::mutex> lock(p.m);
  return p.live.size();
}

template SharedBlock<std::string>* intern_block(const std::string&);
template void leave_pool(SharedBlock<std::string>*);
template size_t pooled_values<std::string>();
template SharedBlock<std::vector<uint64_t>>* intern_block(const std::vector<uint64_t>&);
template void leave_pool(SharedBlock<std::vector<uint64_t>>*);
template size_t pooled_values<std::vector<uint64_t>>();

const std::string& SharedString::empty_string() {
  static const std::string* empty = new std::string();
  return *empty;
}

const std::vector<uint64_t>& Shape::empty_dims() {
  static const std::vector<uint64_t>* empty = new std::vector<uint64_t>();
  return *empty;
}

}  // namespace tensordiff
