#include <cstdio>
#include "engine/runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <exception>
#include <new>
#include <thread>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "core/sums.hpp"

#include "engine/group.hpp"
#include "engine/chunk_reduce.hpp"
#include "engine/item_plan.hpp"
#include "engine/ordered_pool.hpp"
#include "engine/share_merge.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
uint64_t floor_pow2(uint64_t x) { return x == 0 ? 0 : uint64_t(1) << (63 - __builtin_clzll(x)); }

}  // namespace

RunPlan plan_run(const EngineOptions& o, const ComputeBackend& backend) {
  RunPlan p;
  p.threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  p.threads = std::min(p.threads, kMaxThreads);
  const uint64_t budget = std::max<uint64_t>(o.memory_bytes / (2ull * p.threads), 1);
  p.chunk_bytes = std::min(o.chunk_bytes ? o.chunk_bytes : backend.preferred_chunk_bytes(), budget);
  p.progress = o.progress;
  p.log = o.log;
  return p;
}

uint64_t chunk_elements(uint64_t chunk_bytes, size_t elem_size) {
  const uint64_t blocks = floor_pow2(std::max<uint64_t>(chunk_bytes / elem_size / kBlockElems, 1));
  return blocks * kBlockElems;
}

std::optional<std::string> known_read_error(const Source& a, size_t ia, const Source* b, size_t ib) {
  if (auto e = a.read_error(ia)) return e;
  return b ? b->read_error(ib) : std::nullopt;
}

// The pipeline, step by step:
//   1. number the items (engine/item_plan.hpp) and, in an MPI group, take this rank's range;
//   2. reduce items in worker threads (engine/chunk_reduce.hpp), a window of them at a time;
//   3. merge them in order into each job's partial (engine/share_merge.hpp): to on_done alone,
//      into this rank's share in a group;
//   4. a group gathers the shares at rank 0, which merges them in rank order.
//
//   workers:   [reduce i] [reduce i+1] ... [reduce i+window-1]     (any order, any thread)
//   merger:    ---------------- merge i -> merge i+1 -> ...         (item order, one thread)
void run_pipeline(const std::vector<Job>& jobs, const RunPlan& plan_in, ComputeBackend& backend,
                  const DoneFn& on_done) {
  Group& group = process_group();
  const bool shared = group.size() > 1;
  RunPlan plan = plan_in;
  plan.chunk_bytes = agreed_chunk_bytes(group, plan.chunk_bytes);
  const ItemPlan items(jobs, plan.chunk_bytes);
  const ItemRange range = rank_range(items, jobs, group);
  const size_t window = 4 * plan.threads;
  std::vector<Slot> slots(window);
  ChunkReducer reducer(jobs, items, backend, plan.threads);
  wire::Writer share;  // an MPI rank's shares
  OrderedMerge merger(jobs, items, range, plan, on_done, shared ? &share : nullptr);
  auto reduce = [&](size_t k, unsigned w) { reducer.reduce(range.lo + k, w, slots[(range.lo + k) % window]); };
  auto merge = [&](size_t k) { return merger.add(range.lo + k, slots[(range.lo + k) % window]); };
  if (!shared) {
    ordered_parallel_for(range.hi - range.lo, plan.threads, window, reduce, merge);
    return;
  }
  std::optional<std::string> failure;
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t_reduce = Clock::now();
  try {
    ordered_parallel_for(range.hi - range.lo, plan.threads, window, reduce, merge);
  } catch (const std::exception& e) {
    failure = e.what();  // every rank ends with it (no rank waits on one that failed)
  }
  const auto t_gather = Clock::now();
  if (auto e = group.agree(failure)) throw Error(ErrorCode::kIo, *e);
  const std::vector<std::vector<uint8_t>> shares = group.gather(share.data());
  const auto t_merge = Clock::now();
  if (plan.log) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "rank %d/%d: chunks [%llu, %llu) of %llu, reduced in %.3f s, sent %zu bytes, waited+gathered %.3f s",
                  group.rank(), group.size(), (unsigned long long)range.lo, (unsigned long long)range.hi,
                  (unsigned long long)items.size(), seconds(t_reduce, t_gather), share.data().size(),
                  seconds(t_gather, t_merge));
    plan.log(line);
  }
  if (group.rank() != 0) return;
  struct MergeLog {  // on every way out of the merge below
    std::function<void()> f;
    ~MergeLog() {
      try { f(); } catch (...) {}
    }
  } merge_log{[&] {
    if (!plan.log) return;
    size_t bytes = 0;
    for (const auto& sh : shares) bytes += sh.size();
    char line[160];
    std::snprintf(line, sizeof line, "rank 0: merged %zu bytes from %zu ranks in %.3f s", bytes, shares.size(),
                  seconds(t_merge, Clock::now()));
    plan.log(line);
  }};
  merge_shares(shares, jobs.empty() ? 5 : jobs.front().params.first_k, jobs.empty() ? 5 : jobs.front().params.worst_k,
               on_done);
}

void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void run_jobs(size_t count, const std::function<Job(size_t)>& make, const RunPlan& plan, ComputeBackend& backend,
              const MadeDoneFn& on_done, size_t batch) {
  batch = std::max<size_t>(batch, 1);
  RunPlan each = plan;
  uint64_t total = 0, before = 0;  // bytes of every job, and of the batches done
  if (plan.progress && count > batch) {
    for (size_t j = 0; j < count; ++j) {
      const Job job = make(j);
      total += side_bytes(job, job.count);
    }
    each.progress = [&](uint64_t done, uint64_t, const std::string& tensor) { plan.progress(before + done, total, tensor); };
  }
  Group& group = process_group();
  std::vector<Job> jobs;
  for (size_t lo = 0; lo < count; lo += batch) {
    const size_t hi = std::min(count, lo + batch);
    const bool last = hi == count;
    bool more = true;
    std::optional<std::string> failure;  // this rank's, between batches of a group
    std::exception_ptr thrown;
    try {
      jobs.clear();
      jobs.reserve(hi - lo);
      for (size_t j = lo; j < hi; ++j) jobs.push_back(make(j));
      run_pipeline(jobs, each, backend, [&](size_t j, Partial& p, const std::string* error) {
        return more = on_done(lo + j, jobs[j], p, error);
      });
    } catch (const std::exception& e) {
      // After the last batch, or alone, as run_pipeline ends a run: the caller sees it.
      if (last || group.size() == 1) throw;
      failure = e.what();
      thrown = std::current_exception();
    }
    if (last) break;
    if (group.size() > 1) {
      // Every rank learns of a failure anywhere in this batch (rank 0 merges, and runs on_done,
      // after the pipeline's own agreement; any rank can fail making the jobs), then whether
      // rank 0, which merged, wants the next batch: no rank waits on one that has left.
      if (auto e = group.agree(failure)) {
        if (thrown) std::rethrow_exception(thrown);
        throw Error(ErrorCode::kIo, *e);
      }
      more = group.broadcast({uint8_t(more)}).at(0) != 0;
    }
    if (!more) break;
    for (const Job& job : jobs) before += side_bytes(job, job.count);
    release_free_memory();
  }
}

}  // namespace tensordiff
