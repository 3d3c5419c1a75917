#include "engine/nonfinite.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/decode.hpp"
#include "io/byte_order.hpp"

namespace tensordiff {

namespace {

// Elements per read: a few MB per side, whatever the tensor's size.
constexpr uint64_t kStep = 1 << 18;

// Elements [first, first + n) of one side, decoded: from the uniform value when the tensor
// was never written, else read and put in little-endian order.
void load(Source& src, size_t index, const std::optional<std::vector<uint8_t>>& uniform, DType t,
          uint64_t first, uint64_t n, std::vector<uint8_t>& raw, double* out) {
  const size_t es = dtype_size(t);
  raw.resize(n * es);
  if (uniform) {
    for (uint64_t i = 0; i < n; ++i) std::copy(uniform->begin(), uniform->end(), raw.begin() + i * es);
    if (src.tensors()[index].big_endian) swap_bytes_inplace(raw.data(), n, es);
  } else {
    src.read(index, first, n, raw.data());
    if (src.tensors()[index].big_endian) swap_bytes_inplace(raw.data(), n, es);
  }
  decode::to_double(t, raw.data(), n, out);
}

}  // namespace

std::vector<ExtremeAt> find_nonfinite_mismatches(const Job& job, int k) {
  std::vector<ExtremeAt> found;
  if (k <= 0 || !job.b) return found;
  const bool equal_nan = job.params.equal_nan;
  std::vector<uint8_t> raw;
  std::vector<double> a(std::min(kStep, job.count)), b(a.size());
  for (uint64_t first = 0; first < job.count; first += kStep) {
    const uint64_t n = std::min(kStep, job.count - first);
    load(*job.a, job.ia, job.uniform_a(), job.params.type_a, first, n, raw, a.data());
    load(*job.b, job.ib, job.uniform_b(), job.params.type_b, first, n, raw, b.data());
    for (uint64_t i = 0; i < n; ++i) {
      const double x = a[i], y = b[i];
      const bool nx = std::isnan(x), ny = std::isnan(y);
      const bool nan_bad = nx != ny || (nx && ny && !equal_nan);
      const bool inf_bad = !nx && !ny && (std::isinf(x) || std::isinf(y)) && x != y;
      if (!nan_bad && !inf_bad) continue;
      const double d = nan_bad ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
      found.push_back({d, first + i, x, y});
      if (static_cast<int>(found.size()) == k) return found;
    }
  }
  return found;
}

}  // namespace tensordiff
