// Exact conversion of runs of stored elements (already in little-endian byte order) to
// float64, for host code: one element's decoders are core/element.hpp's, which the tables
// below are built from and the bfloat16 loop inlines. Header-only so that the SIMD backend
// compiles these loops for every target it dispatches to.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/element.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff::decode {

// Lookup tables for the narrow float types (built once from the decoders, shared by all
// threads): one load instead of a few branches per element.
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
        dst[i] = bf16_to_double(h);
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
