// libFuzzer target: the module replay's fits (engine/module_replay.hpp) take a dump's recorded
// tensors, which are user input: NaN, inf, subnormals, zero rows, zero weights, any row length.
// A fit may decline (ok false); it never crashes, hangs or calls a non-finite eps a finding.
// A norm's backward replay returns nothing or finite values, one per element.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/decode.hpp"
#include "engine/module_replay.hpp"
#include "fuzz_bytes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tensordiff::fuzz::Bytes in(data, size);
  const uint8_t flags = in.u8();
  const size_t n = 1 + in.u8() % 128, rows = in.u8() % 64;
  const double* half = tensordiff::decode::f16_table();  // every float16: NaN, inf, subnormals
  auto values = [&](size_t k) {
    std::vector<double> v(k);
    for (auto& x : v) x = half[in.u16()];
    return v;
  };
  const std::vector<double> x = values(rows * n), y = values(rows * n);
  const std::vector<double> w = flags & 1 ? values(n) : std::vector<double>{};
  const std::vector<double> b = flags & 2 ? values(n) : std::vector<double>{};
  const bool centered = flags & 4;
  for (const tensordiff::NormFit& f : {tensordiff::fit_norm(x, y, w, b, n, centered),
                                       tensordiff::fit_norm_unknown_affine(x, y, n, centered)})
    if (f.ok && !(std::isfinite(f.eps) && std::isfinite(f.se) && f.se >= 0)) std::abort();
  const std::vector<double> grad = values(rows * n);
  const double eps = half[in.u16()];
  const std::vector<double> dx = tensordiff::replay_norm_backward(x, y, grad, n, eps, centered);
  if (!dx.empty() && dx.size() != x.size()) std::abort();
  for (double v : dx)
    if (!std::isfinite(v)) std::abort();
  const tensordiff::DropoutFit d = tensordiff::fit_dropout(x, y);
  if (d.active && !(d.ok && std::isfinite(d.scale) && d.zeroed > 0 && d.zeroed <= 1)) std::abort();
  const tensordiff::GeluFit g = tensordiff::fit_gelu(x, y);
  if (g.ok && (g.form < 0 || g.form > 2)) std::abort();
  return 0;
}
