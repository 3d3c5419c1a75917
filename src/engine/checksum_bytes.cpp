// The checksum of docs/design.md §4 over bytes in memory, alone: the capture package's alias
// records (one per tensor written) need the checksum and nothing else, and the full summary
// pass costs 3-4x as much.
#include <cstring>

#include "core/checksum.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

uint64_t checksum_bytes(const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  const uint64_t words = bytes / 8;
  // Four independent sums: the multiplies of one term do not wait for the previous term's.
  uint64_t h[4] = {0, 0, 0, 0};
  uint64_t j = 0;
  for (; j + 4 <= words; j += 4)
    for (unsigned k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + 8 * (j + k), 8);  // little-endian hosts only (docs/design.md §6)
      h[k] += checksum_term(w, j + k);
    }
  for (; j < words; ++j) {
    uint64_t w;
    std::memcpy(&w, p + 8 * j, 8);
    h[0] += checksum_term(w, j);
  }
  if (bytes % 8) {  // the last partial word, zero-padded
    uint64_t w = 0;
    std::memcpy(&w, p + 8 * words, bytes % 8);
    h[0] += checksum_term(w, words);
  }
  return finalize_checksum(h[0] + h[1] + h[2] + h[3], bytes);
}

}  // namespace tensordiff
