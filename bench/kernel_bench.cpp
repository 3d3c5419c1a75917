// The CPU kernel alone, on one 2 MiB-per-side chunk pair resident in cache (what the
// pipeline hands it), for every SIMD target this CPU runs and the dtypes that matter:
// nanoseconds per element pair and GB/s of input. Google Benchmark; e.g.
//   build/tensordiff_kernel_bench --benchmark_filter='f32/AVX2'
// Data like W1's: uniform values in [-2, 2], b = a·(1 + 1e-6·u), so every element differs.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/chunk_kernel.hpp"

namespace {

using namespace tensordiff;

struct Data {
  std::vector<uint8_t> a, b;
};

Data make(DType t, uint64_t n) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const size_t es = dtype_size(t);
  Data d{std::vector<uint8_t>(n * es), std::vector<uint8_t>(n * es)};
  for (uint64_t i = 0; i < n; ++i) {
    const double x = 2 * u(rng), y = x * (1 + 1e-6 * u(rng));
    if (t == DType::kF32) {
      const float fx = static_cast<float>(x), fy = static_cast<float>(y);
      std::memcpy(&d.a[4 * i], &fx, 4);
      std::memcpy(&d.b[4 * i], &fy, 4);
    } else if (t == DType::kF64) {
      std::memcpy(&d.a[8 * i], &x, 8);
      std::memcpy(&d.b[8 * i], &y, 8);
    } else {  // bf16: the top half of the float32 (truncation)
      const float fx = static_cast<float>(x), fy = static_cast<float>(y * (1 + 1e-2 * u(rng)));
      uint32_t bx, by;
      std::memcpy(&bx, &fx, 4);
      std::memcpy(&by, &fy, 4);
      const uint16_t hx = static_cast<uint16_t>(bx >> 16), hy = static_cast<uint16_t>(by >> 16);
      std::memcpy(&d.a[2 * i], &hx, 2);
      std::memcpy(&d.b[2 * i], &hy, 2);
    }
  }
  return d;
}

void pair(benchmark::State& st, DType t, std::string target, bool side_only) {
  if (!cpu_select_target(target)) {
    st.SkipWithError("target not run by this CPU");
    return;
  }
  const uint64_t n = (2u << 20) / dtype_size(t);  // the engine's default 2 MiB chunk
  const Data d = make(t, n);
  PairParams p;
  p.type_a = p.type_b = t;
  p.tol = {1.3e-6, 1e-5};
  Partial out;
  for (auto _ : st) {
    if (side_only) cpu_side_chunk(t, 5, d.a.data(), 0, n, out);
    else cpu_pair_chunk(p, d.a.data(), d.b.data(), 0, n, out);
    benchmark::DoNotOptimize(out);
  }
  st.counters["ns/elem"] = benchmark::Counter(static_cast<double>(n) * st.iterations(),
                                              benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * n * dtype_size(t) * (side_only ? 1 : 2)));
  cpu_select_target("best");
}

const int registered = [] {
  for (const std::string& target : cpu_targets())
    for (auto [t, name] : {std::pair{DType::kF32, "f32"}, std::pair{DType::kBF16, "bf16"},
                           std::pair{DType::kF64, "f64"}}) {
      benchmark::RegisterBenchmark((std::string("pair/") + name + "/" + target).c_str(), pair, t,
                                   target, false)->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark((std::string("side/") + name + "/" + target).c_str(), pair, t,
                                   target, true)->Unit(benchmark::kMicrosecond);
    }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
