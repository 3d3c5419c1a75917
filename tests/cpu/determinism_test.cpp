// Exact fields bitwise and float sums identical across chunk sizes and thread counts
// (docs/design.md §4 determinism), through the whole compare() on HDF5 files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "cpu/per_target.hpp"
#include "fixtures/h5_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

void write_pair(const std::string& pa, const std::string& pb) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> g(0, 1);
  H5Writer wa(pa, true), wb(pb, true);
  auto floats = [&](size_t n, double noise) {
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = static_cast<float>(g(rng));
      b[i] = static_cast<float>(a[i] * (1 + noise * g(rng)));
    }
    return std::pair{a, b};
  };
  {
    auto [a, b] = floats(300001, 1e-6);
    DatasetSpec s;
    s.shape = {300001};
    wa.write("big", s, to_bytes(a));
    wb.write("big", s, to_bytes(b));
  }
  {
    auto [a, b] = floats(70000, 1e-3);
    DatasetSpec s;
    s.shape = {700, 100};
    s.chunk = {64, 100};
    s.gzip = 1;
    wa.write("layer/chunked", s, to_bytes(a));
    wb.write("layer/chunked", s, to_bytes(b));
  }
  {
    std::vector<double> a(100003), b(100003);
    for (size_t i = 0; i < a.size(); ++i) b[i] = (a[i] = g(rng) * 1e3) + g(rng) * 1e-9;
    DatasetSpec s;
    s.shape = {100003};
    s.dtype = DType::kF64;
    wa.write("f64", s, to_bytes(a));
    wb.write("f64", s, to_bytes(b));
  }
  {
    auto [a, b] = floats(50000, 1e-2);
    std::vector<uint16_t> bf(50000);
    for (size_t i = 0; i < bf.size(); ++i) {
      uint32_t bits;
      std::memcpy(&bits, &b[i], 4);
      bf[i] = static_cast<uint16_t>(bits >> 16);
    }
    DatasetSpec s;
    s.shape = {50000};
    wa.write("mixed", s, to_bytes(a));
    s.dtype = DType::kBF16;
    wb.write("mixed", s, to_bytes(bf));
  }
}

std::string canonical(const Report& r) {
  auto j = nlohmann::json::parse(to_json(r));
  j.erase("options");
  j["summary"].erase("seconds");
  j["summary"].erase("gb_per_s");
  return j.dump();
}

// Once per SIMD target, chosen through the engine's own option (EngineOptions::simd).
class Determinism : public PerTarget {};
TD_PER_TARGET(Determinism);

TEST_P(Determinism, IdenticalAcrossChunkSizesAndThreads) {
  const std::string dir = temp_dir();
  write_pair(dir + "/a.h5", dir + "/b.h5");
  std::string first;
  for (uint64_t chunk : {1ull << 10, 1ull << 20, 64ull << 20})
    for (unsigned threads : {1u, 2u}) {
      CompareOptions o;
      o.engine.chunk_bytes = chunk;
      o.engine.threads = threads;
      o.engine.simd = GetParam();
      const Report r = compare(dir + "/a.h5", dir + "/b.h5", o);
      ASSERT_EQ(r.tensors.size(), 4u);
      EXPECT_EQ(r.backend, "cpu (" + GetParam() + ")");
      const std::string c = canonical(r);
      if (first.empty()) first = c;
      else EXPECT_EQ(c, first) << "chunk " << chunk << " threads " << threads;
    }
}

TEST_P(Determinism, RepeatedRunsAreIdentical) {
  const std::string dir = temp_dir();
  write_pair(dir + "/a.h5", dir + "/b.h5");
  CompareOptions o;
  o.engine.chunk_bytes = 64 << 10;
  o.engine.threads = 2;
  o.engine.simd = GetParam();
  const std::string c0 = canonical(compare(dir + "/a.h5", dir + "/b.h5", o));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(canonical(compare(dir + "/a.h5", dir + "/b.h5", o)), c0);
}

}  // namespace
}  // namespace tdtest
