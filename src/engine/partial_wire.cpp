#include "engine/partial_wire.hpp"

#include <cstring>

namespace tensordiff {

namespace {

void f64(wire::Writer& w, double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  w.u64(b);
}
double f64(wire::Reader& r) {
  const uint64_t b = r.u64();
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

// Sparse: most of the 84 bins are empty (10^5 small tensors' shares stay a few MB).
void hist(wire::Writer& w, const ExpHistogram& h) {
  uint64_t n = 0;
  for (uint64_t c : h.counts) n += c != 0;
  w.u8(static_cast<uint8_t>(n));
  for (int i = 0; i < ExpHistogram::kBins; ++i)
    if (h.counts[i]) {
      w.u8(static_cast<uint8_t>(i));
      w.u64(h.counts[i]);
    }
}
void hist(wire::Reader& r, ExpHistogram& h) {
  h = ExpHistogram{};
  const int n = r.u8();
  for (int k = 0; k < n; ++k) {
    const int i = r.u8();
    if (i >= ExpHistogram::kBins) throw wire::WireError("bad histogram bin");
    h.counts[i] = r.u64();
  }
}

void extreme(wire::Writer& w, const ExtremeAt& e) {
  f64(w, e.value);
  w.u64(e.flat_index);
  f64(w, e.a);
  f64(w, e.b);
}
ExtremeAt extreme(wire::Reader& r) {
  ExtremeAt e;
  e.value = f64(r);
  e.flat_index = r.u64();
  e.a = f64(r);
  e.b = f64(r);
  return e;
}

void side(wire::Writer& w, const SideExact& s) {
  for (uint64_t v : {s.count, s.nonzero, s.nan, s.pos_inf, s.neg_inf, s.finite}) w.u64(v);
  f64(w, s.min);
  f64(w, s.max);
  w.u64(s.first_nonzero.size());
  for (const auto& e : s.first_nonzero) {
    w.u64(e.flat_index);
    f64(w, e.value);
  }
  hist(w, s.mag_hist);
  w.u64(s.checksum_sum);
  w.u8(s.checksum_known);
}
void side(wire::Reader& r, SideExact& s) {
  for (uint64_t* v : {&s.count, &s.nonzero, &s.nan, &s.pos_inf, &s.neg_inf, &s.finite}) *v = r.u64();
  s.min = f64(r);
  s.max = f64(r);
  const uint64_t n = r.u64();
  if (n > r.left() / 16) throw wire::WireError("bad first_nonzero count");
  s.first_nonzero.resize(n);
  for (auto& e : s.first_nonzero) {
    e.flat_index = r.u64();
    e.value = f64(r);
  }
  hist(r, s.mag_hist);
  s.checksum_sum = r.u64();
  s.checksum_known = r.u8() != 0;
}

void sums(wire::Writer& w, const SideSums& s) {
  for (double v : {s.n, s.mean, s.m2, s.sumsq}) f64(w, v);
  w.i64(s.scale);
}
void sums(wire::Reader& r, SideSums& s) {
  for (double* v : {&s.n, &s.mean, &s.m2, &s.sumsq}) *v = f64(r);
  s.scale = static_cast<int>(r.i64());
}

}  // namespace

void encode(wire::Writer& w, const Partial& p) {
  const auto& nodes = p.tree.nodes();
  w.u64(p.tree.end());
  w.u64(nodes.size());
  for (const auto& n : nodes) {
    w.i64(n.level);
    w.u64(n.start);
    sums(w, n.sums.a);
    sums(w, n.sums.b);
    for (double v : {n.sums.d.abs, n.sums.d.d2, n.sums.d.a2, n.sums.d.b2, n.sums.d.ab}) f64(w, v);
    w.i64(n.sums.d.scale);
  }
  side(w, p.a);
  side(w, p.b);
  const DiffExact& d = p.d;
  for (uint64_t v : {d.finite_pairs, d.mismatches, d.nan_mismatch, d.inf_mismatch, d.bits_differ, d.max_ulp}) w.u64(v);
  w.u8(d.has_max);
  extreme(w, d.max_abs);
  extreme(w, d.max_rel);
  hist(w, d.err_hist);
  w.u64(d.worst.size());
  for (const auto& e : d.worst) extreme(w, e);
  w.u64(p.bytes);
}

Partial decode_partial(wire::Reader& r) {
  Partial p;
  const uint64_t end = r.u64();
  const uint64_t n = r.u64();
  if (n > 128) throw wire::WireError("bad tree");
  std::vector<SumTree::Node> nodes(n);
  for (auto& x : nodes) {
    x.level = static_cast<int>(r.i64());
    x.start = r.u64();
    sums(r, x.sums.a);
    sums(r, x.sums.b);
    for (double* v : {&x.sums.d.abs, &x.sums.d.d2, &x.sums.d.a2, &x.sums.d.b2, &x.sums.d.ab}) *v = f64(r);
    x.sums.d.scale = static_cast<int>(r.i64());
  }
  p.tree = SumTree::from_nodes(end, std::move(nodes));
  side(r, p.a);
  side(r, p.b);
  DiffExact& d = p.d;
  for (uint64_t* v : {&d.finite_pairs, &d.mismatches, &d.nan_mismatch, &d.inf_mismatch, &d.bits_differ, &d.max_ulp})
    *v = r.u64();
  d.has_max = r.u8() != 0;
  d.max_abs = extreme(r);
  d.max_rel = extreme(r);
  hist(r, d.err_hist);
  const uint64_t k = r.u64();
  if (k > r.left() / 32) throw wire::WireError("bad worst count");
  d.worst.resize(k);
  for (auto& e : d.worst) e = extreme(r);
  p.bytes = r.u64();
  return p;
}

}  // namespace tensordiff
