// The lookup tables of decode.hpp for the narrow float types, filled by core/element.hpp's
// decoders: a table entry is the decoder's value, bit for bit.
#include "core/decode.hpp"

namespace tensordiff {

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
