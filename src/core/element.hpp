// One stored element's exact float64 value (docs/design.md §4, §5), written once for every
// backend: the CPU's lookup tables and bulk decoding (core/decode.hpp), the CUDA kernels and
// their host emulator (core/leaf_core.hpp) all call these functions, so no two backends can
// convert an element differently. TD_HD: nvcc compiles the same definitions for the device.
//
// A narrow float's decoder reads only the low bits of its argument (16 for float16 and
// bfloat16, 8 for the float8 types): raw bits zero-extended to any width go in as they are.
#pragma once
#include <cstdint>
#include <cstring>
#include <math.h>

#include "core/host_device.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff {

// Bits to float64 and back without aliasing (memcpy compiles to a move, host and device).
TD_HD inline double as_double(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  return d;
}
TD_HD inline uint64_t bits_of(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}
// The NaN every decoder returns (the host's quiet NaN, as bits so that device code has it too;
// a sign applied with `-` stays bit for bit what std::numeric_limits' NaN gave) and +inf.
constexpr uint64_t kQuietNaN = 0x7ff8000000000000ull, kInfBits = 0x7ff0000000000000ull;

namespace decode {

TD_HD inline double f16_to_double(uint32_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v;
  if (exp == 0) v = ldexp(static_cast<double>(man), -24);
  else if (exp == 31) v = as_double(man ? kQuietNaN : kInfBits);
  else v = ldexp(static_cast<double>(man | 0x400), exp - 25);
  return sign ? -v : v;
}

// bfloat16 is the upper half of a float32: exact in float, then in double.
TD_HD inline double bf16_to_double(uint32_t h) {
  const uint32_t bits = h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// float8_e4m3fn (OCP / torch.float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN.
TD_HD inline double e4m3_to_double(uint32_t x) {
  const int sign = (x >> 7) & 1, exp = (x >> 3) & 0xf, man = x & 7;
  if (exp == 15 && man == 7) return as_double(kQuietNaN);
  const double v = exp == 0 ? ldexp(static_cast<double>(man), -9) : ldexp(static_cast<double>(man | 8), exp - 10);
  return sign ? -v : v;
}

// float8_e5m2: IEEE-like, bias 15, with infinities and NaNs: the top byte of a float16.
TD_HD inline double e5m2_to_double(uint32_t x) { return f16_to_double(x << 8); }

// One element's value from its raw little-endian bits (zero-extended to 64), for a dtype known
// at compile time.
template <DType T>
TD_HD inline double decode_fixed(uint64_t r) {
  if constexpr (T == DType::kF64) {
    return as_double(r);
  } else if constexpr (T == DType::kF32) {
    float f;
    const uint32_t u = static_cast<uint32_t>(r);
    memcpy(&f, &u, 4);
    return f;
  } else if constexpr (T == DType::kBF16) {
    return bf16_to_double(static_cast<uint32_t>(r));
  } else if constexpr (T == DType::kF16) {
    return f16_to_double(static_cast<uint32_t>(r));
  } else if constexpr (T == DType::kF8E4M3) {
    return e4m3_to_double(static_cast<uint32_t>(r));
  } else if constexpr (T == DType::kF8E5M2) {
    return e5m2_to_double(static_cast<uint32_t>(r));
  } else if constexpr (T == DType::kI8) {
    return static_cast<int8_t>(r);
  } else if constexpr (T == DType::kI16) {
    return static_cast<int16_t>(r);
  } else if constexpr (T == DType::kI32) {
    return static_cast<int32_t>(r);
  } else if constexpr (T == DType::kI64) {
    return static_cast<double>(static_cast<int64_t>(r));
  } else {
    return static_cast<double>(r);  // u8, u16, u32, u64, bool
  }
}

// The same for a dtype known at run time.
TD_HD inline double decode_raw(DType t, uint64_t r) {
  switch (t) {
    case DType::kF64: return decode_fixed<DType::kF64>(r);
    case DType::kF32: return decode_fixed<DType::kF32>(r);
    case DType::kF16: return decode_fixed<DType::kF16>(r);
    case DType::kBF16: return decode_fixed<DType::kBF16>(r);
    case DType::kF8E4M3: return decode_fixed<DType::kF8E4M3>(r);
    case DType::kF8E5M2: return decode_fixed<DType::kF8E5M2>(r);
    case DType::kI8: return decode_fixed<DType::kI8>(r);
    case DType::kI16: return decode_fixed<DType::kI16>(r);
    case DType::kI32: return decode_fixed<DType::kI32>(r);
    case DType::kI64: return decode_fixed<DType::kI64>(r);
    default: return static_cast<double>(r);  // u8, u16, u32, u64, bool
  }
}

}  // namespace decode
}  // namespace tensordiff
