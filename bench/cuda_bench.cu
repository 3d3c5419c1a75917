// The GPU benchmark (issue 13), in one run, median of many after a warm-up, random (never zero)
// data, tensor pairs of SIZE_MIB per side (default 1024):
//   (a) device-to-device copy bandwidth (bytes read + written)
//   (b) the chunk kernels on device-resident data, per dtype pair, in CHUNK_MIB chunks: GB/s of
//       input read, and as a fraction of (a) (target >= 0.8); registers and shared memory
//   (c) pinned host-to-device bandwidth
//   (d) the whole backend (pair_chunk: copy in, kernels, results out, assembly) from pinned host
//       memory in CHUNK_MIB chunks on WORKERS threads, host wall clock, as a fraction of (c)
//       (target >= 0.8)
// Usage: tensordiff_cuda_bench [SIZE_MIB=1024] [CHUNK_MIB=32] [WORKERS=4] [REPEATS=20]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "engine/backend.hpp"
#include "kernels/cuda_backend.hpp"
#include "kernels/device_chunk.hpp"
#include "kernels/leaf_kernel.cuh"
#include "tensordiff/error.hpp"

using namespace tensordiff;

#define CK(call)                                                                          \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(e_));                   \
      std::exit(2);                                                                       \
    }                                                                                     \
  } while (0)

template <typename F>
double median_ms(int repeats, F&& f) {
  cudaEvent_t t0, t1;
  CK(cudaEventCreate(&t0));
  CK(cudaEventCreate(&t1));
  f();  // warm-up
  CK(cudaDeviceSynchronize());
  std::vector<float> ms;
  for (int r = 0; r < repeats; ++r) {
    CK(cudaEventRecord(t0));
    f();
    CK(cudaEventRecord(t1));
    CK(cudaEventSynchronize(t1));
    float x;
    CK(cudaEventElapsedTime(&x, t0, t1));
    ms.push_back(x);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// The chunk kernels over resident data (both sides SIZE bytes of type t), CHUNK bytes at a time.
struct Resident {
  leaf::PairRule r;
  const uint8_t *a, *b;
  uint64_t n, chunk;
  cuda::Scratch s;
  int grid;
  unsigned skip = 0;
  static Resident make(DType t, const uint8_t* a, const uint8_t* b, size_t bytes, size_t chunk_bytes, int sms,
                       unsigned skip = 0) {
    Resident x;
    x.skip = skip;
    PairParams p;
    p.type_a = p.type_b = t;
    p.tol = {1.3e-6, 1e-5};
    x.r = gpu::pair_rule(p);
    x.a = a;
    x.b = b;
    x.n = bytes / dtype_size(t);
    x.chunk = chunk_bytes / dtype_size(t);
    const uint64_t groups = gpu::group_count(x.chunk);
    x.grid = cuda::grid_for(groups, x.r, sms);
    CK(cudaMalloc(&x.s.warp_exact, sizeof(leaf::Exact) * x.grid * cuda::kWarpsPerBlock));
    CK(cudaMalloc(&x.s.block_hist, sizeof(unsigned) * leaf::kHist * x.grid));
    CK(cudaMalloc(&x.s.nodes[0], sizeof(TreeNode) * groups));
    CK(cudaMalloc(&x.s.nodes[1], sizeof(TreeNode) * groups));
    CK(cudaMalloc(&x.s.tail, sizeof(leaf::StackNode) * (leaf::kGroupLevel + 1)));
    CK(cudaMalloc(&x.s.tail_count, sizeof(int)));
    CK(cudaMalloc(&x.s.groups, sizeof(leaf::GroupInfo) * groups));
    CK(cudaMalloc(&x.s.result, sizeof(leaf::ChunkResult)));
    return x;
  }
  void run() const {
    const size_t es = dtype_size(r.ta);
    for (uint64_t f = 0; f < n; f += chunk) {
      cuda::ChunkArgs args{r, f, std::min(chunk, n - f), skip};
      CK(cuda::launch_chunk(args, a + f * es, b + f * es, s, grid, nullptr));
    }
  }
};

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::atoi(argv[1]) : 1024;
  const size_t chunk_mib = argc > 2 ? std::atoi(argv[2]) : 32;
  const int workers = argc > 3 ? std::atoi(argv[3]) : 4;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 20;
  const size_t bytes = mib << 20, n = bytes / 4;
  float *h_a, *h_b;
  CK(cudaMallocHost(&h_a, bytes));
  CK(cudaMallocHost(&h_b, bytes));
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0, 1);
  for (size_t i = 0; i < n; ++i) {
    h_a[i] = g(rng);
    h_b[i] = h_a[i] * (1 + 1e-6f * g(rng));
  }
  uint8_t *d_a, *d_b, *d_c;
  CK(cudaMalloc(&d_a, bytes));
  CK(cudaMalloc(&d_b, bytes));
  CK(cudaMalloc(&d_c, bytes));
  // Random bytes: every dtype reads them as its own values (f32 data for the f32 line).
  CK(cudaMemcpy(d_a, h_a, bytes, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_b, h_b, bytes, cudaMemcpyHostToDevice));
  const double gb = bytes / 1e9;
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));

  const double copy_ms = median_ms(repeats, [&] { CK(cudaMemcpy(d_c, d_a, bytes, cudaMemcpyDeviceToDevice)); });
  const double copy_gbs = 2 * gb / (copy_ms / 1e3);  // read + write
  std::printf("device: %s, %d SMs; pairs of %zu MiB per side, median of %d\n", prop.name,
              prop.multiProcessorCount, mib, repeats);
  std::printf("(a) D2D copy            %8.3f ms  %8.1f GB/s (read+write)\n", copy_ms, copy_gbs);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF64, DType::kF8E4M3}) {
    const Resident x = Resident::make(t, d_a, d_b, bytes, chunk_mib << 20, prop.multiProcessorCount);
    const double ms = median_ms(repeats, [&] { x.run(); });
    const double gbs = 2 * gb / (ms / 1e3);  // both inputs read once
    cudaFuncAttributes attr;
    CK(cuda::kernel_attributes(x.r, &attr));
    std::printf("(b) kernel %-8s      %8.3f ms  %8.1f GB/s of input  = %.2f of (a)  [%d regs, %zu B smem, grid %d]\n",
                dtype_name(t), ms, gbs, gbs / copy_gbs, attr.numRegs, attr.sharedSizeBytes, x.grid);
  }
  // Where the float32 kernel's time goes: larger chunks (a fuller grid), then stages left out.
  struct Variant {
    const char* what;
    size_t chunk_mib;
    unsigned skip;
  };
  for (const Variant& v : {Variant{"f32, 256 MiB chunks", 256, 0}, Variant{"  - exact fields", 256, cuda::kSkipExact},
                           Variant{"  - histograms", 256, cuda::kSkipHist}, Variant{"  - leaf sums", 256, cuda::kSkipSums},
                           Variant{"  - group trees", 256, cuda::kSkipTree},
                           Variant{"  - checksum words", 256, cuda::kSkipChecksum},
                           Variant{"  loads+decode only", 256, 31u}}) {
    const Resident x = Resident::make(DType::kF32, d_a, d_b, bytes, v.chunk_mib << 20, prop.multiProcessorCount, v.skip);
    const double ms = median_ms(repeats, [&] { x.run(); });
    const double gbs = 2 * gb / (ms / 1e3);
    std::printf("(b') %-22s %8.3f ms  %8.1f GB/s of input  = %.2f of (a)  [grid %d]\n", v.what, ms, gbs, gbs / copy_gbs,
                x.grid);
  }
  const double h2d_ms = median_ms(repeats, [&] { CK(cudaMemcpy(d_c, h_a, bytes, cudaMemcpyHostToDevice)); });
  const double h2d_gbs = gb / (h2d_ms / 1e3);
  std::printf("(c) pinned H2D          %8.3f ms  %8.1f GB/s\n", h2d_ms, h2d_gbs);

  auto backend = make_cuda_backend(0, nullptr);
  const size_t chunk = (chunk_mib << 20) / 4;
  const size_t chunks = (n + chunk - 1) / chunk;
  auto pipeline = [&] {
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w)
      pool.emplace_back([&] {
        Partial part;
        PairParams p;
        p.tol = {1.3e-6, 1e-5};
        for (size_t c; (c = next++) < chunks;) {
          const size_t f = c * chunk, m = std::min(chunk, n - f);
          backend->pair_chunk(p, reinterpret_cast<uint8_t*>(h_a + f), reinterpret_cast<uint8_t*>(h_b + f), f, m, part);
        }
      });
    for (auto& t : pool) t.join();
  };
  pipeline();  // warm-up: contexts and device buffers
  std::vector<double> ms;
  for (int r = 0; r < std::max(3, repeats / 4); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pipeline();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double pipe_ms = ms[ms.size() / 2], pipe_gbs = 2 * gb / (pipe_ms / 1e3);
  std::printf("(d) pipeline from host  %8.3f ms  %8.1f GB/s of input  = %.2f of (c) [%zu MiB chunks, %d workers]\n",
              pipe_ms, pipe_gbs, pipe_gbs / h2d_gbs, chunk_mib, workers);
  return 0;
}
