// Decoding stored elements (little-endian) to float64 on the device, bit for bit as the CPU's
// decode.hpp does, so that GPU and CPU see the same values.
#pragma once
#include <cstdint>

#include "tensordiff/dtype.hpp"

namespace tensordiff::cuda {

__device__ __forceinline__ double f16_bits_to_double(uint32_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v;
  if (exp == 0) v = ldexp(static_cast<double>(man), -24);
  else if (exp == 31) v = man ? __longlong_as_double(0x7ff8000000000000ll) : __longlong_as_double(0x7ff0000000000000ll);
  else v = ldexp(static_cast<double>(man | 0x400), exp - 25);
  return sign ? -v : v;
}

__device__ __forceinline__ double e4m3_bits_to_double(uint32_t x) {
  const int sign = x >> 7, exp = (x >> 3) & 0xf, man = x & 7;
  if (exp == 15 && man == 7) return __longlong_as_double(0x7ff8000000000000ll);
  const double v = exp == 0 ? ldexp(static_cast<double>(man), -9)
                            : ldexp(static_cast<double>(man | 8), exp - 10);
  return sign ? -v : v;
}

template <typename T>
__device__ __forceinline__ T load_le(const uint8_t* p) {
  T v;
  memcpy(&v, p, sizeof(T));
  return v;
}

__device__ __forceinline__ double decode(DType t, const uint8_t* p) {
  switch (t) {
    case DType::kF64: return load_le<double>(p);
    case DType::kF32: return load_le<float>(p);
    case DType::kF16: return f16_bits_to_double(load_le<uint16_t>(p));
    case DType::kBF16: return __uint_as_float(static_cast<uint32_t>(load_le<uint16_t>(p)) << 16);
    case DType::kF8E4M3: return e4m3_bits_to_double(*p);
    case DType::kF8E5M2: return f16_bits_to_double(static_cast<uint32_t>(*p) << 8);
    case DType::kI8: return load_le<int8_t>(p);
    case DType::kI16: return load_le<int16_t>(p);
    case DType::kI32: return load_le<int32_t>(p);
    case DType::kI64: return static_cast<double>(load_le<int64_t>(p));
    case DType::kU8: case DType::kBool: return *p;
    case DType::kU16: return load_le<uint16_t>(p);
    case DType::kU32: return load_le<uint32_t>(p);
    case DType::kU64: return static_cast<double>(load_le<uint64_t>(p));
  }
  return 0;
}

__device__ __forceinline__ bool dtype_is_float_dev(DType t) {
  return t == DType::kF64 || t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 ||
         t == DType::kF8E4M3 || t == DType::kF8E5M2;
}

// Raw bits of one element, zero-extended (bits_differ and ULP distance).
__device__ __forceinline__ uint64_t raw_bits(const uint8_t* p, uint32_t es) {
  uint64_t v = 0;
  memcpy(&v, p, es);
  return v;
}

}  // namespace tensordiff::cuda
