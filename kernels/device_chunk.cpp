// The device algorithm on the host (emulate_chunk), in the order kernels/leaf_kernel.cu runs it,
// and the assembly of a chunk's device result into a Partial (used by both backends).
// Compiled with -ffp-contract=off (CMakeLists.txt): no fused multiply-add may change a bit.
#include "kernels/device_chunk.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/decode.hpp"
#include "core/worst.hpp"
#include "tensordiff/metrics.hpp"

namespace tensordiff::gpu {

using namespace leaf;

PairRule pair_rule(const PairParams& p) {
  PairRule r;
  r.ta = p.type_a;
  r.tb = p.type_b;
  r.ea = static_cast<int>(dtype_size(p.type_a));
  r.eb = static_cast<int>(dtype_size(p.type_b));
  r.rtol = p.tol.rtol;
  r.atol = p.tol.atol;
  r.equal_nan = p.equal_nan;
  r.same = p.type_a == p.type_b;
  r.pair = true;
  return r;
}

PairRule side_rule(DType t) {
  PairRule r{};
  r.ta = r.tb = t;
  r.ea = r.eb = static_cast<int>(dtype_size(t));
  r.same = false;
  r.pair = false;
  return r;
}

namespace {

// Raw bits of element i (0 past the chunk's end: the device's buffers are zeroed there).
uint64_t raw_at(const uint8_t* p, int es, uint64_t i, uint64_t n) {
  uint64_t v = 0;
  if (i < n) std::memcpy(&v, p + i * es, es);
  return v;
}

// Word w of the leaf starting at byte `off` of a side holding `bytes` bytes, zero-padded.
uint64_t word_at(const uint8_t* p, uint64_t off, uint64_t bytes) {
  uint64_t v = 0;
  if (off < bytes) std::memcpy(&v, p + off, std::min<uint64_t>(8, bytes - off));
  return v;
}

}  // namespace

void emulate_chunk(const PairRule& r, const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n,
                   ChunkResult& out, std::vector<GroupInfo>& groups) {
  out = ChunkResult();
  const uint64_t leaves = (n + kBlockElems - 1) / kBlockElems;
  const uint64_t ngroups = group_count(n), full = leaves / kGroupLeaves;
  groups.assign(ngroups, GroupInfo{0, 0, -1.0});
  const int E = seg_elems(r.ea, r.pair ? r.eb : r.ea);
  LaneExact lanes[kLanes];
  for (auto& e : lanes) exact_init(e);
  std::vector<TreeNode> group_nodes(full);
  StackNode tail[kMaxStack];
  int tail_size = 0;
  for (uint64_t g = 0; g < ngroups; ++g) {
    const int c = static_cast<int>(std::min<uint64_t>(kGroupLeaves, leaves - g * kGroupLeaves));
    TreeNode nodes[kGroupLeaves];
    GroupInfo& info = groups[g];
    for (int li = 0; li < c; ++li) {
      const uint64_t base = (g * kGroupLeaves + li) * kBlockElems;
      const uint64_t in_leaf = std::min<uint64_t>(kBlockElems, n - base);
      LaneVals v[kLanes];
      for (int l = 0; l < kLanes; ++l) {
        v[l].valid = 0;
        for (int m = 0; m < kLaneElems; ++m) {
          const uint64_t idx = static_cast<uint64_t>(lane_element(l, m, E));
          const uint64_t i = base + idx;
          const uint64_t ra = raw_at(a, r.ea, i, n), rb = r.pair ? raw_at(b, r.eb, i, n) : 0;
          v[l].a[m] = decode::decode_raw(r.ta, ra);  // decode_lane's values (the same decode_fixed)
          v[l].b[m] = r.pair ? decode::decode_raw(r.tb, rb) : 0.0;
          if (idx >= in_leaf) continue;
          v[l].valid |= 1u << m;
          int bins[3];
          exact_element(lanes[l], r, v[l].a[m], v[l].b[m], ra, rb, static_cast<uint32_t>(i), bins);
          for (int s = 0; s < 3; ++s)
            if (bins[s] >= 0) ++out.hist[s * kBins + bins[s]];
          info.nz_a += v[l].a[m] != 0 || std::isnan(v[l].a[m]);
          if (r.pair) {
            info.nz_b += v[l].b[m] != 0 || std::isnan(v[l].b[m]);
            if (std::isfinite(v[l].a[m]) && std::isfinite(v[l].b[m]))
              info.max_ad = std::max(info.max_ad, std::fabs(v[l].b[m] - v[l].a[m]));
          }
        }
      }
      // Maxima: butterfly (exact in any order).
      Max3 mx[kLanes];
      for (int l = 0; l < kLanes; ++l) mx[l] = lane_max(v[l], r.pair);
      for (int d = kLanes / 2; d > 0; d /= 2) {
        Max3 nx[kLanes];
        for (int l = 0; l < kLanes; ++l) nx[l] = max3(mx[l], mx[l ^ d]);
        std::copy(nx, nx + kLanes, mx);
      }
      const Scales s = scales_of(mx[0]);
      // The means' sums: butterfly x_l + x_{l^d}.
      FirstSums f[kLanes];
      unsigned na = 0, nb = 0;
      for (int l = 0; l < kLanes; ++l) {
        f[l] = lane_first(v[l], s, r.pair);
        na += f[l].na;
        nb += f[l].nb;
      }
      for (int d = kLanes / 2; d > 0; d /= 2) {
        double sa[kLanes], sb[kLanes];
        for (int l = 0; l < kLanes; ++l) {
          sa[l] = f[l].sa + f[l ^ d].sa;
          sb[l] = f[l].sb + f[l ^ d].sb;
        }
        for (int l = 0; l < kLanes; ++l) {
          f[l].sa = sa[l];
          f[l].sb = sb[l];
        }
      }
      const FirstSums total{f[0].sa, f[0].sb, na, nb};
      const double m0a = na ? total.sa / na : 0.0, m0b = nb ? total.sb / nb : 0.0;
      // The other sums: lane k adds field k of lanes 0..31 in order.
      double ls[kLanes][kLaneSums];
      for (int l = 0; l < kLanes; ++l) lane_sums(v[l], s, m0a, m0b, r.pair, ls[l]);
      double tot[kLaneSums];
      for (int k = 0; k < kLaneSums; ++k) {
        tot[k] = ls[0][k];
        for (int l = 1; l < kLanes; ++l) tot[k] = tot[k] + ls[l][k];
      }
      nodes[li] = leaf_node(total, tot, s);
      // Checksum words (sums mod 2^64: any assignment of words to lanes gives these bits).
      const uint64_t first_el = first + base;
      for (int side = 0; side < (r.pair ? 2 : 1); ++side) {
        const int es = side ? r.eb : r.ea;
        const uint8_t* p = side ? b : a;
        const uint64_t word0 = first_el * es / 8, bytes = n * es, leaf_off = base * es;
        uint64_t sum = 0;
        for (unsigned w = 0; w < 32u * es; ++w)
          sum += word_term(word_at(p, leaf_off + 8ull * w, bytes), word0, w, in_leaf * es);
        (side ? lanes[0].cks_b : lanes[0].cks_a) += sum;  // any lane: the merge adds them
      }
    }
    StackNode found[kMaxStack];
    const int k = level_pass(nodes, c, 0, found);
    if (c == kGroupLeaves) {
      group_nodes[g] = found[0].node;  // one level-5 subtree
    } else {
      for (int i = k; i-- > 0;) tail[tail_size++] = found[i];
    }
  }
  // The finalize kernel: groups combined level by level, then the partial group's subtrees.
  exact_init(out.exact);
  for (const auto& e : lanes) exact_merge(out.exact, widen(e));
  StackNode found[kMaxStack];
  const int k = level_pass(group_nodes.data(), static_cast<int>(full), kGroupLevel, found);
  out.stack_size = 0;
  for (int i = k; i-- > 0;) out.stack[out.stack_size++] = found[i];
  for (int i = 0; i < tail_size; ++i) out.stack[out.stack_size++] = tail[i];
}

namespace {

double value_at(DType t, const uint8_t* raw, uint64_t i) {
  double v = 0;
  decode::to_double(t, raw + i * dtype_size(t), 1, &v);
  return v;
}

void fill_side(SideExact& e, uint64_t n, unsigned long long fin, unsigned long long nz, unsigned long long nan,
               unsigned long long pinf, unsigned long long ninf, double mn, double mx, unsigned long long cks,
               const unsigned long long* hist) {
  e.count = n;
  e.finite = fin;
  e.nonzero = nz;
  e.nan = nan;
  e.pos_inf = pinf;
  e.neg_inf = ninf;
  e.min = mn;
  e.max = mx;
  e.checksum_sum = cks;
  for (int i = 0; i < kBins; ++i) e.mag_hist.counts[i] = hist[i];
}

// First nonzeros: groups in order, only those holding any.
void first_nonzero(DType t, const uint8_t* raw, uint64_t first, uint64_t n, const GroupInfo* groups,
                   bool side_a, int k, std::vector<NonzeroEntry>& out) {
  const size_t ngroups = group_count(n);
  const uint64_t gsize = kBlockElems * kGroupLeaves;
  std::vector<double> buf;
  for (size_t g = 0; g < ngroups && out.size() < static_cast<size_t>(k); ++g) {
    if ((side_a ? groups[g].nz_a : groups[g].nz_b) == 0) continue;
    const uint64_t off = g * gsize, m = std::min<uint64_t>(gsize, n - off);
    buf.resize(m);
    decode::to_double(t, raw + off * dtype_size(t), m, buf.data());
    for (uint64_t i = 0; i < m && out.size() < static_cast<size_t>(k); ++i)
      if (buf[i] != 0 || std::isnan(buf[i])) out.push_back({first + off + i, buf[i]});
  }
}

}  // namespace

void assemble(const PairRule& r, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n,
              const ChunkResult& res, const GroupInfo* groups, Partial& out) {
  const size_t ngroups = group_count(n);
  out = Partial{};
  const Exact& x = res.exact;
  fill_side(out.a, n, x.fin_a, x.nz_a, x.nan_a, x.pinf_a, x.ninf_a, x.min_a, x.max_a, x.cks_a, res.hist);
  first_nonzero(r.ta, a, first, n, groups, true, p.first_k, out.a.first_nonzero);
  for (int i = 0; i < res.stack_size; ++i) out.tree.push(res.stack[i].level, res.stack[i].node);
  if (!r.pair) {
    out.bytes = n * r.ea;
    return;
  }
  fill_side(out.b, n, x.fin_b, x.nz_b, x.nan_b, x.pinf_b, x.ninf_b, x.min_b, x.max_b, x.cks_b, res.hist + kBins);
  first_nonzero(r.tb, b, first, n, groups, false, p.first_k, out.b.first_nonzero);
  DiffExact& d = out.d;
  d.finite_pairs = x.fp;
  d.mismatches = x.mis;
  d.nan_mismatch = x.nanm;
  d.inf_mismatch = x.infm;
  d.bits_differ = r.same ? x.bits : 0;
  d.max_ulp = r.same ? x.ulp : 0;
  if (r.same && p.exact) d.mismatches = d.bits_differ;
  for (int i = 0; i < kBins; ++i) d.err_hist.counts[i] = res.hist[2 * kBins + i];
  if (x.fp > 0) {
    d.has_max = true;
    d.max_abs = {x.abs_v, first + x.abs_i, value_at(r.ta, a, x.abs_i), value_at(r.tb, b, x.abs_i)};
    d.max_rel = {x.rel_v, first + x.rel_i, value_at(r.ta, a, x.rel_i), value_at(r.tb, b, x.rel_i)};
  }
  // Worst elements: groups in order, only those whose largest |b - a| can enter the list.
  const uint64_t gsize = kBlockElems * kGroupLeaves;
  std::vector<double> va, vb;
  for (size_t g = 0; g < ngroups; ++g) {
    if (groups[g].max_ad < 0 || !worst_wants(d.worst, p.worst_k, groups[g].max_ad)) continue;
    const uint64_t off = g * gsize, m = std::min<uint64_t>(gsize, n - off);
    va.resize(m);
    vb.resize(m);
    decode::to_double(r.ta, a + off * r.ea, m, va.data());
    decode::to_double(r.tb, b + off * r.eb, m, vb.data());
    worst_scan(va.data(), vb.data(), m, first + off, p.worst_k, d.worst);
  }
  out.bytes = n * (r.ea + r.eb);
}

void in_device_chunks(const PairRule& r, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                      uint64_t n, Partial& out, const ChunkFn& one) {
  if (n <= kMaxDeviceChunk) return one(a, b, first, n, out);
  Partial part;
  for (uint64_t f = 0; f < n; f += kMaxDeviceChunk) {
    const uint64_t m = std::min<uint64_t>(kMaxDeviceChunk, n - f);
    one(a + f * r.ea, r.pair ? b + f * r.eb : nullptr, first + f, m, f == 0 ? out : part);
    if (f) merge_partial(out, part, p.first_k, p.worst_k);
  }
}

namespace {

class EmulatorBackend final : public ComputeBackend {
 public:
  std::string name() const override { return "gpu-emu (the CUDA kernels' algorithm on the host)"; }
  void pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n,
                  Partial& out) override {
    run(pair_rule(p), p, a, b, first, n, out);
  }
  void side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n, Partial& out) override {
    PairParams p;
    p.type_a = p.type_b = type;
    p.first_k = first_k;
    run(side_rule(type), p, raw, nullptr, first, n, out);
  }

 private:
  static void run(const PairRule& r, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                  uint64_t n, Partial& out) {
    in_device_chunks(r, p, a, b, first, n, out, [&](const uint8_t* sa, const uint8_t* sb, uint64_t f, uint64_t m, Partial& o) {
      auto res = std::make_unique<ChunkResult>();
      std::vector<GroupInfo> groups;
      emulate_chunk(r, sa, sb, f, m, *res, groups);
      assemble(r, p, sa, sb, f, m, *res, groups.data(), o);
    });
  }
};

}  // namespace

std::unique_ptr<ComputeBackend> make_emulator_backend() { return std::make_unique<EmulatorBackend>(); }

}  // namespace tensordiff::gpu
