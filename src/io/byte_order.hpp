#pragma once
#include <cstddef>
#include <cstdint>

namespace tensordiff {
// Reverses the bytes of each of `count` elements of `elem_size` bytes (big- to little-endian).
void swap_bytes_inplace(uint8_t* data, size_t count, size_t elem_size);
}  // namespace tensordiff
