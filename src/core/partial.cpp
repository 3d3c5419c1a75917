#include "core/partial.hpp"

#include <algorithm>
#include <cmath>

namespace tensordiff {

namespace {

void merge_side(SideExact& acc, const SideExact& s, int first_k) {
  acc.count += s.count;
  acc.nonzero += s.nonzero;
  acc.nan += s.nan;
  acc.pos_inf += s.pos_inf;
  acc.neg_inf += s.neg_inf;
  acc.finite += s.finite;
  acc.min = min_signed(acc.min, s.min);
  acc.max = max_signed(acc.max, s.max);
  for (const auto& e : s.first_nonzero) {
    if (acc.first_nonzero.size() >= static_cast<size_t>(first_k)) break;
    acc.first_nonzero.push_back(e);
  }
  acc.mag_hist.add(s.mag_hist);
  acc.checksum_sum += s.checksum_sum;
  acc.checksum_known = acc.checksum_known && s.checksum_known;
}

// Ties keep the earlier (smaller) flat index: `acc` always precedes `later`.
void take_max(ExtremeAt& acc, const ExtremeAt& later) {
  if (later.value > acc.value) acc = later;
}

}  // namespace

void SumTree::push(int level, const TreeNode& node) {
  TreeNode cur = node;
  uint64_t start = end_;
  end_ += uint64_t(1) << level;
  while (!stack_.empty() && stack_.back().level == level && level < 63 &&
         stack_.back().start % (uint64_t(2) << level) == 0) {
    cur = combine(stack_.back().sums, cur);
    start = stack_.back().start;
    stack_.pop_back();
    ++level;
  }
  stack_.push_back({level, start, cur});
}

void SumTree::append(const SumTree& later) {
  for (const Node& n : later.stack_) push(n.level, n.sums);
}

TreeNode SumTree::total() const {
  if (stack_.empty()) return {};
  TreeNode t = stack_.back().sums;
  for (size_t i = stack_.size() - 1; i-- > 0;) t = combine(stack_[i].sums, t);
  return t;
}

void SumTree::rebase(uint64_t first) {
  for (Node& n : stack_) n.start += first;
  end_ += first;
}

SumTree SumTree::from_nodes(uint64_t end, std::vector<Node> nodes) {
  SumTree t;
  t.stack_ = std::move(nodes);
  t.end_ = end;
  return t;
}

void merge_partial(Partial& acc, const Partial& later, int first_k, int worst_k) {
  acc.tree.append(later.tree);
  merge_side(acc.a, later.a, first_k);
  merge_side(acc.b, later.b, first_k);
  DiffExact& d = acc.d;
  const DiffExact& s = later.d;
  d.finite_pairs += s.finite_pairs;
  d.mismatches += s.mismatches;
  d.nan_mismatch += s.nan_mismatch;
  d.inf_mismatch += s.inf_mismatch;
  d.bits_differ += s.bits_differ;
  d.max_ulp = std::max(d.max_ulp, s.max_ulp);
  if (s.has_max) {
    if (!d.has_max) {
      d.max_abs = s.max_abs;
      d.max_rel = s.max_rel;
      d.has_max = true;
    } else {
      take_max(d.max_abs, s.max_abs);
      take_max(d.max_rel, s.max_rel);
    }
  }
  d.err_hist.add(s.err_hist);
  worst_merge(d.worst, s.worst, worst_k);
  acc.bytes += later.bytes;
}

SideStats finalize_side(const SideExact& e, const SideSums& s, uint64_t byte_count, bool details) {
  SideStats r;
  r.count = e.count;
  r.nonzero = e.nonzero;
  r.nan = e.nan;
  r.pos_inf = e.pos_inf;
  r.neg_inf = e.neg_inf;
  r.finite = e.finite;
  if (e.finite > 0) {
    r.min = e.min;
    r.max = e.max;
    r.mean = std::ldexp(s.mean, s.scale);
    r.std = std::ldexp(std::sqrt(std::max(0.0, s.m2 / s.n)), s.scale);
    r.l2 = std::ldexp(std::sqrt(s.sumsq), s.scale);
  }
  if (details) {
    r.first_nonzero = e.first_nonzero;
    r.mag_hist = SparseHistogram::from(e.mag_hist);
  }
  r.checksum = finalize_checksum(e.checksum_sum, byte_count);
  r.checksum_known = e.checksum_known;
  return r;
}

DiffStats finalize_diff(const DiffExact& e, const DiffSums& s, uint64_t count, bool same_dtype,
                        bool details) {
  DiffStats r;
  r.count = count;
  r.finite_pairs = e.finite_pairs;
  if (e.finite_pairs > 0 && e.has_max) {
    r.max_abs = e.max_abs;
    r.max_rel = e.max_rel;
    const double n = static_cast<double>(e.finite_pairs);
    r.mean_abs = std::ldexp(s.abs / n, s.scale);
    r.rmse = std::ldexp(std::sqrt(s.d2 / n), s.scale);
  }
  // Norms in the stored units: the scale cancels in rel_l2 and cosine.
  const double nd = std::sqrt(s.d2), na = std::sqrt(s.a2), nb = std::sqrt(s.b2);
  r.rel_l2 = na == 0 ? (nd == 0 ? 0.0 : std::numeric_limits<double>::infinity()) : nd / na;
  if (na == 0 && nb == 0) r.cosine = 1;
  else if (na == 0 || nb == 0) r.cosine = 0;
  else r.cosine = std::clamp(s.ab / (na * nb), -1.0, 1.0);
  r.mismatches = e.mismatches;
  r.nan_mismatch = e.nan_mismatch;
  r.inf_mismatch = e.inf_mismatch;
  r.mismatch_fraction = count ? static_cast<double>(e.mismatches) / count : 0.0;
  r.same_dtype = same_dtype;
  if (same_dtype) {
    r.bits_differ = e.bits_differ;
    r.max_ulp = e.max_ulp;
  }
  if (details) {
    r.err_hist = SparseHistogram::from(e.err_hist);
    r.worst = e.worst;
  }
  return r;
}

SparseHistogram SparseHistogram::from(const ExpHistogram& h) {
  SparseHistogram s;
  for (int i = 0; i < ExpHistogram::kBins; ++i)
    if (h.counts[i]) s.bins.emplace_back(static_cast<uint8_t>(i), h.counts[i]);
  return s;
}

ExpHistogram SparseHistogram::dense() const {
  ExpHistogram h;
  for (const auto& [bin, c] : bins) h.counts[bin] = c;
  return h;
}

uint64_t SparseHistogram::count(int bin) const {
  for (const auto& [b, c] : bins)
    if (b == bin) return c;
  return 0;
}

uint64_t SparseHistogram::total() const {
  uint64_t t = 0;
  for (const auto& [b, c] : bins) t += c;
  return t;
}

uint64_t ExpHistogram::total() const {
  uint64_t t = 0;
  for (auto c : counts) t += c;
  return t;
}

void ExpHistogram::add(const ExpHistogram& o) {
  for (int i = 0; i < kBins; ++i) counts[i] += o.counts[i];
}

std::optional<double> ExpHistogram::quantile_upper_bound(double q) const {
  const uint64_t n = total();
  if (n == 0) return std::nullopt;
  const double target = q * static_cast<double>(n);
  uint64_t cum = 0;
  for (int i = 0; i < kBins; ++i) {
    cum += counts[i];
    if (static_cast<double>(cum) >= target && counts[i] > 0) {
      if (i == kZero) return 0.0;
      if (i == kUnderflow) return std::ldexp(1.0, kMinExp);
      if (i == kOverflow) return std::numeric_limits<double>::infinity();
      return std::ldexp(1.0, kMinExp + (i - kFirstExp) + 1);
    }
  }
  return std::numeric_limits<double>::infinity();
}

}  // namespace tensordiff
