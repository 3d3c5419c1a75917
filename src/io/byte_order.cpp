#include "io/byte_order.hpp"

#include <cstring>
#include <utility>

#include "io/decode.hpp"

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

namespace decode {
namespace {
struct Tables {
  double f16[65536], bf16[65536], e4m3[256], e5m2[256];
  Tables() {
    for (uint32_t i = 0; i < 65536; ++i) {
      f16[i] = f16_to_double(static_cast<uint16_t>(i));
      bf16[i] = bf16_to_double(static_cast<uint16_t>(i));
    }
    for (uint32_t i = 0; i < 256; ++i) {
      e4m3[i] = e4m3_to_double(static_cast<uint8_t>(i));
      e5m2[i] = e5m2_to_double(static_cast<uint8_t>(i));
    }
  }
};
const Tables& tables() {
  static const Tables* t = new Tables();  // never freed: used until exit by worker threads
  return *t;
}
}  // namespace
const double* f16_table() { return tables().f16; }
const double* bf16_table() { return tables().bf16; }
const double* e4m3_table() { return tables().e4m3; }
const double* e5m2_table() { return tables().e5m2; }
}  // namespace decode

}  // namespace tensordiff
