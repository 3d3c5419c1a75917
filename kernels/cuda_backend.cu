// The CUDA backend behind ComputeBackend: the host side of the pair kernel.
//
// Overlap. The runner's worker threads each take the next chunk, read it from disk into that
// worker's pinned host buffers (alloc_host below), and call pair_chunk, which queues on the
// worker's own stream: copy in, kernel, copy the per-block results out, then waits for its
// stream alone. With W workers the GPU sees W independent streams, so while one worker reads,
// another's chunk is being copied and a third's is being reduced:
//
//   worker 0:  read c0 | H2D c0 | kernel c0 | D2H | merge | read c3 | H2D c3 | ...
//   worker 1:           read c1 | H2D c1 | kernel c1 | D2H | merge | read c4 | ...
//   worker 2:                    read c2 | H2D c2 | kernel c2 | D2H | merge | ...
//   copy engine:       [H2D c0][H2D c1][H2D c2]      [H2D c3] ...
//   SMs:                        [  c0  ][  c1  ][  c2  ]      ...
//
// Device buffers and streams live in per-worker contexts taken from a pool and reused for
// every chunk; tensors larger than GPU memory stream through in chunks like any other.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/partial.hpp"
#include "core/decode.hpp"
#include "kernels/block_out.hpp"
#include "kernels/cuda_backend.hpp"
#include "kernels/pair_kernel.cuh"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// Every CUDA call is checked; a failure becomes the library's error naming the call.
void check(cudaError_t st, const char* call) {
  if (st != cudaSuccess)
    throw Error(ErrorCode::kNoBackend,
                std::string("CUDA error in ") + call + ": " + cudaGetErrorString(st));
}
#define TD_CUDA(call) check((call), #call)

struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  uint8_t* d_a = nullptr;   // device copies of the chunk pair
  uint8_t* d_b = nullptr;
  size_t cap_a = 0, cap_b = 0;
  cuda::BlockOut* d_out = nullptr;
  cuda::BlockOut* h_out = nullptr;  // pinned
  size_t cap_blocks = 0;
  unsigned long long* d_hist = nullptr;
  unsigned long long* h_hist = nullptr;  // pinned

  explicit Context(int dev) : device(dev) {
    TD_CUDA(cudaSetDevice(device));
    TD_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    TD_CUDA(cudaMalloc(&d_hist, 3 * cuda::kHistSlots * sizeof(unsigned long long)));
    TD_CUDA(cudaMallocHost(&h_hist, 3 * cuda::kHistSlots * sizeof(unsigned long long)));
  }
  ~Context() {
    cudaFree(d_a);
    cudaFree(d_b);
    cudaFree(d_out);
    cudaFreeHost(h_out);
    cudaFree(d_hist);
    cudaFreeHost(h_hist);
    if (stream) cudaStreamDestroy(stream);
  }
  void reserve(size_t bytes_a, size_t bytes_b, size_t blocks) {
    auto grow = [](uint8_t*& p, size_t& cap, size_t want) {
      if (want <= cap) return;
      cudaFree(p);
      p = nullptr;
      TD_CUDA(cudaMalloc(&p, want));
      cap = want;
    };
    grow(d_a, cap_a, bytes_a);
    grow(d_b, cap_b, bytes_b);
    if (blocks > cap_blocks) {
      cudaFree(d_out);
      cudaFreeHost(h_out);
      d_out = nullptr;
      h_out = nullptr;
      TD_CUDA(cudaMalloc(&d_out, blocks * sizeof(cuda::BlockOut)));
      TD_CUDA(cudaMallocHost(&h_out, blocks * sizeof(cuda::BlockOut)));
      cap_blocks = blocks;
    }
  }
};

void add_side(SideExact& e, const cuda::SideOut& s) {
  e.nonzero += s.nonzero;
  e.nan += s.nan;
  e.pos_inf += s.pos_inf;
  e.neg_inf += s.neg_inf;
  e.finite += s.finite;
  e.min = min_signed(e.min, s.min);
  e.max = max_signed(e.max, s.max);
  e.checksum_sum += s.checksum_sum;
}

double value_at(DType t, const uint8_t* raw, uint64_t i) {
  double v;
  decode::to_double(t, raw + i * dtype_size(t), 1, &v);
  return v;
}

// First nonzeros of a side, scanning only blocks that have any (exact, like the CPU's).
void first_nonzero(DType t, const uint8_t* raw, uint64_t first, uint64_t n,
                   const cuda::BlockOut* blocks, bool side_a, int k, std::vector<NonzeroEntry>& out) {
  double buf[kBlockElems];
  for (uint64_t off = 0, b = 0; off < n && out.size() < static_cast<size_t>(k); off += kBlockElems, ++b) {
    if ((side_a ? blocks[b].a.nonzero : blocks[b].b.nonzero) == 0) continue;
    const size_t m = static_cast<size_t>(std::min<uint64_t>(kBlockElems, n - off));
    decode::to_double(t, raw + off * dtype_size(t), m, buf);
    for (size_t i = 0; i < m && out.size() < static_cast<size_t>(k); ++i)
      if (buf[i] != 0 || std::isnan(buf[i])) out.push_back({first + off + i, buf[i]});
  }
}

void fold_hist(const unsigned long long* h, ExpHistogram& out) {
  for (int i = 0; i < ExpHistogram::kBins; ++i) out.counts[i] += h[i];
}

class CudaBackend final : public ComputeBackend {
 public:
  CudaBackend(int device, std::string name) : device_(device), name_(std::move(name)) {}
  ~CudaBackend() override {
    pool_.clear();
  }

  std::string name() const override { return name_; }

  uint8_t* alloc_host(size_t bytes) override {
    void* p = nullptr;
    TD_CUDA(cudaSetDevice(device_));
    TD_CUDA(cudaMallocHost(&p, bytes));
    return static_cast<uint8_t*>(p);
  }
  void free_host(uint8_t* p) override { cudaFreeHost(p); }

  void pair_chunk(const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
                  uint64_t n, Partial& out) override {
    auto ctx = acquire();
    try {
      run(*ctx, p, a, b, first, n, out);
    } catch (...) {
      release(std::move(ctx));
      throw;
    }
    release(std::move(ctx));
  }

  // One side: the pair kernel against itself (the b side is ignored).
  void side_chunk(DType type, int first_k, const uint8_t* raw, uint64_t first, uint64_t n,
                  Partial& out) override {
    PairParams p;
    p.type_a = p.type_b = type;
    p.first_k = first_k;
    pair_chunk(p, raw, raw, first, n, out);
    out.b = SideExact{};
    out.d = DiffExact{};
    out.bytes = n * dtype_size(type);
  }

 private:
  std::unique_ptr<Context> acquire() {
    {
      std::lock_guard<std::mutex> lock(m_);
      if (!pool_.empty()) {
        auto c = std::move(pool_.back());
        pool_.pop_back();
        return c;
      }
    }
    return std::make_unique<Context>(device_);
  }
  void release(std::unique_ptr<Context> c) {
    std::lock_guard<std::mutex> lock(m_);
    pool_.push_back(std::move(c));
  }

  void run(Context& c, const PairParams& p, const uint8_t* a, const uint8_t* b, uint64_t first,
           uint64_t n, Partial& out) {
    const size_t ea = dtype_size(p.type_a), eb = dtype_size(p.type_b);
    const size_t blocks = (n + kBlockElems - 1) / kBlockElems;
    TD_CUDA(cudaSetDevice(device_));
    c.reserve(std::max<size_t>(n * ea, 1), std::max<size_t>(n * eb, 1), std::max<size_t>(blocks, 1));
    const size_t hist_bytes = 3 * cuda::kHistSlots * sizeof(unsigned long long);
    TD_CUDA(cudaMemcpyAsync(c.d_a, a, n * ea, cudaMemcpyHostToDevice, c.stream));
    TD_CUDA(cudaMemcpyAsync(c.d_b, b, n * eb, cudaMemcpyHostToDevice, c.stream));
    TD_CUDA(cudaMemsetAsync(c.d_hist, 0, hist_bytes, c.stream));
    cuda::PairArgs args{p.type_a, p.type_b, static_cast<uint32_t>(ea), static_cast<uint32_t>(eb),
                        p.tol.rtol, p.tol.atol, p.equal_nan, first, n};
    TD_CUDA(cuda::launch_pair_blocks(args, c.d_a, c.d_b, c.d_out, c.d_hist, c.stream));
    TD_CUDA(cudaMemcpyAsync(c.h_out, c.d_out, blocks * sizeof(cuda::BlockOut),
                            cudaMemcpyDeviceToHost, c.stream));
    TD_CUDA(cudaMemcpyAsync(c.h_hist, c.d_hist, hist_bytes, cudaMemcpyDeviceToHost, c.stream));
    TD_CUDA(cudaStreamSynchronize(c.stream));
    assemble(c, p, a, b, first, n, blocks, out);
  }

  // The per-block results become a Partial exactly as the CPU kernel builds one: leaves of the
  // sum tree in block order, exact fields merged, argmax by first index.
  static void assemble(const Context& c, const PairParams& p, const uint8_t* a, const uint8_t* b,
                       uint64_t first, uint64_t n, size_t blocks, Partial& out) {
    out = Partial{};
    out.a.count = out.b.count = n;
    DiffExact& de = out.d;
    const bool same = p.type_a == p.type_b;
    for (size_t k = 0; k < blocks; ++k) {
      const cuda::BlockOut& o = c.h_out[k];
      add_side(out.a, o.a);
      add_side(out.b, o.b);
      de.finite_pairs += o.finite_pairs;
      de.mismatches += o.mismatches;
      de.nan_mismatch += o.nan_mismatch;
      de.inf_mismatch += o.inf_mismatch;
      de.bits_differ += o.bits_differ;
      de.max_ulp = std::max<uint64_t>(de.max_ulp, o.max_ulp);
      if (o.finite_pairs > 0) {
        const uint64_t base = first + k * kBlockElems;
        if (!de.has_max || o.max_abs > de.max_abs.value) {
          const uint64_t i = base + o.max_abs_i - first;
          de.max_abs = {o.max_abs, base + o.max_abs_i, value_at(p.type_a, a, i), value_at(p.type_b, b, i)};
        }
        if (!de.has_max || o.max_rel > de.max_rel.value) {
          const uint64_t i = base + o.max_rel_i - first;
          de.max_rel = {o.max_rel, base + o.max_rel_i, value_at(p.type_a, a, i), value_at(p.type_b, b, i)};
        }
        de.has_max = true;
        if (worst_wants(de.worst, p.worst_k, o.max_abs)) {  // the CPU's rule, core/worst.hpp
          const uint64_t i0 = k * kBlockElems, m = std::min<uint64_t>(kBlockElems, n - i0);
          std::vector<double> va(m), vb(m);
          decode::to_double(p.type_a, a + i0 * dtype_size(p.type_a), m, va.data());
          decode::to_double(p.type_b, b + i0 * dtype_size(p.type_b), m, vb.data());
          worst_scan(va.data(), vb.data(), m, base, p.worst_k, de.worst);
        }
      }
      TreeNode leaf;
      leaf.a = {o.a.n, o.a.mean, o.a.m2, o.a.sumsq, o.a.scale};
      leaf.b = {o.b.n, o.b.mean, o.b.m2, o.b.sumsq, o.b.scale};
      leaf.d = {o.abs, o.d2, o.a2, o.b2, o.ab, o.scale_d};
      out.tree.push(0, leaf);
    }
    if (same && p.exact) de.mismatches = de.bits_differ;
    if (!same) de.bits_differ = de.max_ulp = 0;
    first_nonzero(p.type_a, a, first, n, c.h_out, true, p.first_k, out.a.first_nonzero);
    first_nonzero(p.type_b, b, first, n, c.h_out, false, p.first_k, out.b.first_nonzero);
    fold_hist(c.h_hist, out.a.mag_hist);
    fold_hist(c.h_hist + cuda::kHistSlots, out.b.mag_hist);
    fold_hist(c.h_hist + 2 * cuda::kHistSlots, de.err_hist);
    out.bytes = n * (dtype_size(p.type_a) + dtype_size(p.type_b));
  }

  int device_;
  std::string name_;
  std::mutex m_;
  std::vector<std::unique_ptr<Context>> pool_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cuda_backend(int device, const LogFn& log) {
  int count = 0;
  const cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess) {
    std::string hint;
    if (st == cudaErrorInsufficientDriver) hint = " (no NVIDIA driver, or one older than this CUDA runtime)";
    if (st == cudaErrorNoDevice) hint = " (no GPU visible; check CUDA_VISIBLE_DEVICES)";
    throw Error(ErrorCode::kNoBackend, std::string("no usable CUDA device: cudaGetDeviceCount: ") +
                                           cudaGetErrorString(st) + hint);
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
    throw Error(ErrorCode::kNoBackend, "--device " + std::to_string(device) + ": only " +
                                           std::to_string(count) + " CUDA device(s)");
  cudaDeviceProp prop;
  TD_CUDA(cudaGetDeviceProperties(&prop, device));
  TD_CUDA(cudaSetDevice(device));
  const std::string name = "cuda:" + std::to_string(device) + " (" + prop.name + ")";
  if (log) log("backend: " + name);
  return std::make_unique<CudaBackend>(device, name);
}

}  // namespace tensordiff
