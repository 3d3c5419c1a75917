#include "cpu/reference.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/chunk_kernel.hpp"
#include "core/decode.hpp"

namespace tdtest {

using namespace tensordiff;

namespace {

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Raw bits as an unsigned integer of the element's width.
uint64_t raw_bits(const uint8_t* p, size_t es) {
  uint64_t v = 0;
  std::memcpy(&v, p, es);
  return v;
}

uint64_t ref_checksum(const std::vector<uint8_t>& raw, uint64_t nbytes) {
  std::vector<uint8_t> padded(raw.begin(), raw.begin() + nbytes);
  while (padded.size() % 8) padded.push_back(0);
  uint64_t h = 0;
  for (size_t j = 0; j < padded.size() / 8; ++j)
    h += splitmix64_mix(load<uint64_t>(&padded[8 * j]) + kGolden * (j + 1));
  return splitmix64_mix(h ^ nbytes);
}

bool same_bits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

void expect_near(const std::optional<double>& got, const std::optional<double>& want, double tol,
                 const std::string& what) {
  ASSERT_EQ(got.has_value(), want.has_value()) << what;
  if (!got) return;
  if (std::isinf(*want) || std::isnan(*want)) {
    EXPECT_TRUE(*got == *want || (std::isnan(*got) && std::isnan(*want))) << what;
    return;
  }
  EXPECT_LE(std::fabs(*got - *want), tol) << what << " got " << *got << " want " << *want;
}

}  // namespace

uint64_t ref_ulp(DType t, const uint8_t* pa, const uint8_t* pb) {
  const size_t es = dtype_size(t);
  if (dtype_is_float(t)) {
    // Map sign-magnitude to a monotone signed integer, subtract in 128 bits.
    auto key = [&](uint64_t bits) -> __int128 {
      const uint64_t sign = uint64_t(1) << (8 * es - 1);
      const __int128 mag = bits & (sign - 1);
      return (bits & sign) ? -mag : mag;
    };
    const __int128 d = key(raw_bits(pa, es)) - key(raw_bits(pb, es));
    return static_cast<uint64_t>(d < 0 ? -d : d);
  }
  const __int128 x = (t == DType::kI8)    ? load<int8_t>(pa)
                     : (t == DType::kI16) ? load<int16_t>(pa)
                     : (t == DType::kI32) ? load<int32_t>(pa)
                     : (t == DType::kI64) ? __int128(load<int64_t>(pa))
                                          : __int128(raw_bits(pa, es));
  const __int128 y = (t == DType::kI8)    ? load<int8_t>(pb)
                     : (t == DType::kI16) ? load<int16_t>(pb)
                     : (t == DType::kI32) ? load<int32_t>(pb)
                     : (t == DType::kI64) ? __int128(load<int64_t>(pb))
                                          : __int128(raw_bits(pb, es));
  const __int128 d = x - y;
  return static_cast<uint64_t>(d < 0 ? -d : d);
}

// Independent of core/bins.hpp: frexp gives x = m·2^e with m in [0.5, 1).
int ref_bin(double v) {
  if (!std::isfinite(v)) return -1;
  v = std::fabs(v);
  if (v == 0) return ExpHistogram::kZero;
  int e;
  std::frexp(v, &e);
  const int exp = e - 1;  // 2^exp <= v < 2^(exp+1)
  if (exp < ExpHistogram::kMinExp) return ExpHistogram::kUnderflow;
  if (exp > ExpHistogram::kMaxExp) return ExpHistogram::kOverflow;
  return ExpHistogram::kFirstExp + exp - ExpHistogram::kMinExp;
}

double ref_decode(DType t, const uint8_t* p) {
  switch (t) {
    case DType::kF64: return load<double>(p);
    case DType::kF32: return load<float>(p);
    case DType::kF16: return decode::f16_to_double(load<uint16_t>(p));
    case DType::kBF16: return decode::bf16_to_double(load<uint16_t>(p));
    case DType::kF8E4M3: return decode::e4m3_to_double(*p);
    case DType::kF8E5M2: return decode::e5m2_to_double(*p);
    case DType::kI8: return load<int8_t>(p);
    case DType::kI16: return load<int16_t>(p);
    case DType::kI32: return load<int32_t>(p);
    case DType::kI64: return static_cast<double>(load<int64_t>(p));
    case DType::kU8: case DType::kBool: return *p;
    case DType::kU16: return load<uint16_t>(p);
    case DType::kU32: return load<uint32_t>(p);
    case DType::kU64: return static_cast<double>(load<uint64_t>(p));
  }
  return 0;
}

SideStats reference_side(DType t, const std::vector<uint8_t>& raw, uint64_t n, int first_k) {
  const size_t es = dtype_size(t);
  SideStats s;
  ExpHistogram mag;
  s.count = n;
  long double sum = 0, sumsq = 0;
  double mn = INFINITY, mx = -INFINITY;
  std::vector<double> fin;
  for (uint64_t i = 0; i < n; ++i) {
    const double v = ref_decode(t, &raw[i * es]);
    if (std::isnan(v)) ++s.nan;
    if (v == INFINITY) ++s.pos_inf;
    if (v == -INFINITY) ++s.neg_inf;
    if (v != 0 || std::isnan(v)) {
      ++s.nonzero;
      if (s.first_nonzero.size() < static_cast<size_t>(first_k)) s.first_nonzero.push_back({i, v});
    }
    if (!std::isfinite(v)) continue;
    fin.push_back(v);
    sum += v;
    sumsq += static_cast<long double>(v) * v;
    // -0.0 is below +0.0 (docs/design.md §4: min and max are exact to the sign of zero).
    if (v < mn || (v == mn && std::signbit(v))) mn = v;
    if (v > mx || (v == mx && !std::signbit(v))) mx = v;
    ++mag.counts[ref_bin(v)];
  }
  s.finite = fin.size();
  if (!fin.empty()) {
    const long double mean = sum / fin.size();
    long double m2 = 0;
    for (double v : fin) m2 += (v - mean) * (v - mean);
    s.min = mn;
    s.max = mx;
    s.mean = static_cast<double>(mean);
    s.std = static_cast<double>(std::sqrt(m2 / fin.size()));
    s.l2 = static_cast<double>(std::sqrt(sumsq));
  }
  s.checksum = ref_checksum(raw, n * es);
  s.mag_hist = SparseHistogram::from(mag);
  return s;
}

RefResult reference_pair(DType ta, const std::vector<uint8_t>& ra, DType tb,
                         const std::vector<uint8_t>& rb, uint64_t n, Tolerance tol, bool equal_nan,
                         int first_k) {
  RefResult r;
  r.a = reference_side(ta, ra, n, first_k);
  r.b = reference_side(tb, rb, n, first_k);
  DiffStats& d = r.d;
  ExpHistogram err;
  d.count = n;
  d.same_dtype = ta == tb;
  long double sabs = 0, sd2 = 0, sa2 = 0, sb2 = 0, sab = 0;
  std::vector<ExtremeAt> all;  // every finite pair, for the K worst
  const size_t ea = dtype_size(ta), eb = dtype_size(tb);
  for (uint64_t i = 0; i < n; ++i) {
    const double a = ref_decode(ta, &ra[i * ea]), b = ref_decode(tb, &rb[i * eb]);
    if (d.same_dtype && std::memcmp(&ra[i * ea], &rb[i * eb], ea) != 0) ++d.bits_differ;
    const bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) {
      if (na != nb || !equal_nan) {
        ++d.nan_mismatch;
        ++d.mismatches;
      }
      continue;
    }
    if (!std::isfinite(a) || !std::isfinite(b)) {
      if (a != b) {
        ++d.inf_mismatch;
        ++d.mismatches;
      }
      continue;
    }
    ++d.finite_pairs;
    const double diff = b - a, ad = std::fabs(diff);
    const double rel = ad == 0 ? 0.0 : ad / std::fabs(a);
    if (!(ad <= tol.atol + tol.rtol * std::fabs(a))) ++d.mismatches;
    if (!d.max_abs || ad > d.max_abs->value) d.max_abs = ExtremeAt{ad, i, a, b};
    all.push_back({ad, i, a, b});
    if (!d.max_rel || rel > d.max_rel->value) d.max_rel = ExtremeAt{rel, i, a, b};
    if (d.same_dtype) d.max_ulp = std::max(d.max_ulp, ref_ulp(ta, &ra[i * ea], &rb[i * eb]));
    sabs += ad;
    sd2 += static_cast<long double>(diff) * diff;
    sa2 += static_cast<long double>(a) * a;
    sb2 += static_cast<long double>(b) * b;
    sab += static_cast<long double>(a) * b;
    ++err.counts[ref_bin(ad)];
  }
  if (d.finite_pairs) {
    d.mean_abs = static_cast<double>(sabs / d.finite_pairs);
    d.rmse = static_cast<double>(std::sqrt(sd2 / d.finite_pairs));
  }
  const long double nd = std::sqrt(sd2), na = std::sqrt(sa2), nb = std::sqrt(sb2);
  d.rel_l2 = na == 0 ? (nd == 0 ? 0.0 : INFINITY) : static_cast<double>(nd / na);
  d.cosine = (na == 0 && nb == 0) ? 1.0
             : (na == 0 || nb == 0) ? 0.0
                                    : std::clamp(static_cast<double>(sab / (na * nb)), -1.0, 1.0);
  d.mismatch_fraction = n ? static_cast<double>(d.mismatches) / n : 0.0;
  d.err_hist = SparseHistogram::from(err);
  // The K worst by a full stable sort: largest |d| first, ties by smallest index.
  std::stable_sort(all.begin(), all.end(), [](const ExtremeAt& x, const ExtremeAt& y) { return x.value > y.value; });
  all.resize(std::min<size_t>(all.size(), static_cast<size_t>(first_k)));
  d.worst = all;
  return r;
}

RefResult engine_pair(DType ta, const std::vector<uint8_t>& ra, DType tb,
                      const std::vector<uint8_t>& rb, uint64_t n, Tolerance tol, bool equal_nan,
                      int first_k, uint64_t chunk_elems) {
  PairParams p;
  p.type_a = ta;
  p.type_b = tb;
  p.tol = tol;
  p.equal_nan = equal_nan;
  p.first_k = first_k;
  p.worst_k = first_k;
  Partial acc, part;
  const size_t ea = dtype_size(ta), eb = dtype_size(tb);
  for (uint64_t f = 0; f < n || (n == 0 && f == 0); f += chunk_elems) {
    const uint64_t m = std::min(chunk_elems, n - f);
    cpu_pair_chunk(p, ra.data() + f * ea, rb.data() + f * eb, f, m, part);
    if (f == 0) acc = part;
    else merge_partial(acc, part, first_k, first_k);
    if (n == 0) break;
  }
  const TreeNode t = acc.tree.total();
  RefResult r;
  r.a = finalize_side(acc.a, t.a, n * ea);
  r.b = finalize_side(acc.b, t.b, n * eb);
  r.d = finalize_diff(acc.d, t.d, n, ta == tb);
  return r;
}

void expect_side_eq(const SideStats& g, const SideStats& w, double rel, const char* what) {
  const std::string s = what;
  EXPECT_EQ(g.count, w.count) << s;
  EXPECT_EQ(g.nonzero, w.nonzero) << s;
  EXPECT_EQ(g.nan, w.nan) << s;
  EXPECT_EQ(g.pos_inf, w.pos_inf) << s;
  EXPECT_EQ(g.neg_inf, w.neg_inf) << s;
  EXPECT_EQ(g.finite, w.finite) << s;
  // By bits: == cannot tell -0.0 from +0.0.
  EXPECT_EQ(g.min.has_value(), w.min.has_value()) << s << " min";
  EXPECT_EQ(g.max.has_value(), w.max.has_value()) << s << " max";
  if (g.min && w.min) {
    EXPECT_TRUE(same_bits(*g.min, *w.min)) << s << " min got " << *g.min << " want " << *w.min;
  }
  if (g.max && w.max) {
    EXPECT_TRUE(same_bits(*g.max, *w.max)) << s << " max got " << *g.max << " want " << *w.max;
  }
  // mean can cancel: bound its error by the mean magnitude (l2 / sqrt(n) >= mean |x|... scale).
  const double scale = w.l2 && w.finite ? *w.l2 / std::sqrt(double(w.finite)) : 0.0;
  expect_near(g.mean, w.mean, rel * scale + 1e-300, s + " mean");
  expect_near(g.std, w.std, rel * std::max(scale, w.std.value_or(0)) + 1e-300, s + " std");
  expect_near(g.l2, w.l2, rel * w.l2.value_or(0) + 1e-300, s + " l2");
  ASSERT_EQ(g.first_nonzero.size(), w.first_nonzero.size()) << s;
  for (size_t i = 0; i < g.first_nonzero.size(); ++i) {
    EXPECT_EQ(g.first_nonzero[i].flat_index, w.first_nonzero[i].flat_index) << s;
    const double x = g.first_nonzero[i].value, y = w.first_nonzero[i].value;
    EXPECT_TRUE(same_bits(x, y) || (std::isnan(x) && std::isnan(y))) << s << " first_nonzero " << i;
  }
  EXPECT_TRUE(g.mag_hist == w.mag_hist) << s << " mag_hist";
  EXPECT_EQ(g.checksum, w.checksum) << s << " checksum";
}

void expect_diff_eq(const DiffStats& g, const DiffStats& w, double rel, const char* what) {
  const std::string s = what;
  EXPECT_EQ(g.count, w.count) << s;
  EXPECT_EQ(g.finite_pairs, w.finite_pairs) << s;
  EXPECT_EQ(g.mismatches, w.mismatches) << s << " mismatches";
  EXPECT_EQ(g.nan_mismatch, w.nan_mismatch) << s;
  EXPECT_EQ(g.inf_mismatch, w.inf_mismatch) << s;
  EXPECT_EQ(g.mismatch_fraction, w.mismatch_fraction) << s;
  ASSERT_EQ(g.max_abs.has_value(), w.max_abs.has_value()) << s;
  if (g.max_abs) {
    EXPECT_EQ(g.max_abs->value, w.max_abs->value) << s << " max_abs";
    EXPECT_EQ(g.max_abs->flat_index, w.max_abs->flat_index) << s << " max_abs index";
    EXPECT_TRUE(same_bits(g.max_abs->a, w.max_abs->a) && same_bits(g.max_abs->b, w.max_abs->b))
        << s << " max_abs values";
    EXPECT_EQ(g.max_rel->value, w.max_rel->value) << s << " max_rel";
    EXPECT_EQ(g.max_rel->flat_index, w.max_rel->flat_index) << s << " max_rel index";
  }
  EXPECT_EQ(g.same_dtype, w.same_dtype) << s;
  if (w.same_dtype) {
    EXPECT_EQ(g.bits_differ, w.bits_differ) << s << " bits_differ";
    EXPECT_EQ(g.max_ulp, w.max_ulp) << s << " max_ulp";
  }
  ASSERT_EQ(g.worst.size(), w.worst.size()) << s << " worst";
  for (size_t i = 0; i < g.worst.size(); ++i) {
    EXPECT_TRUE(same_bits(g.worst[i].value, w.worst[i].value)) << s << " worst " << i;
    EXPECT_EQ(g.worst[i].flat_index, w.worst[i].flat_index) << s << " worst " << i;
    EXPECT_TRUE(same_bits(g.worst[i].a, w.worst[i].a) && same_bits(g.worst[i].b, w.worst[i].b)) << s << " worst " << i;
  }
  expect_near(g.mean_abs, w.mean_abs, rel * w.mean_abs.value_or(0) + 1e-300, s + " mean_abs");
  expect_near(g.rmse, w.rmse, rel * w.rmse.value_or(0) + 1e-300, s + " rmse");
  expect_near(g.rel_l2, w.rel_l2, rel * w.rel_l2 + 1e-300, s + " rel_l2");
  expect_near(g.cosine, w.cosine, rel * 4, s + " cosine");
  EXPECT_TRUE(g.err_hist == w.err_hist) << s << " err_hist";
}

}  // namespace tdtest
