#include "io/byte_order.hpp"

#include <cstring>
#include <utility>

namespace tensordiff {

namespace {
template <typename U, U (*kSwap)(U)>
void swap_all(uint8_t* data, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    U v;
    std::memcpy(&v, data + sizeof(U) * i, sizeof(U));
    v = kSwap(v);
    std::memcpy(data + sizeof(U) * i, &v, sizeof(U));
  }
}
uint16_t bswap16(uint16_t v) { return __builtin_bswap16(v); }
uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }
}  // namespace

void swap_bytes_inplace(uint8_t* data, size_t count, size_t elem_size) {
  switch (elem_size) {
    case 1: return;
    case 2: return swap_all<uint16_t, bswap16>(data, count);
    case 4: return swap_all<uint32_t, bswap32>(data, count);
    case 8: return swap_all<uint64_t, bswap64>(data, count);
    default:
      for (size_t i = 0; i < count; ++i) {
        uint8_t* p = data + i * elem_size;
        for (size_t j = 0; j < elem_size / 2; ++j) std::swap(p[j], p[elem_size - 1 - j]);
      }
  }
}

}  // namespace tensordiff
