#include "engine/precision.hpp"

#include <algorithm>

#include "common/format.hpp"

namespace tensordiff {

namespace {
struct Row {
  Precision p;   // named by precision_name() (common/format.hpp), which the reports use too
  double u;      // unit roundoff: half the gap between 1 and the next number
  Tolerance tol; // torch.testing's defaults (fp8: the format's epsilon, as torch has none)
  int rank;      // larger is more precise
  double sub;    // the gap between subnormals (tf32 stores float32; fp8: E4M3's, the coarser)
};
constexpr Row kRows[] = {
    {Precision::kFp64, 0x1p-53, {1e-7, 1e-7}, 6, 0x1p-1074},
    {Precision::kFp32, 0x1p-24, {1.3e-6, 1e-5}, 5, 0x1p-149},
    {Precision::kTf32, 0x1p-11, {1e-3, 1e-5}, 4, 0x1p-149},
    {Precision::kFp16, 0x1p-11, {1e-3, 1e-5}, 3, 0x1p-24},
    {Precision::kBf16, 0x1p-8, {1.6e-2, 1e-5}, 2, 0x1p-133},
    {Precision::kFp8, 0x1p-4, {0.125, 1e-5}, 1, 0x1p-9},
};
const Row& row(Precision p) {
  for (const auto& r : kRows)
    if (r.p == p) return r;
  return kRows[1];
}
}  // namespace

double unit_roundoff(Precision p) { return row(p).u; }

double subnormal_step(Precision p) { return row(p).sub; }

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

PrecisionChoice choose_precision(const std::vector<PairDtypes>& pairs, Precision given) {
  if (given != Precision::kAuto) return {given, "given (--precision)"};
  // Elements and pairs per precision, by rank (index 1..6).
  double elems[8] = {};
  uint64_t count[8] = {}, total_pairs = 0;
  double total = 0;
  for (const auto& p : pairs) {
    const auto pa = precision_of(p.a), pb = precision_of(p.b);
    if (!pa && !pb) continue;
    const Precision q = !pa ? *pb : !pb ? *pa : row(*pa).rank < row(*pb).rank ? *pa : *pb;
    const int k = row(q).rank;
    // A zero-size pair still says which precision the run has, with the weight of one element.
    elems[k] += std::max<double>(1, static_cast<double>(p.count));
    ++count[k];
    total += std::max<double>(1, static_cast<double>(p.count));
    ++total_pairs;
  }
  if (total_pairs == 0) return {Precision::kFp32, "no floating-point pair; fp32"};
  auto percent = [](double x) {
    // 4 digits near the ends, so 99.96% is not rounded to 100% beside the 0.04% it leaves out.
    return format_number(x >= 0.995 || x < 0.001 ? "%.4g%%" : "%.1f%%", 100 * x);
  };
  for (int k = 1; k <= 6; ++k) {
    if (count[k] == 0 || elems[k] < kPrecisionShare * total) continue;
    Precision chosen = Precision::kFp32;
    for (const auto& r : kRows)
      if (r.rank == k) chosen = r.p;
    std::string why = std::to_string(count[k]) + " of " + std::to_string(total_pairs) +
                      " floating-point pairs, " + percent(elems[k] / total) + " of their elements";
    // Less precise pairs too few to set the run's precision: named, judged by their own dtype.
    for (int j = 1; j < k; ++j)
      if (count[j])
        for (const auto& r : kRows)
          if (r.rank == j)
            why += "; " + std::to_string(count[j]) + " " + precision_name(r.p) + " pair" + (count[j] > 1 ? "s" : "") +
                   " (" + percent(elems[j] / total) + ") judged at " + precision_name(r.p) + "'s own tolerance";
    return {chosen, why};
  }
  return {Precision::kFp32, "fp32"};  // unreachable: some precision holds at least its share
}

}  // namespace tensordiff
