#include "engine/uniform.hpp"

#include <algorithm>
#include <cstring>

namespace tensordiff {

namespace {

std::vector<uint8_t> repeat(const std::vector<uint8_t>& v, uint64_t n) {
  std::vector<uint8_t> out(v.size() * n);
  for (uint64_t i = 0; i < n; ++i) std::memcpy(out.data() + i * v.size(), v.data(), v.size());
  return out;
}

// One block (or the tail) of the constant tensor, computed by the backend itself, so every
// per-element rule is the kernel's own.
Partial block(ComputeBackend& b, const PairParams& p, const std::vector<uint8_t>& va,
              const std::vector<uint8_t>& vb, uint64_t first, uint64_t n, bool side_only) {
  Partial out;
  const auto ra = repeat(va, n);
  if (side_only) {
    b.side_chunk(p.type_a, p.first_k, ra.data(), first, n, out);
  } else {
    const auto rb = repeat(vb, n);
    b.pair_chunk(p, ra.data(), rb.data(), first, n, out);
  }
  return out;
}

void scale_side(SideExact& s, const SideExact& one_block, uint64_t blocks) {
  s.nonzero = one_block.nonzero * blocks;
  s.nan = one_block.nan * blocks;
  s.pos_inf = one_block.pos_inf * blocks;
  s.neg_inf = one_block.neg_inf * blocks;
  s.finite = one_block.finite * blocks;
  for (int i = 0; i < ExpHistogram::kBins; ++i) s.mag_hist.counts[i] = one_block.mag_hist.counts[i] * blocks;
}

// Σ over words [w0, w1) of mix(c + φ·(j+1)) for the constant element `v` of size es: the
// words repeat with the element's pattern, so they are rebuilt from the byte offset.
uint64_t constant_checksum(const std::vector<uint8_t>& v, uint64_t count) {
  const size_t es = v.size();
  const uint64_t bytes = count * es;
  uint64_t sum = 0;
  uint8_t word[8];
  for (uint64_t off = 0, j = 0; off < bytes; off += 8, ++j) {
    std::memset(word, 0, 8);
    for (int k = 0; k < 8 && off + k < bytes; ++k) word[k] = v[(off + k) % es];
    uint64_t w;
    std::memcpy(&w, word, 8);
    sum += checksum_term(w, j);
  }
  return sum;
}

}  // namespace

Partial uniform_partial(ComputeBackend& b, const PairParams& p, const std::vector<uint8_t>& va,
                        const std::vector<uint8_t>& vb, uint64_t count, bool side_only) {
  Partial out;
  out.a.count = out.b.count = count;
  if (count == 0) return block(b, p, va, vb, 0, 0, side_only);
  const uint64_t full = count / kBlockElems, tail = count % kBlockElems;
  // Exact fields from the first block (or the only, shorter one): first nonzeros, worst
  // elements and extremes sit at the smallest indices, so they are the first block's.
  Partial first = block(b, p, va, vb, 0, full ? kBlockElems : tail, side_only);
  out.a.min = first.a.min;
  out.a.max = first.a.max;
  out.a.first_nonzero = first.a.first_nonzero;
  out.b.min = first.b.min;
  out.b.max = first.b.max;
  out.b.first_nonzero = first.b.first_nonzero;
  out.d = first.d;
  const uint64_t per = full ? kBlockElems : tail;
  // Counts and histograms are per element: scale one element's by the count.
  auto per_element = [&](SideExact& s, const SideExact& f) {
    SideExact one = f;
    for (auto* c : {&one.nonzero, &one.nan, &one.pos_inf, &one.neg_inf, &one.finite}) *c /= per;
    for (auto& c : one.mag_hist.counts) c /= per;
    scale_side(s, one, count);
  };
  per_element(out.a, first.a);
  per_element(out.b, first.b);
  DiffExact& d = out.d;
  for (auto* c : {&d.finite_pairs, &d.mismatches, &d.nan_mismatch, &d.inf_mismatch, &d.bits_differ}) *c = *c / per * count;
  for (auto& c : d.err_hist.counts) c = c / per * count;
  // The canonical tree: 2^k identical leaves make the subtree combine(T(k-1), T(k-1)).
  if (full) {
    std::vector<TreeNode> level{first.tree.total()};
    for (uint64_t k = 1; (uint64_t(1) << k) <= full; ++k) level.push_back(combine(level.back(), level.back()));
    for (int k = static_cast<int>(level.size()) - 1; k >= 0; --k)
      if (full & (uint64_t(1) << k)) out.tree.push(k, level[k]);
  }
  if (tail && full) out.tree.push(0, block(b, p, va, vb, full * kBlockElems, tail, side_only).tree.total());
  else if (tail) out.tree = first.tree;
  // The checksum needs every word; beyond kUniformChecksumBytes it stays unknown.
  const size_t ea = va.size(), eb = vb.size();
  if (count * ea <= kUniformChecksumBytes) out.a.checksum_sum = constant_checksum(va, count);
  else out.a.checksum_known = false;
  if (!side_only) {
    if (count * eb <= kUniformChecksumBytes) out.b.checksum_sum = constant_checksum(vb, count);
    else out.b.checksum_known = false;
  }
  out.bytes = 0;  // nothing was read
  return out;
}

}  // namespace tensordiff
