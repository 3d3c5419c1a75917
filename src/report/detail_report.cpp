// `tensordiff show A B NAME`: one pair for a person. Both sides side by side, every diff
// metric, the K worst elements and the three magnitude histograms as text bars.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/format.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

std::string num(double v) { return sig(v, 7); }

std::string opt(const std::optional<double>& v) { return v ? num(*v) : "-"; }

std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

// Label of bin i: "0", "<2^-40", "2^e", ">=2^41".
std::string bin_label(int i) {
  if (i == ExpHistogram::kZero) return "0";
  if (i == ExpHistogram::kUnderflow) return "<2^" + std::to_string(ExpHistogram::kMinExp);
  if (i == ExpHistogram::kOverflow) return ">=2^" + std::to_string(ExpHistogram::kMaxExp + 1);
  return "2^" + std::to_string(ExpHistogram::kMinExp + (i - ExpHistogram::kFirstExp));
}

// One histogram as rows "label count bar", from its first to its last nonzero bin; bars are
// scaled to the largest count, every nonzero count gets at least one mark.
std::string bars(const std::string& title, const SparseHistogram& sparse) {
  const ExpHistogram h = sparse.dense();
  int lo = -1, hi = -1;
  uint64_t top = 0;
  for (int i = 0; i < ExpHistogram::kBins; ++i)
    if (h.counts[i]) {
      if (lo < 0) lo = i;
      hi = i;
      top = std::max(top, h.counts[i]);
    }
  std::string out = title + "\n";
  if (lo < 0) return out + "  (empty)\n";
  constexpr int kWidth = 40;
  for (int i = lo; i <= hi; ++i) {
    const uint64_t c = h.counts[i];
    const int len = c == 0 ? 0 : std::max(1, static_cast<int>(std::lround(double(c) / top * kWidth)));
    out += "  " + pad(bin_label(i), 8) + format_number("%12.0f", double(c)) + "  " + std::string(len, '#') + "\n";
  }
  return out;
}

}  // namespace

std::string format_detail(const PairReport& r) {
  std::string out;
  auto line = [&](const std::string& label, const std::string& a, const std::string& b = "") {
    out += "  " + pad(label, 16) + pad(a, 30) + b + "\n";
  };
  const auto& sa = r.info_a;
  const auto& sb = r.info_b;
  out += r.name;
  if (!r.name_b.empty() && r.name_b != r.name) out += "  (B: " + r.name_b + ")";
  out += "  [" + std::string(status_name(r.status)) + "]\n";
  if (!r.reason.empty()) out += "  " + r.reason + "\n";
  out += "\n";
  line("", "a", "b");
  line("dtype", sa ? sa->type_name : "-", sb ? sb->type_name : "-");
  line("shape", sa ? shape_string(sa->shape) : "-", sb ? shape_string(sb->shape) : "-");
  line("source", sa && !sa->source.empty() ? sa->source : "-", sb && !sb->source.empty() ? sb->source : "-");
  if (r.a && r.b) {
    const SideStats &a = *r.a, &b = *r.b;
    line("count", std::to_string(a.count), std::to_string(b.count));
    line("nonzero", std::to_string(a.nonzero), std::to_string(b.nonzero));
    line("nan / +inf / -inf",
         std::to_string(a.nan) + " / " + std::to_string(a.pos_inf) + " / " + std::to_string(a.neg_inf),
         std::to_string(b.nan) + " / " + std::to_string(b.pos_inf) + " / " + std::to_string(b.neg_inf));
    line("min", opt(a.min), opt(b.min));
    line("max", opt(a.max), opt(b.max));
    line("mean", opt(a.mean), opt(b.mean));
    line("std", opt(a.std), opt(b.std));
    line("l2", opt(a.l2), opt(b.l2));
    line("checksum", hex16(a.checksum), hex16(b.checksum));
    const size_t k = std::max(a.first_nonzero.size(), b.first_nonzero.size());
    for (size_t i = 0; i < k; ++i) {
      auto cell = [&](const SideStats& s, const std::shared_ptr<const TensorInfo>& t) {
        if (i >= s.first_nonzero.size()) return std::string("-");
        const auto& e = s.first_nonzero[i];
        return index_string(e.flat_index, t->shape) + " " + num(e.value);
      };
      line(i == 0 ? "first nonzeros" : "", cell(a, sa), cell(b, sb));
    }
  }
  if (r.diff) {
    const DiffStats& d = *r.diff;
    out += "\n  tolerance       rtol " + num(r.tolerance.rtol) + ", atol " + num(r.tolerance.atol) + "\n";
    auto metric = [&](const std::string& label, const std::string& v) { out += "  " + pad(label, 16) + v + "\n"; };
    const DType ta = sa->dtype, tb = sb->dtype;
    auto va = [&](double v) { return exact_value(v, ta); };
    auto vb = [&](double v) { return exact_value(v, tb); };
    if (d.max_abs)
      metric("max |d|", num(d.max_abs->value) + " at " + index_string(d.max_abs->flat_index, sa->shape) +
                            " (a " + va(d.max_abs->a) + ", b " + vb(d.max_abs->b) + ")");
    if (d.max_rel)
      metric("max rel", num(d.max_rel->value) + " at " + index_string(d.max_rel->flat_index, sa->shape) +
                            " (a " + va(d.max_rel->a) + ", b " + vb(d.max_rel->b) + ")");
    metric("mean |d|", opt(d.mean_abs));
    metric("rmse", opt(d.rmse));
    metric("rel L2", num(d.rel_l2));
    metric("cosine", format_number("%.10f", d.cosine));
    metric("mismatches", std::to_string(d.mismatches) + " of " + std::to_string(d.count) + " (" +
                             format_number("%.4g", 100 * d.mismatch_fraction) + "%), " +
                             std::to_string(d.nan_mismatch) + " NaN, " + std::to_string(d.inf_mismatch) + " inf");
    metric("finite pairs", std::to_string(d.finite_pairs));
    if (d.same_dtype) metric("bits differ", std::to_string(d.bits_differ) + ", max ULP " + std::to_string(d.max_ulp));
    if (r.scale) metric("l2(b)/l2(a)", format_number("%.9f", *r.scale));
    if (r.shift) metric("mean shift", num(*r.shift) + " rms of a");
    // NaN/inf mismatches first: |d| cannot rank them, and they are the worst there are.
    if (!d.nonfinite.empty()) {
      const uint64_t total = d.nan_mismatch + d.inf_mismatch;
      out += "\n  NaN/inf mismatches: " + std::to_string(total) + ", the first " + std::to_string(d.nonfinite.size()) +
             " in flat order\n";
      out += "    " + pad("index", 24) + pad("a", 18) + pad("b", 18) + "\n";
      for (const auto& w : d.nonfinite)
        out += "    " + pad(index_string(w.flat_index, sa->shape), 24) + pad(va(w.a), 18) + pad(vb(w.b), 18) +
               (std::isnan(w.value) ? "NaN mismatch" : "inf mismatch") + "\n";
    }
    if (!d.worst.empty()) {
      out += "\n  worst " + std::to_string(d.worst.size()) + " (largest |b - a|, finite pairs)\n";
      out += "    " + pad("index", 24) + pad("a", 18) + pad("b", 18) + "|d|\n";
      for (const auto& w : d.worst)
        out += "    " + pad(index_string(w.flat_index, sa->shape), 24) + pad(va(w.a), 18) +
               pad(vb(w.b), 18) + num(w.value) + "\n";
    }
    out += "\n" + bars("  |a| by binary exponent", r.a->mag_hist) +
           bars("  |b| by binary exponent", r.b->mag_hist) +
           bars("  |b - a| by binary exponent (finite pairs)", d.err_hist);
  } else if (r.a && r.b) {
    out += "\n" + bars("  |a| by binary exponent", r.a->mag_hist) + bars("  |b| by binary exponent", r.b->mag_hist);
  }
  return out;
}

}  // namespace tensordiff
