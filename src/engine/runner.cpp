#include <cstdio>
#include "engine/runner.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <new>
#include <thread>

#include "core/sums.hpp"

#include "engine/group.hpp"
#include "engine/ordered_pool.hpp"
#include "engine/partial_wire.hpp"
#include "engine/uniform.hpp"
#include "io/byte_order.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
uint64_t floor_pow2(uint64_t x) { return x == 0 ? 0 : uint64_t(1) << (63 - __builtin_clzll(x)); }

struct Item {
  size_t job;
  uint64_t first, n;
  bool last;
};

void read_side(Source& src, size_t index, uint64_t first, uint64_t n, uint8_t* dst) {
  src.read(index, first, n, dst);
  const TensorInfo& t = src.tensors()[index];
  if (t.big_endian) swap_bytes_inplace(dst, n, dtype_size(t.dtype));
}
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

void run_jobs(const std::vector<Job>& jobs, const RunPlan& plan_in, ComputeBackend& backend,
              const DoneFn& on_done) {
  Group& group = process_group();
  const bool shared = group.size() > 1;
  RunPlan plan = plan_in;
  if (shared) {
    // Every rank numbers the chunks alike: rank 0's chunk size (the results do not depend on
    // it; the split does).
    wire::Writer w;
    w.u64(plan.chunk_bytes);
    const std::vector<uint8_t> b = group.broadcast(w.data());
    wire::Reader r(b.data(), b.size());
    plan.chunk_bytes = r.u64();
  }
  // Items (one chunk of one job) are numbered, not stored: a tensor that claims 2^48 elements
  // costs nothing until its chunks are read (issue 11). item_start[j]: the first item of job j.
  std::vector<uint64_t> item_start(jobs.size() + 1, 0), chunk(jobs.size());
  uint64_t buf_bytes = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const Job& job = jobs[j];
    const size_t es = std::max(dtype_size(job.params.type_a),
                               job.b ? dtype_size(job.params.type_b) : size_t(1));
    chunk[j] = chunk_elements(plan.chunk_bytes, es);
    buf_bytes = std::max(buf_bytes, std::min(chunk[j], job.count) * es);
    // One item for a job computed without reads: never written, or failing up front.
    const bool single = (job.uniform_a && (!job.b || job.uniform_b)) || job.error;
    const uint64_t n = job.count == 0 || single ? 1 : (job.count + chunk[j] - 1) / chunk[j];
    if (single) chunk[j] = std::max<uint64_t>(job.count, 1);
    item_start[j + 1] = item_start[j] + n;
  }
  auto item = [&](uint64_t i) {
    const size_t j = static_cast<size_t>(std::upper_bound(item_start.begin(), item_start.end(), i) -
                                         item_start.begin() - 1);
    const uint64_t f = (i - item_start[j]) * chunk[j];
    const uint64_t n = std::min(chunk[j], jobs[j].count - std::min(f, jobs[j].count));
    return Item{j, f, n, i + 1 == item_start[j + 1]};
  };
  // An MPI group splits the chunks into contiguous ranges of near-equal bytes (one large
  // tensor is shared by every rank, many small ones too); each rank reduces its range and
  // rank 0 merges the ranges in order (engine/group.hpp).
  uint64_t lo = 0, hi = item_start.back();
  if (shared) {
    std::vector<uint64_t> cost(item_start.back() + 1, 0);
    uint64_t plan_hash = 1469598103934665603ull;
    for (uint64_t i = 0; i < item_start.back(); ++i) {
      const Item it = item(i);
      const Job& job = jobs[it.job];
      const bool single = (job.uniform_a && (!job.b || job.uniform_b)) || job.error;
      cost[i + 1] = cost[i] + (single ? 1 : it.n * (dtype_size(job.params.type_a) +
                                                      (job.b ? dtype_size(job.params.type_b) : 0)));
    }
    for (const Job& j : jobs) plan_hash = (plan_hash ^ j.count ^ (uint64_t(j.params.type_a) << 56)) * 1099511628211ull;
    plan_hash = (plan_hash ^ item_start.back()) * 1099511628211ull;
    // The ranks must have listed the same dumps (each lists them; the plan is compared).
    wire::Writer w;
    w.u64(plan_hash);
    const std::vector<uint8_t> b = group.broadcast(w.data());
    wire::Reader r(b.data(), b.size());
    std::optional<std::string> mismatch;
    if (r.u64() != plan_hash) mismatch = "this rank sees other dumps than rank 0 (the files must be the same on every node)";
    if (auto e = group.agree(mismatch)) throw Error(ErrorCode::kIo, *e);
    const uint64_t total = cost.back(), n = static_cast<uint64_t>(group.size()), k = static_cast<uint64_t>(group.rank());
    auto boundary = [&](uint64_t part) {  // the first item at or past part/n of the bytes
      const unsigned __int128 target = static_cast<unsigned __int128>(total) * part / n;
      return static_cast<uint64_t>(std::lower_bound(cost.begin(), cost.end(), static_cast<uint64_t>(target)) -
                                   cost.begin());
    };
    lo = std::min(boundary(k), item_start.back());
    hi = k + 1 == n ? item_start.back() : std::min(boundary(k + 1), item_start.back());
  }
  const size_t window = 4 * plan.threads;
  std::vector<Partial> slots(window);
  std::vector<std::string> slot_error(window);  // a chunk whose read failed: why
  // A job whose read failed: its later chunks are not read (the first error in chunk order
  // is still the one reported: the chunk that failed is merged like any other).
  std::unique_ptr<std::atomic<bool>[]> failed(new std::atomic<bool>[jobs.size()]());
  std::vector<char> skipped(window, 0);
  // One pair of read buffers per worker, reused for every chunk it reads; the backend
  // allocates them (pinned memory for the GPU).
  struct Buffer {
    ComputeBackend* owner = nullptr;
    uint8_t* p = nullptr;
    size_t size = 0;
    uint8_t* data() { return p; }
    void resize(ComputeBackend& b, size_t n) {
      if (n <= size) return;
      release();
      owner = &b;
      p = b.alloc_host(n);
      size = n;
    }
    void release() {
      if (p) owner->free_host(p);
      p = nullptr;
      size = 0;
    }
    ~Buffer() { release(); }
  };
  std::vector<Buffer> buf_a(plan.threads), buf_b(plan.threads);
  Partial acc;
  std::string job_error;  // the first failed chunk of the job being merged
  bool job_failed = false;  // a chunk of it failed or was skipped: its partial is not merged
  const int first_k = jobs.empty() ? 5 : jobs.front().params.first_k;
  const int worst_k = jobs.empty() ? 5 : jobs.front().params.worst_k;

  auto compute = [&](size_t i, unsigned w) {
    const Item it = item(i);
    const Job& job = jobs[it.job];
    try {
      buf_a[w].resize(backend, buf_bytes);
      if (job.b) buf_b[w].resize(backend, buf_bytes);
    } catch (const std::bad_alloc&) {
      throw Error(ErrorCode::kOutOfMemory, "out of memory allocating " +
                                               std::to_string(buf_bytes >> 20) +
                                               " MiB read buffers; lower --chunk-mib, --memory-mib or --threads");
    }
    Partial& out = slots[i % window];
    slot_error[i % window].clear();
    skipped[i % window] = 0;
    if (job.error) {
      slot_error[i % window] = *job.error;
      return;
    }
    const bool in_order = job.a->sequential(job.ia) || (job.b && job.b->sequential(job.ib));
    if (!in_order && failed[it.job].load(std::memory_order_relaxed)) {
      skipped[i % window] = 1;
      return;
    }
    if (job.uniform_a && (!job.b || job.uniform_b)) {
      auto le = [&](std::vector<uint8_t> v, Source& s, size_t idx) {
        if (s.tensors()[idx].big_endian) swap_bytes_inplace(v.data(), 1, v.size());
        return v;
      };
      out = uniform_partial(backend, job.params, le(*job.uniform_a, *job.a, job.ia),
                            job.b ? le(*job.uniform_b, *job.b, job.ib) : std::vector<uint8_t>{},
                            job.count, !job.b);
      return;
    }
    // One unreadable tensor (a corrupt chunk, an unavailable filter) fails its own pair;
    // every other pair is still compared. B's chunk is read even when A's failed if B is a
    // stream (its next chunk waits for this one).
    std::string error;
    auto read = [&](Source& s, size_t idx, uint8_t* dst) {
      try {
        read_side(s, idx, it.first, it.n, dst);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kOutOfMemory || e.code() == ErrorCode::kInternal) throw;
        if (error.empty()) error = e.what();
      }
    };
    read(*job.a, job.ia, buf_a[w].data());
    if (job.b && (error.empty() || job.b->sequential(job.ib))) read(*job.b, job.ib, buf_b[w].data());
    if (!error.empty()) {
      slot_error[i % window] = error;
      failed[it.job].store(true, std::memory_order_relaxed);
      return;
    }
    if (job.b) backend.pair_chunk(job.params, buf_a[w].data(), buf_b[w].data(), it.first, it.n, out);
    else backend.side_chunk(job.params.type_a, job.params.first_k, buf_a[w].data(), it.first, it.n, out);
  };
  // Progress: bytes of both sides merged so far, reported at most every 100 ms.
  auto side_bytes = [&](const Job& j, uint64_t n) {
    return n * (dtype_size(j.params.type_a) + (j.b ? dtype_size(j.params.type_b) : 0));
  };
  uint64_t total_bytes = 0, done_bytes = 0;
  if (plan.progress)
    for (const Job& j : jobs) total_bytes += side_bytes(j, j.count);
  auto last_report = std::chrono::steady_clock::now();
  wire::Writer out;  // an MPI rank's shares
  auto merge = [&](size_t i) {
    const Item it = item(i);
    if (plan.progress) {
      done_bytes += side_bytes(jobs[it.job], it.n);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_report > std::chrono::milliseconds(100) || i + 1 == item_start.back()) {
        last_report = now;
        plan.progress(done_bytes, total_bytes, jobs[it.job].a->tensors()[jobs[it.job].ia].name);
      }
    }
    Partial& p = slots[i % window];
    const bool start = it.first == 0 || i == lo;  // a job's first chunk, or this rank's
    if (start) {
      job_error.clear();
      job_failed = false;
    }
    if (!slot_error[i % window].empty() && job_error.empty()) job_error = slot_error[i % window];
    job_failed = job_failed || skipped[i % window] || !job_error.empty();
    if (!job_failed) {
      if (start) {
        acc = std::move(p);
        // A chunk's tree is built from its own block 0; within the tensor it starts here.
        if (it.first != 0) acc.tree.rebase(it.first / kBlockElems);
      } else {
        merge_partial(acc, p, first_k, worst_k);
      }
    }
    if (shared) {
      if (it.last || i + 1 == hi) {  // this rank's share of the job: to rank 0
        out.u64(it.job);
        out.u8(job_failed);
        out.str(job_error);
        if (!job_failed) encode(out, acc);
      }
      return true;
    }
    if (!it.last) return true;
    return on_done(it.job, acc, job_error.empty() ? nullptr : &job_error);
  };
  if (!shared) {
    ordered_parallel_for(item_start.back(), plan.threads, window, compute, merge);
    return;
  }
  std::optional<std::string> failure;
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t_reduce = Clock::now();
  try {
    ordered_parallel_for(hi - lo, plan.threads, window, [&](size_t k, unsigned w) { compute(lo + k, w); },
                         [&](size_t k) { return merge(lo + k); });
  } catch (const std::exception& e) {
    failure = e.what();  // every rank ends with it (no rank waits on one that failed)
  }
  const auto t_gather = Clock::now();
  if (auto e = group.agree(failure)) throw Error(ErrorCode::kIo, *e);
  const std::vector<std::vector<uint8_t>> shares = group.gather(out.data());
  const auto t_merge = Clock::now();
  auto log_times = [&] {
    if (!plan.log) return;
    char line[256];
    std::snprintf(line, sizeof line,
                  "rank %d/%d: chunks [%llu, %llu) of %llu, reduced in %.3f s, sent %zu bytes, waited+gathered %.3f s",
                  group.rank(), group.size(), (unsigned long long)lo, (unsigned long long)hi,
                  (unsigned long long)item_start.back(), seconds(t_reduce, t_gather), out.data().size(),
                  seconds(t_gather, t_merge));
    plan.log(line);
  };
  if (group.rank() != 0) return log_times();
  struct MergeLog {  // on every way out of the merge below
    std::function<void()> f;
    ~MergeLog() {
      try { f(); } catch (...) {}
    }
  } merge_log{[&] {
    log_times();
    if (!plan.log) return;
    size_t bytes = 0;
    for (const auto& sh : shares) bytes += sh.size();
    char line[160];
    std::snprintf(line, sizeof line, "rank 0: merged %zu bytes from %zu ranks in %.3f s", bytes, shares.size(),
                  seconds(t_merge, Clock::now()));
    plan.log(line);
  }};
  // Rank 0: the shares in rank order are the jobs' chunk ranges in order.
  size_t current = SIZE_MAX;
  Partial total;
  std::string error;
  bool job_bad = false, have = false;
  auto finish = [&] {
    if (current == SIZE_MAX) return true;
    if (job_bad && error.empty()) error = "a chunk could not be read";
    return on_done(current, total, job_bad ? &error : nullptr);
  };
  for (const auto& share : shares) {
    wire::Reader r(share.data(), share.size());
    while (r.left() > 0) {
      const size_t j = static_cast<size_t>(r.u64());
      const bool f = r.u8() != 0;
      const std::string msg = r.str();
      if (j != current) {
        if (!finish()) return;
        current = j;
        job_bad = have = false;
        error.clear();
        total = Partial();
      }
      Partial part;
      if (!f) part = decode_partial(r);
      if (f && !job_bad) {
        job_bad = true;
        error = msg;
      } else if (!job_bad) {
        if (!have) total = std::move(part);
        else merge_partial(total, part, first_k, worst_k);
        have = true;
      }
    }
  }
  finish();
}

}  // namespace tensordiff
