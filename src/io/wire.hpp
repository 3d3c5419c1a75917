// A minimal binary encoding for messages between the engine and its HDF5 helper process:
// little-endian integers, length-prefixed strings and byte runs. The reader checks every length
// against what is left, so a short or garbled message is an error, never an overread.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace tensordiff::wire {

class Writer {
 public:
  void u8(uint8_t v) { buf_.push_back(v); }
  // Bytes as they are (no length): one encoded message appended to another.
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  void clear() { buf_.clear(); }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void bytes(const void* p, size_t n) {
    u64(n);
    const auto* b = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }
  void str(const std::string& s) { bytes(s.data(), s.size()); }
  void u64s(const std::vector<uint64_t>& v) {
    u64(v.size());
    for (auto x : v) u64(x);
  }
  std::vector<uint8_t>& data() { return buf_; }

 private:
  std::vector<uint8_t> buf_;
};

struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(p_[i]) << (8 * i);
    p_ += 8;
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  std::string str() {
    const uint64_t n = u64();
    need(n);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::vector<uint8_t> bytes() {
    const uint64_t n = u64();
    need(n);
    std::vector<uint8_t> v(p_, p_ + n);
    p_ += n;
    return v;
  }
  std::vector<uint64_t> u64s() {
    const uint64_t n = u64();
    if (n > left() / 8) throw WireError("truncated message");
    std::vector<uint64_t> v(n);
    for (auto& x : v) x = u64();
    return v;
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  void need(uint64_t n) const {
    if (n > left()) throw WireError("truncated message");
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace tensordiff::wire
