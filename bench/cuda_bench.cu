// Issue 3's GPU benchmark, in one run, median of many after a warm-up, random (never zero)
// data, float32 tensor pairs of SIZE_MIB each (default 1024):
//   (a) device-to-device copy bandwidth (bytes read + written)
//   (b) the pair kernel on device-resident data: GB/s of input read, and as a fraction of (a)
//   (c) pinned host-to-device bandwidth
//   (d) the whole backend (pair_chunk: copy in, kernel, results out, merge) from pinned host
//       memory in 2 MiB... CHUNK_MIB chunks on WORKERS threads, as a fraction of (c)
// Usage: tensordiff_cuda_bench [SIZE_MIB=1024] [CHUNK_MIB=64] [WORKERS=4] [REPEATS=20]
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "engine/backend.hpp"
#include "kernels/cuda_backend.hpp"
#include "kernels/pair_kernel.cuh"
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

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::atoi(argv[1]) : 1024;
  const size_t chunk_mib = argc > 2 ? std::atoi(argv[2]) : 64;
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
  CK(cudaMemcpy(d_a, h_a, bytes, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d_b, h_b, bytes, cudaMemcpyHostToDevice));
  const double gb = bytes / 1e9;

  const double copy_ms = median_ms(repeats, [&] { CK(cudaMemcpy(d_c, d_a, bytes, cudaMemcpyDeviceToDevice)); });
  const double copy_gbs = 2 * gb / (copy_ms / 1e3);  // read + write

  const size_t blocks = (n + cuda::kThreads - 1) / cuda::kThreads;
  cuda::BlockOut* d_out;
  unsigned long long* d_hist;
  CK(cudaMalloc(&d_out, blocks * sizeof(cuda::BlockOut)));
  CK(cudaMalloc(&d_hist, 3 * cuda::kHistSlots * sizeof(unsigned long long)));
  cuda::PairArgs args{DType::kF32, DType::kF32, 4, 4, 1.3e-6, 1e-5, true, 0, n};
  const double kern_ms = median_ms(repeats, [&] {
    CK(cudaMemset(d_hist, 0, 3 * cuda::kHistSlots * sizeof(unsigned long long)));
    CK(cuda::launch_pair_blocks(args, d_a, d_b, d_out, d_hist, nullptr));
  });
  const double kern_gbs = 2 * gb / (kern_ms / 1e3);  // both inputs read once

  const double h2d_ms = median_ms(repeats, [&] { CK(cudaMemcpy(d_c, h_a, bytes, cudaMemcpyHostToDevice)); });
  const double h2d_gbs = gb / (h2d_ms / 1e3);

  auto backend = make_cuda_backend(0, nullptr);
  const size_t chunk = (chunk_mib << 20) / 4;
  const size_t chunks = (n + chunk - 1) / chunk;
  const double pipe_ms = median_ms(std::max(3, repeats / 4), [&] {
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
  });
  const double pipe_gbs = 2 * gb / (pipe_ms / 1e3);

  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s; float32 pairs of %zu MiB, median of %d\n", prop.name, mib, repeats);
  std::printf("(a) D2D copy            %8.3f ms  %8.1f GB/s (read+write)\n", copy_ms, copy_gbs);
  std::printf("(b) kernel, resident    %8.3f ms  %8.1f GB/s of input  = %.2f of (a)\n", kern_ms, kern_gbs, kern_gbs / copy_gbs);
  std::printf("(c) pinned H2D          %8.3f ms  %8.1f GB/s\n", h2d_ms, h2d_gbs);
  std::printf("(d) pipeline from host  %8.3f ms  %8.1f GB/s of input  = %.2f of (c) [%zu MiB chunks, %d workers]\n",
              pipe_ms, pipe_gbs, pipe_gbs / h2d_gbs, chunk_mib, workers);
  return 0;
}
