// tensordiff/compact.hpp: the report types' compact optionals and vectors behave as the standard
// types they stand in for, including the values that could be mistaken for "empty".
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "tensordiff/compact.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {
namespace {

TEST(Compact, OptionalDoubleKeepsEveryValueIncludingNanAndTheSentinelsBits) {
  OptionalDouble x;
  EXPECT_FALSE(x);
  EXPECT_EQ(x, std::nullopt);
  EXPECT_EQ(x.value_or(3.5), 3.5);
  EXPECT_THROW(x.value(), std::bad_optional_access);
  for (double v : {0.0, -0.0, 1e-320, -1.5, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::max()}) {
    x = v;
    ASSERT_TRUE(x.has_value()) << v;
    EXPECT_EQ(std::signbit(*x), std::signbit(v));
    EXPECT_EQ(*x, v);
    const std::optional<double> s = x;
    EXPECT_EQ(s, std::optional<double>(v));
  }
  // Any NaN, the sentinel's own bit pattern included, is stored as a NaN, never as "empty".
  uint64_t sentinel = 0x7ff4000000c0ffeeull;
  double sentinel_nan;
  std::memcpy(&sentinel_nan, &sentinel, sizeof sentinel_nan);
  for (double v : {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN(),
                   std::numeric_limits<double>::signaling_NaN(), sentinel_nan}) {
    x = v;
    ASSERT_TRUE(x.has_value());
    EXPECT_TRUE(std::isnan(*x));
  }
  x = std::nullopt;
  EXPECT_FALSE(x.has_value());
  x = std::optional<double>(2.0);
  EXPECT_EQ(*x, 2.0);
  x = std::optional<double>();
  EXPECT_FALSE(x.has_value());
  x = 4.0;
  x = {};  // resets, as a std::optional's does (not the double 0)
  EXPECT_FALSE(x.has_value());
  EXPECT_EQ(sizeof(OptionalDouble), 8u);
}

TEST(Compact, HeapOptionalCopiesDeeply) {
  HeapOptional<std::string> a;
  EXPECT_FALSE(a);
  a = std::string("layer.3");
  HeapOptional<std::string> b = a;
  *b += "x";
  EXPECT_EQ(*a, "layer.3");
  EXPECT_EQ(*b, "layer.3x");
  EXPECT_EQ(a->size(), 7u);
  HeapOptional<std::string> c = std::move(b);
  EXPECT_EQ(*c, "layer.3x");
  c = std::nullopt;
  EXPECT_EQ(c, std::nullopt);
  EXPECT_EQ(c.value_or("none"), "none");
  const std::optional<std::string> s = a;
  EXPECT_EQ(s, std::optional<std::string>("layer.3"));
}

TEST(Compact, CompactVectorActsAsAVector) {
  CompactVector<ExtremeAt> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.begin(), v.end());
  for (const auto& e : v) (void)e, ADD_FAILURE() << "an empty vector iterates nothing";
  v.push_back({1.0, 4, 0.5, 1.5});
  v.emplace_back(ExtremeAt{2.0, 9, 0, 2});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].flat_index, 9u);
  EXPECT_EQ(v.front().value, 1.0);
  EXPECT_EQ(v.back().value, 2.0);
  CompactVector<ExtremeAt> w = v;
  w[0].value = 7;
  EXPECT_EQ(v[0].value, 1.0);
  const std::vector<ExtremeAt>& as_vector = v;
  EXPECT_EQ(as_vector.size(), 2u);
  v = std::vector<ExtremeAt>{};
  EXPECT_TRUE(v.empty());
  v.resize(3);
  EXPECT_EQ(v.size(), 3u);
  v.clear();
  EXPECT_EQ(v.size(), 0u);
  v.push_back({3.0, 1, 0, 3});
  const std::vector<ExtremeAt> taken = v.take();
  EXPECT_EQ(taken.size(), 1u);
  EXPECT_TRUE(v.empty());
  SparseHistogram h, g;
  EXPECT_EQ(h, g);
  h.bins.emplace_back(uint8_t(5), uint64_t(3));
  EXPECT_FALSE(h == g);
  EXPECT_EQ(h.total(), 3u);
  EXPECT_EQ(sizeof(CompactVector<ExtremeAt>), 8u);
}

// Records made at once share one copy of a value; a value goes with the last record holding it
// (a hostile file whose every tensor has its own text leaves nothing behind in the pool but the
// eight most recent values the thread keeps at hand).
TEST(Compact, InternedStringsShareAndAreFreedWithTheirLastRecord) {
  const size_t before = InternedString::pooled();
  {
    std::vector<TensorInfo> infos(3);
    for (auto& t : infos) t.storage = "chunked+deflate+shuffle";
    EXPECT_EQ(infos[0].storage, infos[2].storage);
    EXPECT_EQ(&infos[0].storage.str(), &infos[2].storage.str());
    EXPECT_EQ(infos[1].storage, "chunked+deflate+shuffle");
    EXPECT_EQ("layout " + infos[1].storage, "layout chunked+deflate+shuffle");
    std::vector<InternedString> unique;
    for (int i = 0; i < 5000; ++i) unique.emplace_back("hostile text " + std::to_string(i));
    EXPECT_GE(InternedString::pooled(), before + 5001);
    EXPECT_NE(unique[0], unique[1]);
    infos[0].storage += " (family driver)";
    EXPECT_EQ(infos[0].storage.str(), "chunked+deflate+shuffle (family driver)");
  }
  // Gone, but for the few recent values each thread keeps at hand (eight).
  EXPECT_LE(InternedString::pooled(), before + 8);
  InternedString empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.str(), "");
  EXPECT_EQ(empty, InternedString(""));
  InternedString named("x.py:3");
  named.clear();
  EXPECT_EQ(named, empty);
  EXPECT_EQ(sizeof(InternedString), 8u);
}

// Threads that make and drop the same values at once (the two sides' listings decode side by
// side): every record reads its own value, and a value dropped by its last holder while another
// thread looks it up is made again rather than revived.
TEST(Compact, InternedStringsAreSharedAcrossThreads) {
  const size_t before = InternedString::pooled();
  auto work = [](int seed) {
    for (int round = 0; round < 200; ++round) {
      std::vector<InternedString> held;
      for (int i = 0; i < 50; ++i) held.emplace_back("value " + std::to_string((i * 7 + seed + round) % 40));
      for (int i = 0; i < 50; ++i) {
        ASSERT_EQ(held[i].str(), "value " + std::to_string((i * 7 + seed + round) % 40));
        InternedString copy = held[i];
        InternedString moved = std::move(copy);
        ASSERT_EQ(moved, held[i]);
      }
    }
  };
  std::thread t1(work, 1), t2(work, 2), t3(work, 3);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_LE(InternedString::pooled(), before + 8 * 3 + 8);
}


// A name's copies share one heap copy; assigning makes a new one, and equality is by value.
TEST(Compact, SharedStringsShareOneCopyAndCompareByValue) {
  SharedString a = std::string("model/layer000001/p03");
  SharedString b = a;
  EXPECT_EQ(&a.str(), &b.str());
  SharedString c = std::string("model/layer000001/p03");
  EXPECT_NE(&a.str(), &c.str());
  EXPECT_EQ(a, c);
  EXPECT_TRUE(a == std::string("model/layer000001/p03"));
  EXPECT_EQ(a.find('/'), 5u);
  EXPECT_EQ(a.rfind("/p"), 17u);
  EXPECT_EQ(a + ".x", "model/layer000001/p03.x");
  b = "other";
  EXPECT_EQ(b.str(), "other");
  EXPECT_EQ(a.str(), "model/layer000001/p03");
  SharedString moved = std::move(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(moved.size(), 21u);
  EXPECT_TRUE(SharedString("").empty());
  EXPECT_EQ(sizeof(SharedString), 8u);
}

// Shapes: one pooled copy per distinct shape alive, read as a vector, gone with their records.
TEST(Compact, ShapesArePooledAndReadAsVectors) {
  const size_t before = Shape::pooled();
  {
    std::vector<TensorInfo> infos(4);
    infos[0].shape = {2, 3};
    infos[1].shape = std::vector<uint64_t>{2, 3};
    infos[2].shape = {7};
    EXPECT_EQ(infos[0].shape, infos[1].shape);
    EXPECT_EQ(infos[0].shape.data(), infos[1].shape.data());
    EXPECT_NE(infos[0].shape, infos[2].shape);
    EXPECT_TRUE(infos[3].shape.empty());
    EXPECT_EQ(infos[3].shape.size(), 0u);
    const std::vector<uint64_t>& v = infos[0].shape;
    EXPECT_EQ(v, (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(infos[0].shape[1], 3u);
    EXPECT_EQ(infos[0].shape.back(), 3u);
    uint64_t n = 1;
    for (uint64_t d : infos[0].shape) n *= d;
    EXPECT_EQ(n, 6u);
    EXPECT_TRUE(infos[2].shape == std::vector<uint64_t>{7});
    std::vector<Shape> many;
    for (uint64_t i = 0; i < 3000; ++i) many.emplace_back(std::vector<uint64_t>{i + 100, 5});
    EXPECT_GE(Shape::pooled(), before + 3002);
  }
  EXPECT_LE(Shape::pooled(), before + 8);
  EXPECT_EQ(sizeof(Shape), 8u);
}


TEST(Compact, OptionalExtremeActsAsAnOptional) {
  OptionalExtreme e;
  EXPECT_FALSE(e);
  EXPECT_FALSE(std::optional<ExtremeAt>(e).has_value());
  e = ExtremeAt{2.5, 0, 1, 3.5};  // flat index 0 is a value, not "none"
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value, 2.5);
  EXPECT_EQ((*e).b, 3.5);
  EXPECT_EQ(std::optional<ExtremeAt>(e)->flat_index, 0u);
  e = std::nullopt;
  EXPECT_FALSE(e.has_value());
  EXPECT_EQ(sizeof(OptionalExtreme), 32u);
}


// A pair's statistics: std::optional's interface in the statistics' own bytes.
TEST(Compact, PackedOptionalStatisticsActAsOptionals) {
  PairReport r;
  EXPECT_FALSE(r.a);
  EXPECT_FALSE(r.diff.has_value());
  EXPECT_FALSE(std::optional<SideStats>(r.b).has_value());
  SideStats s;
  s.count = 7;
  s.reduction_roundoff = 0x1p-24f;
  r.a = s;
  ASSERT_TRUE(r.a);
  EXPECT_EQ(r.a->count, 7u);
  EXPECT_EQ(r.a->reduction_roundoff, 0x1p-24f);
  r.diff.emplace();  // a default DiffStats (count 0) is a value
  ASSERT_TRUE(r.diff);
  EXPECT_EQ(r.diff->count, 0u);
  r.diff->count = ~uint64_t(0);  // one sentinel field alone is still a value
  EXPECT_TRUE(r.diff);
  r.a = std::nullopt;
  r.diff.reset();
  EXPECT_FALSE(r.a);
  EXPECT_FALSE(r.diff);
  EXPECT_EQ(r.b.value_or(s).count, 7u);
  EXPECT_EQ(sizeof(r.a), sizeof(SideStats));
  EXPECT_EQ(sizeof(r.diff), sizeof(DiffStats));
}

}  // namespace
}  // namespace tensordiff
