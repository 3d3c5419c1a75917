// Exact conversion of stored elements (already in little-endian byte order) to float64.
// Header-only so that the SIMD backend compiles these loops for every target it dispatches to.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "tensordiff/dtype.hpp"

namespace tensordiff::decode {

inline double f16_to_double(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(static_cast<double>(man), -24);
  } else if (exp == 31) {
    v = man ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(static_cast<double>(man | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

inline double bf16_to_double(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// float8_e4m3fn (OCP / torch.float8_e4m3fn): bias 7, no infinities, S.1111.111 is NaN.
inline double e4m3_to_double(uint8_t x) {
  const int sign = x >> 7, exp = (x >> 3) & 0xf, man = x & 7;
  double v;
  if (exp == 15 && man == 7) return std::numeric_limits<double>::quiet_NaN();
  if (exp == 0) v = std::ldexp(static_cast<double>(man), -9);
  else v = std::ldexp(static_cast<double>(man | 8), exp - 10);
  return sign ? -v : v;
}

// float8_e5m2: IEEE-like, bias 15, with infinities and NaNs.
inline double e5m2_to_double(uint8_t x) {
  const uint16_t h = static_cast<uint16_t>(x) << 8;  // e5m2 is the top byte of a float16
  return f16_to_double(h);
}

// Lookup tables for the narrow float types (built once, shared by all threads).
const double* f16_table();   // 65536 entries
const double* bf16_table();  // 65536 entries
const double* e4m3_table();  // 256 entries
const double* e5m2_table();  // 256 entries

template <typename T>
inline void load_as_double(const uint8_t* src, size_t n, double* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<double>(v);
  }
}

template <typename T>
inline void lookup_as_double(const uint8_t* src, size_t n, const double* table, double* dst) {
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = table[v];
  }
}

// Decodes n elements of type t starting at src into dst.
inline void to_double(DType t, const uint8_t* src, size_t n, double* dst) {
  switch (t) {
    case DType::kF64: load_as_double<double>(src, n, dst); break;
    case DType::kF32: load_as_double<float>(src, n, dst); break;
    case DType::kF16: lookup_as_double<uint16_t>(src, n, f16_table(), dst); break;
    case DType::kBF16: {
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        dst[i] = f;
      }
      break;
    }
    case DType::kF8E4M3: lookup_as_double<uint8_t>(src, n, e4m3_table(), dst); break;
    case DType::kF8E5M2: lookup_as_double<uint8_t>(src, n, e5m2_table(), dst); break;
    case DType::kI8: load_as_double<int8_t>(src, n, dst); break;
    case DType::kI16: load_as_double<int16_t>(src, n, dst); break;
    case DType::kI32: load_as_double<int32_t>(src, n, dst); break;
    case DType::kI64: load_as_double<int64_t>(src, n, dst); break;
    case DType::kU8: load_as_double<uint8_t>(src, n, dst); break;
    case DType::kU16: load_as_double<uint16_t>(src, n, dst); break;
    case DType::kU32: load_as_double<uint32_t>(src, n, dst); break;
    case DType::kU64: load_as_double<uint64_t>(src, n, dst); break;
    case DType::kBool:  // h5py's enum {FALSE 0, TRUE 1}; any other byte reads as its value
      load_as_double<uint8_t>(src, n, dst);
      break;
  }
}

}  // namespace tensordiff::decode
