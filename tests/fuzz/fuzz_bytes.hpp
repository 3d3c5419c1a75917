// Reads a fuzz input front to back; past the end every value is zero. A plain sequential
// format (unlike FuzzedDataProvider's) lets tensordiff_fuzz_seeds write well-formed seeds.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tensordiff::fuzz {

class Bytes {
 public:
  Bytes(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint8_t u8() { return n_ ? (--n_, *p_++) : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  std::vector<uint8_t> take(size_t k) {
    k = std::min(k, n_);
    std::vector<uint8_t> v(p_, p_ + k);
    p_ += k;
    n_ -= k;
    return v;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// The writer's side, for the seeds.
struct ByteWriter {
  std::vector<uint8_t> out;
  void u8(unsigned v) { out.push_back(static_cast<uint8_t>(v)); }
  void u16(unsigned v) { u8(v & 0xff); u8(v >> 8); }
  void put(const std::vector<uint8_t>& v) { out.insert(out.end(), v.begin(), v.end()); }
};

}  // namespace tensordiff::fuzz
