// The CUDA backend behind ComputeBackend: the host side of the chunk kernels (leaf_kernel.cu).
//
// Pipeline. The runner's worker threads each read a chunk into that worker's pinned buffers
// (alloc_host) and call pair_chunk, which takes a context from the pool: the chunk is copied
// in on the context's copy stream, the kernels wait for it on its compute stream (an event
// joins them), the ChunkResult (a few KB) and the group infos (16 B per 8192 elements) come
// back, and the worker sleeps on a blocking-sync event (no spinning core) until they have. With
// W workers, W chunks are in flight at once: each worker's pinned buffers are one slot of the
// ring, so --threads 3 or more (the default is every core) gives a ring of 3 or more slots:
//
//   worker 0:  read c0 | H2D c0 | kernels c0 | D2H | assemble | read c3 | H2D c3 | ...
//   worker 1:           read c1 | H2D c1 | kernels c1 | D2H | assemble | read c4 | ...
//   worker 2:                    read c2 | H2D c2 | kernels c2 | D2H | assemble | ...
//   copy engine:       [H2D c0][H2D c1][H2D c2]        [H2D c3] ...
//   SMs:                        [  c0   ][  c1   ][  c2   ]     ...
//
// Contexts (streams, device buffers, scratch) are reused for every chunk; tensors larger than
// GPU memory stream through in chunks like any other.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/partial.hpp"
#include "kernels/cuda_backend.hpp"
#include "kernels/device_chunk.hpp"
#include "kernels/leaf_kernel.cuh"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// Every CUDA call is checked; a failure becomes the library's error naming the call.
void check(cudaError_t st, const char* call) {
  if (st != cudaSuccess)
    throw Error(ErrorCode::kNoBackend, std::string("CUDA error in ") + call + ": " + cudaGetErrorString(st));
}
#define TD_CUDA(call) check((call), #call)

// cudaMalloc and cudaMallocHost as plain functions (the runtime's are overloaded templates).
cudaError_t device_alloc(void** p, size_t n) { return cudaMalloc(p, n); }
cudaError_t pinned_alloc(void** p, size_t n) { return cudaMallocHost(p, n); }

// Memory that grows (device memory, or pinned host memory); its capacity is zero whenever its
// pointer is (a failed allocation leaves no stale capacity behind for a later chunk to write
// through).
template <cudaError_t (*Alloc)(void**, size_t), cudaError_t (*Free)(void*)>
struct GrowingBuf {
  void* p = nullptr;
  size_t cap = 0;
  void reserve(size_t want) {
    if (want <= cap) return;
    Free(p);
    p = nullptr;
    cap = 0;
    check(Alloc(&p, want), Alloc == &device_alloc ? "cudaMalloc" : "cudaMallocHost");
    cap = want;
  }
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
  ~GrowingBuf() { Free(p); }
};
using DeviceBuf = GrowingBuf<device_alloc, cudaFree>;
using PinnedBuf = GrowingBuf<pinned_alloc, cudaFreeHost>;

struct Context {
  int device = 0, sms = 1;
  cudaStream_t copy = nullptr, compute = nullptr;
  cudaEvent_t copied = nullptr, done = nullptr;
  DeviceBuf a, b, warp_exact, block_hist, nodes0, nodes1, tail, tail_count, groups, result;
  PinnedBuf h_result, h_groups;

  Context(int dev, int sm_count) : device(dev), sms(sm_count) {
    TD_CUDA(cudaSetDevice(device));
    TD_CUDA(cudaStreamCreateWithFlags(&copy, cudaStreamNonBlocking));
    TD_CUDA(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
    TD_CUDA(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
    TD_CUDA(cudaEventCreateWithFlags(&done, cudaEventDisableTiming | cudaEventBlockingSync));
    tail.reserve(sizeof(leaf::StackNode) * (leaf::kGroupLevel + 1));
    tail_count.reserve(sizeof(int));
    result.reserve(sizeof(leaf::ChunkResult));
    h_result.reserve(sizeof(leaf::ChunkResult));
  }
  ~Context() {
    drain();
    if (copied) cudaEventDestroy(copied);
    if (done) cudaEventDestroy(done);
    if (copy) cudaStreamDestroy(copy);
    if (compute) cudaStreamDestroy(compute);
  }
  // After a failure: nothing of this context may still be running when it is reused or freed.
  void drain() {
    if (copy) cudaStreamSynchronize(copy);
    if (compute) cudaStreamSynchronize(compute);
    cudaGetLastError();
  }

  void run(const leaf::PairRule& r, const PairParams& p, const uint8_t* ha, const uint8_t* hb, uint64_t first,
           uint64_t n, Partial& out) {
    TD_CUDA(cudaSetDevice(device));
    const uint64_t padded = (n + kBlockElems - 1) / kBlockElems * kBlockElems;
    const uint64_t ngroups = gpu::group_count(n);
    const int grid = cuda::grid_for(ngroups, r, sms);
    a.reserve(std::max<uint64_t>(padded * r.ea, 1));
    if (r.pair) b.reserve(std::max<uint64_t>(padded * r.eb, 1));
    warp_exact.reserve(sizeof(leaf::Exact) * grid * cuda::kWarpsPerBlock);
    block_hist.reserve(sizeof(unsigned) * leaf::kHist * grid);
    nodes0.reserve(sizeof(TreeNode) * std::max<uint64_t>(ngroups, 1));
    nodes1.reserve(sizeof(TreeNode) * std::max<uint64_t>(ngroups, 1));
    groups.reserve(sizeof(leaf::GroupInfo) * std::max<uint64_t>(ngroups, 1));
    h_groups.reserve(sizeof(leaf::GroupInfo) * std::max<uint64_t>(ngroups, 1));
    // In: the data, and zeros up to a whole leaf (loads are whole segments, words zero-padded).
    TD_CUDA(cudaMemcpyAsync(a.p, ha, n * r.ea, cudaMemcpyHostToDevice, copy));
    if (padded > n) TD_CUDA(cudaMemsetAsync(a.as<uint8_t>() + n * r.ea, 0, (padded - n) * r.ea, copy));
    if (r.pair) {
      TD_CUDA(cudaMemcpyAsync(b.p, hb, n * r.eb, cudaMemcpyHostToDevice, copy));
      if (padded > n) TD_CUDA(cudaMemsetAsync(b.as<uint8_t>() + n * r.eb, 0, (padded - n) * r.eb, copy));
    }
    TD_CUDA(cudaEventRecord(copied, copy));
    TD_CUDA(cudaStreamWaitEvent(compute, copied, 0));
    cuda::Scratch s{warp_exact.as<leaf::Exact>(), block_hist.as<unsigned>(), {nodes0.as<TreeNode>(), nodes1.as<TreeNode>()},
                    tail.as<leaf::StackNode>(), tail_count.as<int>(), groups.as<leaf::GroupInfo>(),
                    result.as<leaf::ChunkResult>()};
    cuda::ChunkArgs args{r, first, n};
    TD_CUDA(cuda::launch_chunk(args, a.as<uint8_t>(), b.as<uint8_t>(), s, grid, compute));
    TD_CUDA(cudaMemcpyAsync(h_result.p, result.p, sizeof(leaf::ChunkResult), cudaMemcpyDeviceToHost, compute));
    TD_CUDA(cudaMemcpyAsync(h_groups.p, groups.p, sizeof(leaf::GroupInfo) * ngroups, cudaMemcpyDeviceToHost, compute));
    TD_CUDA(cudaEventRecord(done, compute));
    TD_CUDA(cudaEventSynchronize(done));
    gpu::assemble(r, p, ha, hb, first, n, *static_cast<leaf::ChunkResult*>(h_result.p),
                  static_cast<leaf::GroupInfo*>(h_groups.p), out);
  }
};

class CudaBackend final : public ComputeBackend {
 public:
  CudaBackend(int device, int sms, std::string name) : device_(device), sms_(sms), name_(std::move(name)) {}
  ~CudaBackend() override { pool_.clear(); }

  std::string name() const override { return name_; }
  uint64_t preferred_chunk_bytes() const override { return 32ull << 20; }

  // Pinned where the driver gives it; pageable memory (slower copies) rather than no backend
  // when pinned memory runs short.
  uint8_t* alloc_host(size_t bytes) override {
    void* p = nullptr;
    if (cudaSetDevice(device_) == cudaSuccess && cudaMallocHost(&p, bytes) == cudaSuccess) {
      std::lock_guard<std::mutex> lock(m_);
      pinned_.insert(p);
      return static_cast<uint8_t*>(p);
    }
    cudaGetLastError();
    return new uint8_t[bytes];
  }
  void free_host(uint8_t* p) override {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (pinned_.erase(p)) {
        cudaFreeHost(p);
        return;
      }
    }
    delete[] p;
  }

  void pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n,
                  Partial& out) override {
    run(gpu::pair_rule(p), p, a, b, first, n, out);
  }

  // One side, read once: the single-side kernels.
  void side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n, Partial& out) override {
    PairParams p;
    p.type_a = p.type_b = type;
    p.first_k = first_k;
    run(gpu::side_rule(type), p, raw, nullptr, first, n, out);
  }

  // The chunk's raw device result (tests compare it with the emulator's, bit for bit).
  void device_result(const leaf::PairRule& r, const uint8_t* a, const uint8_t* b, uint64_t first, uint64_t n,
                     leaf::ChunkResult& res, std::vector<leaf::GroupInfo>& groups) {
    PairParams p;
    p.type_a = r.ta;
    p.type_b = r.tb;
    Partial unused;
    auto ctx = acquire();
    try {
      ctx->run(r, p, a, b, first, n, unused);
      res = *static_cast<leaf::ChunkResult*>(ctx->h_result.p);
      const auto* g = static_cast<leaf::GroupInfo*>(ctx->h_groups.p);
      groups.assign(g, g + gpu::group_count(n));
    } catch (...) {
      ctx->drain();
      release(std::move(ctx));
      throw;
    }
    release(std::move(ctx));
  }

 private:
  void run(const leaf::PairRule& r, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
           uint64_t n, Partial& out) {
    auto ctx = acquire();
    try {
      gpu::in_device_chunks(r, p, a, b, first, n, out,
                            [&](const uint8_t* sa, const uint8_t* sb, uint64_t f, uint64_t m, Partial& o) {
                              ctx->run(r, p, sa, sb, f, m, o);
                            });
    } catch (...) {
      ctx->drain();
      release(std::move(ctx));
      throw;
    }
    release(std::move(ctx));
  }
  std::unique_ptr<Context> acquire() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    return std::make_unique<Context>(device_, sms_);
  }
  void release(std::unique_ptr<Context> c) {
    std::lock_guard<std::mutex> lock(m_);
    pool_.push_back(std::move(c));
  }

  int device_, sms_;
  std::string name_;
  std::mutex m_;
  std::vector<std::unique_ptr<Context>> pool_;
  std::set<void*> pinned_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cuda_backend(int device, const LogFn& log) {
  int count = 0;
  const cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess) {
    std::string hint;
    if (st == cudaErrorInsufficientDriver) hint = " (no NVIDIA driver, or one older than this CUDA runtime)";
    if (st == cudaErrorNoDevice) hint = " (no GPU visible; check CUDA_VISIBLE_DEVICES)";
    throw Error(ErrorCode::kNoBackend,
                std::string("no usable CUDA device: cudaGetDeviceCount: ") + cudaGetErrorString(st) + hint);
  }
  if (count == 0) throw Error(ErrorCode::kNoBackend, "no usable CUDA device: none found");
  if (device == kDeviceLocal) {  // one GPU per rank on a node
    int local = 0;
    for (const char* v : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"})
      if (const char* x = std::getenv(v)) {
        local = std::atoi(x);
        break;
      }
    device = local % count;
  }
  if (device < 0 || device >= count)
    throw Error(ErrorCode::kNoBackend,
                "--device " + std::to_string(device) + ": only " + std::to_string(count) + " CUDA device(s)");
  cudaDeviceProp prop;
  TD_CUDA(cudaGetDeviceProperties(&prop, device));
  TD_CUDA(cudaSetDevice(device));
  const std::string name = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
  if (log) log("backend: " + name);
  return std::make_unique<CudaBackend>(device, prop.multiProcessorCount, name);
}

void cuda_device_result(ComputeBackend& backend, const leaf::PairRule& r, const uint8_t* a, const uint8_t* b,
                        uint64_t first, uint64_t n, leaf::ChunkResult& res, std::vector<leaf::GroupInfo>& groups) {
  auto* cb = dynamic_cast<CudaBackend*>(&backend);
  if (!cb) throw Error(ErrorCode::kNoBackend, "not the CUDA backend");
  cb->device_result(r, a, b, first, n, res, groups);
}

}  // namespace tensordiff
