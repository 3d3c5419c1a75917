// The details streamed to a file as each pair finishes (issue 26): every record reads back as
// written, from memory or the file, and a report written from the store is the report written
// from details held in memory, byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "common/detail_store.hpp"
#include "fixtures/h5_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

// A pair with details of the given sizes, its values drawn from `seed`.
PairReport pair_with_details(uint32_t seed, size_t worst, bool sides = true) {
  std::mt19937_64 rng(seed);
  PairReport r;
  r.name = "t" + std::to_string(seed);
  auto side = [&] {
    SideStats s;
    s.count = rng() % 1000;
    std::vector<NonzeroEntry> fnz;
    for (size_t i = 0; i < rng() % 6; ++i) fnz.push_back({rng(), std::ldexp(double(rng() % 1000), -3)});
    s.first_nonzero = fnz;
    std::vector<std::pair<uint8_t, uint64_t>> bins;
    for (uint8_t b = 0; b < 84; b += 1 + rng() % 20) bins.emplace_back(b, rng());
    s.mag_hist.bins = bins;
    return s;
  };
  if (sides) {
    r.a = side();
    r.b = side();
  }
  DiffStats d;
  d.count = 7;
  std::vector<ExtremeAt> w;
  for (size_t i = 0; i < worst; ++i) w.push_back({double(rng() % 97), rng(), double(rng() % 5), -double(rng() % 5)});
  d.worst = w;
  d.nonfinite = std::vector<ExtremeAt>{{std::nan(""), 3, 1, std::nan("")}};
  d.err_hist.bins = std::vector<std::pair<uint8_t, uint64_t>>{{0, 5}, {40, uint64_t(1) << 60}};
  r.diff = d;
  return r;
}

void expect_same_details(const PairReport& x, const PairReport& y) {
  ASSERT_EQ(bool(x.a), bool(y.a));
  if (x.a) {
    ASSERT_EQ(x.a->first_nonzero.size(), y.a->first_nonzero.size());
    for (size_t i = 0; i < x.a->first_nonzero.size(); ++i) {
      EXPECT_EQ(x.a->first_nonzero[i].flat_index, y.a->first_nonzero[i].flat_index);
      EXPECT_EQ(x.a->first_nonzero[i].value, y.a->first_nonzero[i].value);
    }
    EXPECT_EQ(x.a->mag_hist, y.a->mag_hist);
    EXPECT_EQ(x.b->mag_hist, y.b->mag_hist);
    EXPECT_EQ(x.b->first_nonzero.size(), y.b->first_nonzero.size());
  }
  EXPECT_EQ(x.diff->err_hist, y.diff->err_hist);
  ASSERT_EQ(x.diff->worst.size(), y.diff->worst.size());
  for (size_t i = 0; i < x.diff->worst.size(); ++i) {
    EXPECT_EQ(x.diff->worst[i].value, y.diff->worst[i].value);
    EXPECT_EQ(x.diff->worst[i].flat_index, y.diff->worst[i].flat_index);
    EXPECT_EQ(x.diff->worst[i].a, y.diff->worst[i].a);
    EXPECT_EQ(x.diff->worst[i].b, y.diff->worst[i].b);
  }
  ASSERT_EQ(x.diff->nonfinite.size(), y.diff->nonfinite.size());
  EXPECT_TRUE(std::isnan(y.diff->nonfinite[0].value));
}

TEST(DetailStore, RecordsReadBackFromMemoryAndFromTheFile) {
  auto store = DetailStore::open(temp_dir(), 0);
  ASSERT_TRUE(store);
  // Small records, records longer than a read window (10^4 worst elements: 320 KB) and pairs
  // without sides, past several flushes of the written records.
  std::vector<PairReport> kept;
  std::vector<uint32_t> records;
  for (uint32_t i = 0; i < 400; ++i) {
    const size_t worst = i % 50 == 7 ? 10000 : i % 9;
    PairReport r = pair_with_details(i, worst, i % 13 != 0);
    kept.push_back(r);
    store->put(r);
    EXPECT_EQ(r.detail_record, i + 1);
    EXPECT_TRUE(r.diff->worst.empty());
    EXPECT_TRUE(r.diff->err_hist.bins.empty());
    EXPECT_EQ(r.diff->count, 7u);  // the scalars stay
    if (r.a) {
      EXPECT_TRUE(r.a->mag_hist.bins.empty());
      EXPECT_TRUE(r.a->first_nonzero.empty());
    }
    records.push_back(r.detail_record);
    // The last record (not yet flushed) and an early one (in the file) read back at once.
    for (size_t k : {size_t(i), size_t(i / 2)}) {
      PairReport back = kept[k];
      back.diff->worst = {};
      back.diff->err_hist = {};
      store->get(records[k], back);
      expect_same_details(kept[k], back);
    }
  }
  EXPECT_GT(store->bytes(), uint64_t(2) << 20);  // several flushes
  // Backwards: every read outside the window of the one before.
  for (size_t k = kept.size(); k-- > 0;) {
    PairReport back = kept[k];
    store->get(records[k], back);
    expect_same_details(kept[k], back);
  }
  PairReport none;
  EXPECT_THROW(store->get(0, none), Error);
  EXPECT_THROW(store->get(401, none), Error);
}

TEST(DetailStore, PutFromManyThreads) {
  auto store = DetailStore::open(temp_dir(), 4000);
  ASSERT_TRUE(store);
  std::vector<PairReport> done(4000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (uint32_t i = t; i < 4000; i += 4) {
        done[i] = pair_with_details(i, i % 7);
        store->put(done[i]);
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(store->records(), 4000u);
  for (uint32_t i = 0; i < 4000; ++i) {
    PairReport back = done[i];
    store->get(done[i].detail_record, back);
    expect_same_details(pair_with_details(i, i % 7), back);
  }
}

TEST(DetailStore, NoFolderNoStore) { EXPECT_FALSE(DetailStore::open(temp_dir() + "/no/such/folder", 1)); }

// A run's reports from streamed details equal those from held ones: JSON, HTML, the table.
TEST(DetailStore, ReportsEqualWithAndWithoutTheStore) {
  std::vector<std::vector<float>> a(300), b(300);
  std::vector<ArrayView> va, vb;
  std::mt19937 rng(5);
  for (size_t i = 0; i < a.size(); ++i) {
    const size_t n = 1 + rng() % 700;
    for (size_t k = 0; k < n; ++k) {
      const float x = std::ldexp(float(rng() % 2000) - 1000, int(rng() % 30) - 15);
      a[i].push_back(x);
      b[i].push_back(i % 3 == 0 ? x : x * (1 + std::ldexp(float(rng() % 100), -10)));
    }
    if (i % 17 == 4) b[i][0] = std::nanf("");
    va.push_back({"layer" + std::to_string(i) + ".out", DType::kF32, {n}, a[i].data(), ""});
    vb.push_back({"layer" + std::to_string(i) + ".out", DType::kF32, {n}, b[i].data(), ""});
  }
  CompareOptions o;
  o.engine.worst_k = 40;
  o.engine.first_k = 7;
  Report held = compare_arrays(va, vb, o);
  EXPECT_FALSE(held.detail_store);
  o.engine.details_dir = temp_dir();
  Report streamed = compare_arrays(va, vb, o);
  ASSERT_TRUE(streamed.detail_store);
  EXPECT_EQ(streamed.detail_store->records(), 300u);
  EXPECT_TRUE(streamed.tensors[1].diff->worst.empty());  // not held
  EXPECT_FALSE(held.tensors[1].diff->worst.empty());
  for (Report* r : {&held, &streamed}) r->summary.seconds = r->summary.gb_per_s = 0;  // the runs' times differ
  EXPECT_EQ(to_json(streamed), to_json(held));
  std::string h1, h2;
  write_html(held, [&](const std::string& s) { h1 += s; });
  write_html(streamed, [&](const std::string& s) { h2 += s; });
  EXPECT_EQ(h2, h1);
  TableStyle st;
  EXPECT_EQ(format_table(streamed, st), format_table(held, st));
  EXPECT_NE(format_table(held, st).find("p99|d|"), std::string::npos);
  // Without details nothing is streamed.
  o.engine.keep_details = false;
  EXPECT_FALSE(compare_arrays(va, vb, o).detail_store);
}

TEST(DetailStore, StatsReportsEqualWithAndWithoutTheStore) {
  std::vector<std::vector<double>> a(200);
  std::vector<ArrayView> va;
  std::mt19937 rng(9);
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t k = 0, n = rng() % 500; k < n; ++k) a[i].push_back(k % 5 ? std::ldexp(double(rng() % 999), int(rng() % 40) - 20) : 0);
    va.push_back({"t" + std::to_string(i), DType::kF64, {a[i].size()}, a[i].data(), ""});
  }
  EngineOptions o;
  o.first_k = 9;
  StatsReport held = stats_arrays(va, o);
  o.details_dir = temp_dir();
  StatsReport streamed = stats_arrays(va, o);
  ASSERT_TRUE(streamed.detail_store);
  EXPECT_EQ(streamed.detail_store->records(), 200u);
  EXPECT_TRUE(streamed.tensors[3].stats->mag_hist.bins.empty());  // not held
  EXPECT_FALSE(held.tensors[3].stats->mag_hist.bins.empty());
  for (StatsReport* r : {&held, &streamed}) r->seconds = 0;
  EXPECT_EQ(to_json(streamed), to_json(held));
}

}  // namespace
}  // namespace tdtest
