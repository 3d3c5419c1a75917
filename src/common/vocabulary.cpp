// The ground floor (docs/design.md §3): the public vocabulary every layer uses — dtypes, error
// names, multi-indices, report status names and the version — defined once, below the core.
#include "tensordiff/dtype.hpp"

#include "tensordiff/error.hpp"
#include "tensordiff/report.hpp"
#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

namespace {
struct DTypeRow {
  DType type;
  const char* name;
  size_t size;
  bool is_float;
  int rank;  // precision rank for default tolerances
};
// Integers and bool compare exactly, so they rank above every float.
constexpr DTypeRow kRows[] = {
    {DType::kF64, "float64", 8, true, 60},     {DType::kF32, "float32", 4, true, 50},
    {DType::kF16, "float16", 2, true, 40},     {DType::kBF16, "bfloat16", 2, true, 30},
    {DType::kF8E4M3, "float8_e4m3fn", 1, true, 20}, {DType::kF8E5M2, "float8_e5m2", 1, true, 10},
    {DType::kI8, "int8", 1, false, 100},       {DType::kI16, "int16", 2, false, 100},
    {DType::kI32, "int32", 4, false, 100},     {DType::kI64, "int64", 8, false, 100},
    {DType::kU8, "uint8", 1, false, 100},      {DType::kU16, "uint16", 2, false, 100},
    {DType::kU32, "uint32", 4, false, 100},    {DType::kU64, "uint64", 8, false, 100},
    {DType::kBool, "bool", 1, false, 100},
};
const DTypeRow& row(DType t) { return kRows[static_cast<int>(t)]; }
}  // namespace

size_t dtype_size(DType t) { return row(t).size; }
const char* dtype_name(DType t) { return row(t).name; }
bool dtype_is_float(DType t) { return row(t).is_float; }
int dtype_precision_rank(DType t) { return row(t).rank; }

std::optional<DType> dtype_from_name(const std::string& name) {
  for (const auto& r : kRows)
    if (name == r.name) return r.type;
  if (name == "float8_e4m3" || name == "e4m3") return DType::kF8E4M3;
  if (name == "e5m2") return DType::kF8E5M2;
  if (name == "bf16") return DType::kBF16;
  return std::nullopt;
}

std::vector<uint64_t> unravel_index(uint64_t flat, const std::vector<uint64_t>& shape) {
  std::vector<uint64_t> idx(shape.size(), 0);
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0) break;
    idx[i] = flat % shape[i];
    flat /= shape[i];
  }
  return idx;
}

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kNotHdf5: return "not_hdf5";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kOutOfMemory: return "out_of_memory";
    case ErrorCode::kNoBackend: return "no_backend";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

const char* version() { return TENSORDIFF_VERSION; }

const char* status_name(Status s) {
  switch (s) {
    case Status::kMatch: return "match";
    case Status::kMismatch: return "mismatch";
    case Status::kOnlyInA: return "only_in_a";
    case Status::kOnlyInB: return "only_in_b";
    case Status::kIncompatible: return "incompatible";
    case Status::kConsistent: return "consistent";
    case Status::kError: return "error";
  }
  return "?";
}

}  // namespace tensordiff
