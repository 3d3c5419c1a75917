// The checksum of docs/design.md §4: one definition for every backend.
#pragma once
#include <cstdint>

#include "core/host_device.hpp"

namespace tensordiff {

TD_HD inline uint64_t splitmix64_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// The term of word w_j (j from 0): sums of terms over any split of the words add up mod 2^64.
TD_HD inline uint64_t checksum_term(uint64_t word, uint64_t j) {
  return splitmix64_mix(word + kGolden * (j + 1));
}

TD_HD inline uint64_t finalize_checksum(uint64_t word_sum, uint64_t byte_count) {
  return splitmix64_mix(word_sum ^ byte_count);
}

}  // namespace tensordiff
