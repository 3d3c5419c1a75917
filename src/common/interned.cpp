// InternedString's pool (tensordiff/compact.hpp): one copy of each distinct value, never freed,
// so that the pointers records hold stay valid for the life of the process.
#include <mutex>
#include <unordered_set>

#include "tensordiff/compact.hpp"

namespace tensordiff {

const std::string* InternedString::empty_string() {
  static const std::string empty;
  return &empty;
}

const std::string* InternedString::intern(const std::string& s) {
  if (s.empty()) return empty_string();
  // Leaked on purpose: records in static objects may outlive any pool destroyed at exit.
  static auto* pool = new std::unordered_set<std::string>();
  static auto* m = new std::mutex();
  std::lock_guard<std::mutex> lock(*m);
  return &*pool->insert(s).first;
}

}  // namespace tensordiff
