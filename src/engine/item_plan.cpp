#include "engine/item_plan.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "io/wire.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
size_t widest(const Job& job) {
  return std::max(dtype_size(job.params.type_a), job.b ? dtype_size(job.params.type_b) : size_t(1));
}
uint64_t item_bytes(const Job& job, const Item& it) {
  return ItemPlan::without_reads(job)
             ? 1
             : it.n * (dtype_size(job.params.type_a) + (job.b ? dtype_size(job.params.type_b) : 0));
}
}  // namespace

bool ItemPlan::without_reads(const Job& job) {
  return (job.uniform_a() && (!job.b || job.uniform_b())) || job.error();
}

ItemPlan::ItemPlan(const std::vector<Job>& jobs, uint64_t chunk_bytes)
    : jobs_(jobs), start_(jobs.size() + 1, 0), chunk_(jobs.size()) {
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Job& job = jobs[j];
    const size_t es = widest(job);
    chunk_[j] = chunk_elements(chunk_bytes, es);
    buffer_bytes_ = std::max(buffer_bytes_, std::min(chunk_[j], job.count) * es);
    const bool single = without_reads(job);
    const uint64_t n = job.count == 0 || single ? 1 : (job.count + chunk_[j] - 1) / chunk_[j];
    if (single) chunk_[j] = std::max<uint64_t>(job.count, 1);
    start_[j + 1] = start_[j] + n;
  }
}

Item ItemPlan::at(uint64_t i) const {
  const size_t j = static_cast<size_t>(std::upper_bound(start_.begin(), start_.end(), i) - start_.begin() - 1);
  const uint64_t f = (i - start_[j]) * chunk_[j];
  const uint64_t n = std::min(chunk_[j], jobs_[j].count - std::min(f, jobs_[j].count));
  return Item{j, f, n, i + 1 == start_[j + 1]};
}

uint64_t ItemPlan::hash() const {
  uint64_t h = 1469598103934665603ull;
  for (const Job& j : jobs_) h = (h ^ j.count ^ (uint64_t(j.params.type_a) << 56)) * 1099511628211ull;
  return (h ^ size()) * 1099511628211ull;
}

uint64_t agreed_chunk_bytes(Group& group, uint64_t chunk_bytes) {
  if (group.size() == 1) return chunk_bytes;
  wire::Writer w;
  w.u64(chunk_bytes);
  const std::vector<uint8_t> b = group.broadcast(w.data());
  wire::Reader r(b.data(), b.size());
  return r.u64();
}

ItemRange rank_range(const ItemPlan& plan, const std::vector<Job>& jobs, Group& group) {
  if (group.size() == 1) return {0, plan.size()};
  std::vector<uint64_t> cost(plan.size() + 1, 0);
  for (uint64_t i = 0; i < plan.size(); ++i) {
    const Item it = plan.at(i);
    cost[i + 1] = cost[i] + item_bytes(jobs[it.job], it);
  }
  // The ranks must have listed the same dumps (each lists them; the plan is compared).
  wire::Writer w;
  w.u64(plan.hash());
  const std::vector<uint8_t> b = group.broadcast(w.data());
  wire::Reader r(b.data(), b.size());
  std::optional<std::string> mismatch;
  if (r.u64() != plan.hash()) mismatch = "this rank sees other dumps than rank 0 (the files must be the same on every node)";
  if (auto e = group.agree(mismatch)) throw Error(ErrorCode::kIo, *e);
  const uint64_t total = cost.back(), n = static_cast<uint64_t>(group.size()), k = static_cast<uint64_t>(group.rank());
  auto boundary = [&](uint64_t part) {  // the first item at or past part/n of the bytes
    const unsigned __int128 target = static_cast<unsigned __int128>(total) * part / n;
    return static_cast<uint64_t>(std::lower_bound(cost.begin(), cost.end(), static_cast<uint64_t>(target)) -
                                 cost.begin());
  };
  ItemRange range;
  range.lo = std::min(boundary(k), plan.size());
  range.hi = k + 1 == n ? plan.size() : std::min(boundary(k + 1), plan.size());
  return range;
}

}  // namespace tensordiff
