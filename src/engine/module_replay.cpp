#include "engine/module_replay.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "core/decode.hpp"
#include "io/byte_order.hpp"
#include "io/source.hpp"
#include "tensordiff/dtype.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  const size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + m, v.end());
  return v[m];
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Elements read per tensor at most (whole rows, at least 16): a fit needs rows, not the whole
// activation. 2^18 (2 MB as float64) keeps the replay of an L0 dump of 2048 x 1024
// activations under a third of the compare's read time (2^22 took 1.6 times it); its eps
// standard error grows only as 1/sqrt(rows).
constexpr uint64_t kMaxElements = uint64_t{1} << 18;

}  // namespace

NormFit fit_norm(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w,
                 const std::vector<double>& b, size_t n, bool centered) {
  NormFit fit;
  if (n < 2 || x.size() != y.size() || x.size() < n || (!w.empty() && w.size() != n) ||
      (!b.empty() && b.size() != n))
    return fit;
  // Columns whose weight is (nearly) 0 carry no gain.
  double wmax = 0;
  for (double v : w) wmax = std::max(wmax, std::fabs(v));
  std::vector<size_t> cols;
  for (size_t j = 0; j < n; ++j)
    if (w.empty() || std::fabs(w[j]) > 1e-6 * wmax) cols.push_back(j);
  if (cols.size() < 2) return fit;
  const size_t rows = x.size() / n;
  std::vector<double> s, t, residual;  // per row: 1/var, 1/(k²·var)
  std::vector<double> c(n);
  for (size_t i = 0; i < rows; ++i) {
    const double* xr = &x[i * n];
    const double* yr = &y[i * n];
    double mean = 0;
    if (centered) {
      for (size_t j = 0; j < n; ++j) mean += xr[j];
      mean /= static_cast<double>(n);
    }
    double var = 0;
    for (size_t j = 0; j < n; ++j) {
      c[j] = xr[j] - mean;
      var += c[j] * c[j];
    }
    var /= static_cast<double>(n);
    double zc = 0, cc = 0, zz = 0;
    for (size_t j : cols) {
      const double z = (yr[j] - (b.empty() ? 0.0 : b[j])) / (w.empty() ? 1.0 : w[j]);
      zc += z * c[j];
      cc += c[j] * c[j];
      zz += z * z;
    }
    if (!(var > 0) || !(cc > 0) || !(zz > 0) || !std::isfinite(zc + zz)) continue;
    const double k = zc / cc;
    if (!(k > 0)) continue;
    double rr = 0;
    for (size_t j : cols) {
      const double z = (yr[j] - (b.empty() ? 0.0 : b[j])) / (w.empty() ? 1.0 : w[j]);
      rr += (z - k * c[j]) * (z - k * c[j]);
    }
    residual.push_back(std::sqrt(rr / zz));
    s.push_back(1 / var);
    t.push_back(1 / (k * k * var));
  }
  const size_t m = s.size();
  if (m < 4) return fit;
  fit.residual = median(residual);
  if (!(fit.residual < 0.02)) return fit;
  // Least squares t = α + β·s: eps = β/α, its standard error by the delta method.
  double sm = 0, tm = 0;
  for (size_t i = 0; i < m; ++i) sm += s[i], tm += t[i];
  sm /= static_cast<double>(m);
  tm /= static_cast<double>(m);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < m; ++i) {
    sxx += (s[i] - sm) * (s[i] - sm);
    sxy += (s[i] - sm) * (t[i] - tm);
  }
  // Rows of (nearly) one variance cannot tell an eps from a gain.
  if (!(sxx > 0) || std::sqrt(sxx / static_cast<double>(m)) < 1e-3 * sm) return fit;
  const double beta = sxy / sxx, alpha = tm - beta * sm;
  if (!(alpha > 0)) return fit;
  double rss = 0;
  for (size_t i = 0; i < m; ++i) {
    const double e = t[i] - alpha - beta * s[i];
    rss += e * e;
  }
  // A perfect fit still has float32's rounding in it (a floor: an fp32 pair's se is not 0).
  const double sigma2 = std::max(rss / static_cast<double>(m - 2), 1e-15);
  const double var_b = sigma2 / sxx;
  const double var_a = sigma2 * (1 / static_cast<double>(m) + sm * sm / sxx);
  const double cov = -sigma2 * sm / sxx;
  fit.eps = beta / alpha;
  const double da = -beta / (alpha * alpha), db = 1 / alpha;
  fit.se = std::sqrt(std::max(0.0, db * db * var_b + da * da * var_a + 2 * da * db * cov));
  fit.ok = std::isfinite(fit.eps) && std::isfinite(fit.se);
  return fit;
}

NormFit fit_norm_unknown_affine(const std::vector<double>& x, const std::vector<double>& y, size_t n,
                                bool centered) {
  if (n < 2 || x.size() != y.size() || x.size() < 4 * n) return {};
  const size_t rows = x.size() / n;
  std::vector<double> c(rows * n), k(rows), w(n, 1.0), b(n, 0.0);
  for (size_t i = 0; i < rows; ++i) {
    double mean = 0, var = 0;
    if (centered) {
      for (size_t j = 0; j < n; ++j) mean += x[i * n + j];
      mean /= static_cast<double>(n);
    }
    for (size_t j = 0; j < n; ++j) {
      c[i * n + j] = x[i * n + j] - mean;
      var += c[i * n + j] * c[i * n + j];
    }
    var /= static_cast<double>(n);
    k[i] = var > 0 ? 1 / std::sqrt(var) : 0.0;
  }
  // Alternating least squares on y = w_j·k_i·c_ij + b_j: each column's weight and bias given
  // the rows' gains, then each row's gain given them. The gains' common scale is w's too;
  // fit_norm's α takes it, eps = β/α does not depend on it.
  for (int iter = 0; iter < 20; ++iter) {
    for (size_t j = 0; j < n; ++j) {
      double su = 0, sy = 0, suu = 0, suy = 0;
      for (size_t i = 0; i < rows; ++i) {
        const double u = k[i] * c[i * n + j], v = y[i * n + j];
        su += u, sy += v, suu += u * u, suy += u * v;
      }
      const double m = static_cast<double>(rows), det = m * suu - su * su;
      if (!(det > 0)) return {};
      w[j] = (m * suy - su * sy) / det;
      b[j] = centered ? (sy - w[j] * su) / m : 0.0;
      if (!centered) w[j] = suy / suu;
    }
    for (size_t i = 0; i < rows; ++i) {
      double num = 0, den = 0;
      for (size_t j = 0; j < n; ++j) {
        const double u = w[j] * c[i * n + j];
        num += u * (y[i * n + j] - b[j]);
        den += u * u;
      }
      k[i] = den > 0 ? num / den : 0.0;
    }
  }
  return fit_norm(x, y, w, centered ? b : std::vector<double>{}, n, centered);
}

DropoutFit fit_dropout(const std::vector<double>& x, const std::vector<double>& y) {
  DropoutFit fit;
  if (x.size() != y.size() || x.empty()) return fit;
  size_t nonzero = 0, zeroed = 0, equal = 0;
  std::vector<double> ratio;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    if (y[i] == x[i]) ++equal;
    if (x[i] == 0) continue;
    ++nonzero;
    if (y[i] == 0) ++zeroed;
    else ratio.push_back(y[i] / x[i]);
  }
  if (nonzero == 0) return fit;
  if (equal == x.size()) {  // the identity: eval mode, or p = 0
    fit.ok = true;
    return fit;
  }
  if (zeroed == 0 || ratio.empty()) return fit;
  fit.scale = median(ratio);
  // Every kept element scaled by one factor (within the output's rounding): a dropout.
  size_t off = 0;
  for (double r : ratio) off += std::fabs(r / fit.scale - 1) > 1e-2;
  if (off * 100 > ratio.size() || !(fit.scale > 1)) return fit;
  fit.ok = fit.active = true;
  fit.zeroed = static_cast<double>(zeroed) / static_cast<double>(nonzero);
  return fit;
}

namespace {

double gelu_form(int form, double v) {
  switch (form) {
    case 0: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case 1: return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    default: return v / (1 + std::exp(-1.702 * v));
  }
}
constexpr int kGeluForms = 3;

}  // namespace

const char* gelu_form_name(int form) {
  static const char* const names[kGeluForms] = {"erf (exact)", "tanh (approximate)", "x*sigmoid(1.702x) (quick)"};
  return names[form];
}

GeluFit fit_gelu(const std::vector<double>& x, const std::vector<double>& y) {
  GeluFit fit;
  if (x.size() != y.size() || x.empty()) return fit;
  double d[kGeluForms] = {0, 0, 0}, yy = 0;
  size_t n = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    ++n;
    yy += y[i] * y[i];
    for (int f = 0; f < kGeluForms; ++f) {
      const double e = y[i] - gelu_form(f, x[i]);
      d[f] += e * e;
    }
  }
  if (n < 16 || !(yy > 0)) return fit;
  int best = 0;
  for (int f = 1; f < kGeluForms; ++f)
    if (d[f] < d[best]) best = f;
  if (!(std::sqrt(d[best] / yy) < 0.02)) return fit;
  // Under the best form y = f(x) + e, another form g's residual exceeds f's by
  // S ± 2·sqrt(σ²·S), S = Σ(f − g)², σ² = d_best/n: won by 8 of those deviations against every
  // other form. (Replaying a narrow output's rounding does not decide it: the two forms round
  // apart only next to a rounding boundary, where the framework's own float32 arithmetic
  // decides; a clean bf16 tanh GELU's 14 such elements voted 13 to 1 for erf.)
  const double sigma2 = std::max(d[best] / static_cast<double>(n), 1e-300);
  for (int g = 0; g < kGeluForms; ++g) {
    if (g == best) continue;
    double sep = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
      const double e = gelu_form(best, x[i]) - gelu_form(g, x[i]);
      sep += e * e;
    }
    if (!(d[g] - d[best] >= 8 * 2 * std::sqrt(sigma2 * sep))) return fit;
  }
  fit.ok = true;
  fit.form = best;
  return fit;
}

std::vector<double> replay_norm_backward(const std::vector<double>& x, const std::vector<double>& y,
                                         const std::vector<double>& g, size_t n, double eps, bool centered) {
  if (n < 2 || x.size() != y.size() || g.size() != x.size() || x.size() < 2 * n || x.size() % n != 0) return {};
  eps = std::max(eps, 0.0);
  const size_t rows = x.size() / n;
  std::vector<double> k(rows), xh(x.size());
  for (size_t i = 0; i < rows; ++i) {
    const double* xr = &x[i * n];
    double mean = 0, var = 0;
    if (centered) {
      for (size_t j = 0; j < n; ++j) mean += xr[j];
      mean /= static_cast<double>(n);
    }
    for (size_t j = 0; j < n; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    var /= static_cast<double>(n);
    k[i] = 1 / std::sqrt(var + eps);
    if (!std::isfinite(k[i])) return {};
    for (size_t j = 0; j < n; ++j) xh[i * n + j] = (xr[j] - mean) * k[i];
  }
  // Each column's gain: the slope of y on the normalised input (with an intercept, the bias),
  // whatever the module makes of its weight (w, 1 + w).
  std::vector<double> gain(n);
  for (size_t j = 0; j < n; ++j) {
    double sx = 0, sy = 0;
    for (size_t i = 0; i < rows; ++i) sx += xh[i * n + j], sy += y[i * n + j];
    sx /= static_cast<double>(rows);
    sy /= static_cast<double>(rows);
    double sxx = 0, sxy = 0;
    for (size_t i = 0; i < rows; ++i) {
      const double dx = xh[i * n + j] - sx;
      sxx += dx * dx;
      sxy += dx * (y[i * n + j] - sy);
    }
    gain[j] = sxx > 0 ? sxy / sxx : 0;
  }
  // dx = k·(g' − mean(g') − x̂·mean(g'·x̂)), g' = g·gain (RMS forms without the mean(g') term).
  std::vector<double> dx(x.size());
  for (size_t i = 0; i < rows; ++i) {
    double mg = 0, mgx = 0;
    for (size_t j = 0; j < n; ++j) {
      const double gp = g[i * n + j] * gain[j];
      mg += gp;
      mgx += gp * xh[i * n + j];
    }
    mg = centered ? mg / static_cast<double>(n) : 0;
    mgx /= static_cast<double>(n);
    for (size_t j = 0; j < n; ++j)
      dx[i * n + j] = k[i] * (g[i * n + j] * gain[j] - mg - xh[i * n + j] * mgx);
  }
  for (double v : dx)
    if (!std::isfinite(v)) return {};
  return dx;
}

namespace {

// Up to `limit` leading elements of a tensor, as float64 (whole rows: limit is a multiple of
// the row length the caller wants).
std::vector<double> read_doubles(Source& src, const TensorInfo& t, uint64_t limit) {
  if (!t.unsupported.empty() || t.value) throw Error(ErrorCode::kUnsupported, "not a decodable tensor");
  const uint64_t count = std::min(t.count, limit);
  const size_t es = dtype_size(t.dtype);
  std::vector<uint8_t> raw(count * es);
  if (count) src.read(t.order, 0, count, raw.data());
  if (t.big_endian && es > 1) swap_bytes_inplace(raw.data(), count, es);
  std::vector<double> out(count);
  decode::to_double(t.dtype, raw.data(), count, out.data());
  return out;
}

struct Call {
  const PairReport* input = nullptr;
  const PairReport* weight = nullptr;
  const PairReport* bias = nullptr;
  std::string cls;
};

bool readable(const PairReport* r) {
  return r && r->info_a && r->info_b && !r->info_a->value && !r->info_b->value && r->info_a->unsupported.empty() &&
         r->info_b->unsupported.empty() && r->status != Status::kError && r->status != Status::kIncompatible &&
         dtype_is_float(r->info_a->dtype) && dtype_is_float(r->info_b->dtype);
}

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

enum class Kind { kNorm, kDropout, kGelu, kNone };

Kind kind_of(const std::string& cls) {
  if (contains(cls, "Norm") && !contains(cls, "Batch") && !contains(cls, "Group") && !contains(cls, "Instance"))
    return Kind::kNorm;
  if (contains(cls, "Dropout")) return Kind::kDropout;
  if (contains(cls, "GELU") || contains(cls, "Gelu") || contains(cls, "gelu")) return Kind::kGelu;
  return Kind::kNone;
}

// One side's recorded call, as float64.
struct Side {
  std::vector<double> x, y, w, b;
};

// Both sides' normalisation settings. The form A fits (centered or not) is the module's; B is
// held to the same form. Without recorded parameters (a dumper that records none, a norm
// without affine) the weight and bias are fitted too; so are they where the recorded ones do
// not fit the output (a norm that scales by 1 + weight, Gemma's RMSNorm).
struct NormPair {
  bool ok = false, centered = true;
  bool recorded = false, had = false;  // fitted with the recorded parameters; any recorded
  NormFit a, b;
};
NormPair fit_norm_pair(const Side& a, const Side& b, size_t n) {
  NormPair f;
  f.recorded = f.had = !a.w.empty() || !a.b.empty();
  auto fit = [&](const Side& s, bool centered) {
    return f.recorded ? fit_norm(s.x, s.y, s.w, s.b, n, centered) : fit_norm_unknown_affine(s.x, s.y, n, centered);
  };
  auto fit_a = [&] {
    NormFit best = fit(a, true);
    f.centered = true;
    const NormFit r = fit(a, false);
    if (r.ok && (!best.ok || r.residual < best.residual)) best = r, f.centered = false;
    return best;
  };
  f.a = fit_a();
  if (!f.a.ok && f.recorded) {
    f.recorded = false;
    f.a = fit_a();
  }
  if (!f.a.ok) return f;
  f.b = fit(b, f.centered);
  f.ok = f.b.ok;
  return f;
}

// Two inferred eps differ: 8 combined standard errors and a quarter of the larger apart.
bool eps_differ(const NormFit& fa, const NormFit& fb) {
  const double d = std::fabs(fb.eps - fa.eps);
  const double se = std::sqrt(fa.se * fa.se + fb.se * fb.se);
  return d > 8 * se && d > 0.25 * std::max(std::fabs(fa.eps), std::fabs(fb.eps));
}

// What differs between the two sides' settings of one call, or "" (the same, or not told).
// f: a normalisation's fits (fit_norm_pair), made once for this and its backward's replay.
std::string differing_setting(const Call& c, Kind kind, const Side& a, const Side& b, const NormPair& f) {
  if (kind == Kind::kNorm) {
    if (!f.ok) return "";
    const NormFit &fa = f.a, &fb = f.b;
    if (!eps_differ(fa, fb)) return "";
    const std::string from = f.recorded ? std::string("input") + (a.w.empty() ? "" : ", weight") + (a.b.empty() ? "" : ", bias")
                                        : std::string("input (weight and bias fitted: ") +
                                              (f.had ? "the recorded ones do not fit)" : "none recorded)");
    return c.cls + " eps differs (inferred from each side's recorded " + from + " and output, " +
           (f.centered ? "mean-centred" : "RMS") + " form): A " + num(fa.eps) + " ± " + num(fa.se) + ", B " +
           num(fb.eps) + " ± " + num(fb.se);
  }
  if (kind == Kind::kDropout) {
    const DropoutFit fa = fit_dropout(a.x, a.y), fb = fit_dropout(b.x, b.y);
    if (!fa.ok || !fb.ok) return "";
    auto said = [](const DropoutFit& f) {
      return f.active ? "dropping (p about " + num(1 - 1 / f.scale) + ": " + num(100 * f.zeroed) +
                            "% zeroed, the rest x" + num(f.scale) + ")"
                      : std::string("not dropping (output = input: eval mode or p = 0)");
    };
    if (fa.active == fb.active && (!fa.active || std::fabs(fa.scale / fb.scale - 1) < 1e-2)) return "";
    return c.cls + " differs (inferred from each side's recorded input and output): A " + said(fa) + ", B " +
           said(fb);
  }
  const GeluFit fa = fit_gelu(a.x, a.y), fb = fit_gelu(b.x, b.y);
  if (!fa.ok || !fb.ok || fa.form == fb.form) return "";
  return c.cls + " formula differs (inferred from each side's recorded input and output): A " +
         gelu_form_name(fa.form) + ", B " + gelu_form_name(fb.form);
}

// "<base>.forward.<k>.output.0" -> "<base>.forward.<k>." and the class (base's last component).
bool split_output(const std::string& name, std::string& call, std::string& cls) {
  static const std::string tail = ".output.0";
  if (name.size() <= tail.size() || name.compare(name.size() - tail.size(), tail.size(), tail) != 0) return false;
  const std::string head = name.substr(0, name.size() - tail.size());  // <base>.forward.<k>
  const size_t dot = head.rfind('.');
  if (dot == std::string::npos || dot + 1 == head.size()) return false;
  for (size_t i = dot + 1; i < head.size(); ++i)
    if (head[i] < '0' || head[i] > '9') return false;
  static const std::string fwd = ".forward";
  if (dot < fwd.size() || head.compare(dot - fwd.size(), fwd.size(), fwd) != 0) return false;
  const std::string base = head.substr(0, dot - fwd.size());
  const size_t cdot = base.find_last_of(".:/");
  cls = cdot == std::string::npos ? base : base.substr(cdot + 1);
  call = head + ".";
  return !cls.empty();
}

// The systematic part of two tensors given their squared L2 norms, means and element count
// m: max(|l2(b)/l2(a) − 1|, |mean(b) − mean(a)| / rms(a)) (the diagnosis' definition).
double systematic(double l2a_sq, double l2b_sq, double mean_a, double mean_b, double m) {
  return std::max(std::fabs(std::sqrt(l2b_sq / l2a_sq) - 1), std::fabs(mean_b - mean_a) / std::sqrt(l2a_sq / m));
}

// A normalisation's backward ("X.backward.K": input.0 the gradient it received, output.0 the
// one it gave its input), replayed on each side from its gradient and its forward's recorded
// input and output with that side's inferred eps: the error its recorded inputs explain,
// set on the output pair for the diagnosis. A norm's backward scales each row by its own
// 1/sqrt(var + eps), so it reweights the error it receives: a clean bf16-autocast Gemma step's
// layer-0 RMSNorm turned a gradient at rel L2 0.0098 (scale 0.998) into 0.0145 (scale 0.9925),
// every bit of it explained by its input (the replay matches both sides' records to 1e-7).
// Not replayed where A's replay does not reproduce A's record (within 2%): a backward of
// another form. f: the forward's fits.
void explain_norm_backward(PairReport* g, PairReport* dx, const Side& sa, const Side& sb, const NormPair& f, size_t n,
                           Source& a, Source& b, uint64_t limit) {
  if (!readable(g) || !readable(dx) || !f.a.ok) return;
  // B's own eps where it differs from A's (eps_differ), else A's: a bf16 output's rounding
  // leaves B's fit loose (-1.7e-5 for 1e-6), and a row of zeros (a padding token's embedding)
  // has the gain 1/sqrt(eps).
  const double eps_b = f.ok && eps_differ(f.a, f.b) ? f.b.eps : f.a.eps;
  const TensorInfo &ga = *g->info_a, &gb = *g->info_b;
  if (ga.count != dx->info_a->count || gb.count != dx->info_b->count || ga.count != gb.count ||
      std::min(ga.count, limit) != sa.x.size() || std::min(gb.count, limit) != sb.x.size())
    return;
  const std::vector<double> rep_a = replay_norm_backward(sa.x, sa.y, read_doubles(a, ga, limit), n, f.a.eps, f.centered);
  const std::vector<double> rep_b = replay_norm_backward(sb.x, sb.y, read_doubles(b, gb, limit), n, eps_b, f.centered);
  if (rep_a.empty() || rep_b.empty() || rep_a.size() != rep_b.size()) return;
  const std::vector<double> rec_a = read_doubles(a, *dx->info_a, limit);
  double res = 0, rec = 0, d = 0, la = 0, lb = 0, ma = 0, mb = 0;
  for (size_t i = 0; i < rep_a.size(); ++i) {
    res += (rec_a[i] - rep_a[i]) * (rec_a[i] - rep_a[i]);
    rec += rec_a[i] * rec_a[i];
    d += (rep_b[i] - rep_a[i]) * (rep_b[i] - rep_a[i]);
    la += rep_a[i] * rep_a[i];
    lb += rep_b[i] * rep_b[i];
    ma += rep_a[i];
    mb += rep_b[i];
  }
  if (!(rec > 0) || !(la > 0) || !(std::sqrt(res / rec) < 0.02)) return;
  const double m = static_cast<double>(rep_a.size());
  double rel = std::sqrt(d / la), sys = systematic(la, lb, ma / m, mb / m, m);
  // Read in part (the first `limit` elements): what the replay explains of the recorded error
  // on those rows, applied to the whole tensor's (its leading rows, a sequence's first tokens,
  // may err more or less than the rest).
  if (ga.count > limit && dx->diff && dx->a && dx->b && dx->a->l2 && dx->b->l2 && dx->a->mean && dx->b->mean &&
      dx->a->count > 0) {
    const std::vector<double> rec_b = read_doubles(b, *dx->info_b, limit);
    if (rec_b.size() != rec_a.size()) return;
    double rd = 0, rb = 0, sa_sum = 0, sb_sum = 0;
    for (size_t i = 0; i < rec_a.size(); ++i) {
      rd += (rec_b[i] - rec_a[i]) * (rec_b[i] - rec_a[i]);
      rb += rec_b[i] * rec_b[i];
      sa_sum += rec_a[i];
      sb_sum += rec_b[i];
    }
    const double rec_rel = std::sqrt(rd / rec), rec_sys = systematic(rec, rb, sa_sum / m, sb_sum / m, m);
    const double whole = static_cast<double>(dx->a->count);
    const double whole_sys = systematic(*dx->a->l2 * *dx->a->l2, *dx->b->l2 * *dx->b->l2, *dx->a->mean,
                                        *dx->b->mean, whole);
    if (!(rec_rel > 0)) return;
    rel *= dx->diff->rel_l2 / rec_rel;
    if (rec_sys > 0) sys *= whole_sys / rec_sys;
  }
  if (!std::isfinite(rel) || !std::isfinite(sys)) return;
  dx->explained_rel = rel;
  dx->explained_sys = sys;
}

}  // namespace

void replay_modules(std::vector<PairReport>& pairs, const std::vector<bool>& done, Source& a, Source& b,
                    std::vector<std::string>& notes) {
  std::unordered_map<std::string, size_t> at;
  for (size_t i = 0; i < pairs.size(); ++i)
    if (pairs[i].name.find(".forward.") != std::string::npos || pairs[i].name.find(".backward.") != std::string::npos)
      at.emplace(pairs[i].name, i);
  auto find = [&](const std::string& name) -> PairReport* {
    const auto it = at.find(name);
    return it == at.end() || !done[it->second] ? nullptr : &pairs[it->second];
  };
  size_t unread = 0;
  std::string first_unread;
  for (size_t i = 0; i < pairs.size(); ++i) {
    PairReport& out = pairs[i];
    Call c;
    std::string call;
    if (!done[i] || !readable(&out) || !split_output(out.name, call, c.cls)) continue;
    const Kind kind = kind_of(c.cls);
    if (kind == Kind::kNone) continue;
    c.input = find(call + "input.0");
    c.weight = find(call + "parameters.weight");
    c.bias = find(call + "parameters.bias");
    if (!readable(c.input) || (c.weight && !readable(c.weight)) || (c.bias && !readable(c.bias))) continue;
    const TensorInfo &xa = *c.input->info_a, &xb = *c.input->info_b;
    if (xa.count != out.info_a->count || xb.count != out.info_b->count || xa.shape != xb.shape ||
        xa.count == 0 || xb.count == 0)
      continue;
    // A normalisation's rows: the weight's length, else the last dimension.
    size_t n = 1;
    if (kind == Kind::kNorm) {
      n = c.weight ? c.weight->info_a->count : (xa.shape.empty() ? 0 : xa.shape.back());
      if (n < 2 || xa.count % n != 0 || (c.weight && c.weight->info_b->count != n) ||
          (c.bias && (c.bias->info_a->count != n || c.bias->info_b->count != n)))
        continue;
    }
    // Rows longer than 2^16 (a hostile weight count too) are not replayed: 16 of them would
    // already be 2^20 elements per tensor.
    if (n > (uint64_t{1} << 16)) continue;
    const uint64_t limit = std::max<uint64_t>(n * 16, kMaxElements / n * n);
    try {
      Side sa, sb;
      sa.x = read_doubles(a, xa, limit);
      sb.x = read_doubles(b, xb, limit);
      sa.y = read_doubles(a, *out.info_a, limit);
      sb.y = read_doubles(b, *out.info_b, limit);
      if (kind == Kind::kNorm && c.weight) {
        sa.w = read_doubles(a, *c.weight->info_a, n);
        sb.w = read_doubles(b, *c.weight->info_b, n);
      }
      if (kind == Kind::kNorm && c.bias) {
        sa.b = read_doubles(a, *c.bias->info_a, n);
        sb.b = read_doubles(b, *c.bias->info_b, n);
      }
      const NormPair f = kind == Kind::kNorm ? fit_norm_pair(sa, sb, n) : NormPair{};
      if (kind == Kind::kNorm) {
        const std::string bcall = call.substr(0, call.rfind(".forward.")) + ".backward." +
                                  call.substr(call.rfind(".forward.") + 9);
        try {  // its own: a backward that cannot be read leaves the forward's check standing
          explain_norm_backward(find(bcall + "input.0"), find(bcall + "output.0"), sa, sb, f, n, a, b, limit);
        } catch (const std::exception& e) {
          if (!unread++) first_unread = bcall + "output.0: " + e.what();
        }
      }
      const std::string what = differing_setting(c, kind, sa, sb, f);
      if (what.empty()) continue;
      out.setting_differs = true;
      out.reason = out.status == Status::kMatch ? what : what + "; " + out.reason;
      if (out.status == Status::kMatch) out.status = Status::kMismatch;
    } catch (const std::exception& e) {
      if (!unread++) first_unread = out.name + ": " + e.what();
    }
  }
  if (unread)
    notes.push_back("module replay: " + std::to_string(unread) + " module call" + (unread > 1 ? "s" : "") +
                    " not replayed, a recorded tensor unreadable ('" + first_unread + "' first)");
}

}  // namespace tensordiff
