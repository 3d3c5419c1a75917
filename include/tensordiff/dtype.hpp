// Element types that tensordiff decodes. Every value is converted exactly to float64 before
// arithmetic (int64/uint64 above 2^53 lose low bits: documented in the README).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace tensordiff {

enum class DType : uint8_t {
  kF64, kF32, kF16, kBF16, kF8E4M3, kF8E5M2,
  kI8, kI16, kI32, kI64, kU8, kU16, kU32, kU64,
  kBool,
};

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "bfloat16", "float8_e4m3fn", "int64", "bool", ...
std::optional<DType> dtype_from_name(const std::string& name);
bool dtype_is_float(DType t);

// How precise a dtype is, for choosing default tolerances: larger is more precise;
// integers and bool are exact and rank above every float.
int dtype_precision_rank(DType t);

}  // namespace tensordiff
