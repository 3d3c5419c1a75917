#include "engine/chunk_reduce.hpp"

#include <new>

#include "engine/uniform.hpp"
#include "io/byte_order.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
void read_side(Source& src, size_t index, uint64_t first, uint64_t n, uint8_t* dst) {
  src.read(index, first, n, dst);
  const TensorInfo& t = src.tensors()[index];
  if (t.big_endian) swap_bytes_inplace(dst, n, dtype_size(t.dtype));
}
}  // namespace

void ChunkReducer::Buffer::resize(ComputeBackend& b, size_t n) {
  if (n <= size) return;
  release();
  owner = &b;
  p = b.alloc_host(n);
  size = n;
}

void ChunkReducer::Buffer::release() {
  if (p) owner->free_host(p);
  p = nullptr;
  size = 0;
}

ChunkReducer::ChunkReducer(const std::vector<Job>& jobs, const ItemPlan& plan, ComputeBackend& backend,
                           unsigned workers)
    : jobs_(jobs), plan_(plan), backend_(backend), buf_a_(workers), buf_b_(workers),
      failed_(new std::atomic<bool>[jobs.size()]()) {}

ChunkReducer::~ChunkReducer() = default;

void ChunkReducer::reduce(uint64_t i, unsigned w, Slot& out) {
  const Item it = plan_.at(i);
  const Job& job = jobs_[it.job];
  const uint64_t buf_bytes = plan_.buffer_bytes();
  try {
    buf_a_[w].resize(backend_, buf_bytes);
    if (job.b) buf_b_[w].resize(backend_, buf_bytes);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorCode::kOutOfMemory, "out of memory allocating " + std::to_string(buf_bytes >> 20) +
                                             " MiB read buffers; lower --chunk-mib, --memory-mib or --threads");
  }
  out.error.clear();
  out.skipped = false;
  if (job.error()) {
    out.error = *job.error();
    return;
  }
  const bool in_order = job.a->sequential(job.ia) || (job.b && job.b->sequential(job.ib));
  if (!in_order && failed_[it.job].load(std::memory_order_relaxed)) {
    out.skipped = true;
    return;
  }
  if (job.uniform_a() && (!job.b || job.uniform_b())) {
    auto le = [&](std::vector<uint8_t> v, Source& s, size_t idx) {
      if (s.tensors()[idx].big_endian) swap_bytes_inplace(v.data(), 1, v.size());
      return v;
    };
    out.partial = uniform_partial(backend_, job.params, le(*job.uniform_a(), *job.a, job.ia),
                                  job.b ? le(*job.uniform_b(), *job.b, job.ib) : std::vector<uint8_t>{}, job.count,
                                  !job.b);
    return;
  }
  // One unreadable tensor (a corrupt chunk, an unavailable filter) fails its own pair; every
  // other pair is still compared. B's chunk is read even when A's failed if B is a stream (its
  // next chunk waits for this one).
  std::string error;
  auto read = [&](Source& s, size_t idx, uint8_t* dst) {
    try {
      read_side(s, idx, it.first, it.n, dst);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kOutOfMemory || e.code() == ErrorCode::kInternal) throw;
      if (error.empty()) error = e.what();
    }
  };
  read(*job.a, job.ia, buf_a_[w].p);
  if (job.b && (error.empty() || job.b->sequential(job.ib))) read(*job.b, job.ib, buf_b_[w].p);
  if (!error.empty()) {
    out.error = error;
    failed_[it.job].store(true, std::memory_order_relaxed);
    return;
  }
  if (job.b) backend_.pair_chunk(job.params, buf_a_[w].p, buf_b_[w].p, it.first, it.n, out.partial);
  else backend_.side_chunk(job.params.type_a, job.params.first_k, buf_a_[w].p, it.first, it.n, out.partial);
}

}  // namespace tensordiff
