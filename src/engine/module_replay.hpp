// Module replay (docs/design.md §5, "Settings inferred from a module's record"): where a
// module-level dump (msprobe L0: "X.LayerNorm.forward.0.input.0", ".output.0",
// ".parameters.weight") records a module's input, parameters and output, the setting each side
// ran with is inferred from them: a normalisation's eps, a dropout's p (or that it dropped
// nothing), a GELU's formula. A setting that differs is a difference made in that module,
// whatever its output's error shows: an eps of 1e-3 for 1e-5 rescales a LayerNorm's output by
// 5e-4, below a bf16 run's rounding, and module dumps record no scalar argument to compare.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensordiff/report.hpp"

namespace tensordiff {

class Source;

// A normalisation y = (x − mean) / sqrt(var + eps) · w + b over rows of n elements (centered:
// LayerNorm), or y = x / sqrt(mean(x²) + eps) · w (RMSNorm, T5LayerNorm). Each row gives its
// gain k = 1/sqrt(var + eps); 1/(k²·var) = α + eps/var over the rows is fitted by least squares,
// so a gain error of the computation's precision (α ≠ 1: torch's CPU LayerNorm on bf16 weights
// rescales by 1.002-1.004) is not taken for an eps. ok: the form fits (rows' relative residual
// under 2%) and the rows' variances spread enough to separate eps from a gain.
struct NormFit {
  bool ok = false;
  double eps = 0, se = 0;  // eps and its standard error
  double residual = 0;     // median over rows of |z − k·c| / |z|
};
// x, y: rows of n elements; w, b: n each, or empty (1 and 0).
NormFit fit_norm(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w,
                 const std::vector<double>& b, size_t n, bool centered);

// The same where the weight and bias were not recorded: each column's weight and bias are
// fitted with the rows' gains (alternating least squares; at least 4 rows).
NormFit fit_norm_unknown_affine(const std::vector<double>& x, const std::vector<double>& y, size_t n,
                                bool centered);

// A dropout: inactive (output equals input), or active: a fraction zeroed and the rest scaled
// by 1/(1 − p). ok: one of the two fits.
struct DropoutFit {
  bool ok = false, active = false;
  double zeroed = 0;  // fraction of nonzero inputs zeroed
  double scale = 1;   // the kept elements' y/x (median)
};
DropoutFit fit_dropout(const std::vector<double>& x, const std::vector<double>& y);

// A GELU's formula: erf (exact), tanh (approximate="tanh", NewGELU) or x·sigmoid(1.702x)
// (QuickGELU). ok: the best fits (relative L2 residual under 2%) and beats every other form by
// 8 standard deviations of what the residual's noise allows.
struct GeluFit {
  bool ok = false;
  int form = 0;  // index into gelu_form_names()
};
GeluFit fit_gelu(const std::vector<double>& x, const std::vector<double>& y);
const char* gelu_form_name(int form);

// A normalisation's backward: the gradient it gives its input for gradient g at its output,
// from the forward's recorded input x and output y (rows of n), its eps and form; each
// column's gain is fitted from x and y (w, or Gemma's 1 + w, or a fitted one alike). Empty
// where the rows do not allow it.
std::vector<double> replay_norm_backward(const std::vector<double>& x, const std::vector<double>& y,
                                         const std::vector<double>& g, size_t n, double eps, bool centered);

// Replays every module call both sides recorded whole (input.0 and output.0, and weight and
// bias where the module has them) among the read pairs (done[i]); where the inferred settings
// differ, the output pair becomes a mismatch whose reason says what differs, with
// setting_differs set (the diagnosis names it like a differing recorded value). A
// normalisation's backward recorded with it ("X.backward.K.input.0", ".output.0") is replayed
// on both sides: the error its recorded inputs explain goes into explained_rel and
// explained_sys of its output pair. A tensor that cannot be read is left out with a note.
void replay_modules(std::vector<PairReport>& pairs, const std::vector<bool>& done, Source& a, Source& b,
                    std::vector<std::string>& notes);

}  // namespace tensordiff
