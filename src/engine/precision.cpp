#include "engine/precision.hpp"

namespace tensordiff {

namespace {
struct Row {
  Precision p;
  const char* name;
  double u;      // unit roundoff: half the gap between 1 and the next number
  Tolerance tol; // torch.testing's defaults (fp8: the format's epsilon, as torch has none)
  int rank;      // larger is more precise
};
constexpr Row kRows[] = {
    {Precision::kFp64, "fp64", 0x1p-53, {1e-7, 1e-7}, 6},
    {Precision::kFp32, "fp32", 0x1p-24, {1.3e-6, 1e-5}, 5},
    {Precision::kTf32, "tf32", 0x1p-11, {1e-3, 1e-5}, 4},
    {Precision::kFp16, "fp16", 0x1p-11, {1e-3, 1e-5}, 3},
    {Precision::kBf16, "bf16", 0x1p-8, {1.6e-2, 1e-5}, 2},
    {Precision::kFp8, "fp8", 0x1p-4, {0.125, 1e-5}, 1},
};
const Row& row(Precision p) {
  for (const auto& r : kRows)
    if (r.p == p) return r;
  return kRows[1];
}
}  // namespace

const char* precision_name(Precision p) { return p == Precision::kAuto ? "auto" : row(p).name; }

std::optional<Precision> precision_from_name(const std::string& name) {
  for (const auto& r : kRows)
    if (name == r.name) return r.p;
  if (name == "auto") return Precision::kAuto;
  return std::nullopt;
}

double unit_roundoff(Precision p) { return row(p).u; }

Tolerance precision_tolerance(Precision p) { return row(p).tol; }

std::optional<Precision> precision_of(DType t) {
  switch (t) {
    case DType::kF64: return Precision::kFp64;
    case DType::kF32: return Precision::kFp32;
    case DType::kF16: return Precision::kFp16;
    case DType::kBF16: return Precision::kBf16;
    case DType::kF8E4M3: case DType::kF8E5M2: return Precision::kFp8;
    default: return std::nullopt;
  }
}

Precision least_precise(const std::vector<DType>& dtypes) {
  std::optional<Precision> least;
  for (DType t : dtypes) {
    const auto p = precision_of(t);
    if (p && (!least || row(*p).rank < row(*least).rank)) least = p;
  }
  return least.value_or(Precision::kFp32);
}

}  // namespace tensordiff
