// The direct readers (pread for contiguous datasets, raw chunks unfiltered in our threads)
// return byte-identical data to H5Dread, for every layout and filter we decode ourselves.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "fixtures/h5_writer.hpp"
#include "io/filters.hpp"
#include "io/source.hpp"
#include "tensordiff/tensordiff.hpp"
#include "tensordiff/error.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed, bool compressible) {
  std::mt19937_64 r(seed);
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = compressible ? static_cast<uint8_t>((i / 64) ^ (r() & 3)) : static_cast<uint8_t>(r());
  return v;
}

void expect_same_reads(const std::string& path) {
  auto direct = open_hdf5(path, nullptr, ReadMode::kDirect);
  auto ref = open_hdf5(path, nullptr, ReadMode::kHdf5Only);
  std::mt19937_64 rng(3);
  for (const auto& t : direct->tensors()) {
    SCOPED_TRACE(t.name + " " + t.storage);
    ASSERT_TRUE(t.unsupported.empty());
    const size_t es = dtype_size(t.dtype);
    std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, t.count}};
    for (int k = 0; k < 20 && t.count > 1; ++k) {
      const uint64_t first = rng() % t.count;
      ranges.push_back({first, 1 + rng() % (t.count - first)});
    }
    for (auto [first, n] : ranges) {
      std::vector<uint8_t> x(n * es), y(n * es, 0xEE);
      direct->read(t.order, first, n, x.data());
      ref->read(t.order, first, n, y.data());
      ASSERT_EQ(x, y) << "range " << first << "+" << n;
    }
  }
}

TEST(DirectRead, EveryLayoutAndFilterMatchesH5Dread) {
  const std::string path = temp_dir() + "/layouts.h5";
  {
    H5Writer w(path);
    uint64_t seed = 1;
    auto add = [&](const std::string& name, DatasetSpec s, bool compressible = false) {
      size_t n = 1;
      for (auto d : s.shape) n *= d;
      w.write(name, s, random_bytes(n * dtype_size(s.dtype), seed++, compressible));
    };
    DatasetSpec s;
    s.shape = {1000, 33};
    add("contiguous_f32", s);
    s.big_endian = true;
    add("contiguous_f32_be", s);
    s = DatasetSpec{};
    s.dtype = DType::kF64;
    add("contiguous_scalar", s);
    s.shape = {100, 30, 7};
    s.chunk = {16, 8, 7};  // edge chunks in two dimensions
    add("chunked_plain", s);
    s.gzip = 4;
    s.shuffle = true;
    add("chunked_gzip_shuffle", s, true);
    s.fletcher32 = true;
    add("chunked_fletcher_shuffle_gzip", s, true);
    s = DatasetSpec{};
    s.dtype = DType::kI16;
    s.big_endian = true;
    s.shape = {12345};
    s.chunk = {1000};
    s.gzip = 1;
    add("chunked_i16_be_gzip", s, true);
    s.dtype = DType::kBF16;
    s.big_endian = false;
    s.shuffle = true;
    s.fletcher32 = true;
    add("chunked_bf16_fletcher", s);
  }
  auto direct = open_hdf5(path, nullptr, ReadMode::kDirect);
  expect_same_reads(path);
}

// The faster readers leave the reports of the CPU engine unchanged: the same JSON, bit for bit.
TEST(DirectRead, ReportsAreIdenticalToTheHdf5Path) {
  const std::string dir = temp_dir();
  for (const char* side : {"a", "b"}) {
    H5Writer w(dir + "/" + side + ".h5");
    uint64_t seed = side[0] == 'a' ? 1 : 2;
    DatasetSpec s;
    s.shape = {300, 70};
    w.write("contiguous", s, random_bytes(4 * 21000, seed, true));
    s.chunk = {64, 16};
    s.gzip = 2;
    s.shuffle = true;
    s.fletcher32 = true;
    w.write("chunked", s, random_bytes(4 * 21000, seed + 10, true));
    s = DatasetSpec{};
    s.dtype = DType::kBF16;
    s.big_endian = true;
    s.shape = {5000};
    w.write("bf16_be", s, random_bytes(10000, seed + 20, true));
  }
  auto canonical = [](const Report& r) {
    auto j = nlohmann::json::parse(to_json(r));
    j["summary"].erase("seconds");
    j["summary"].erase("gb_per_s");
    return j.dump();
  };
  CompareOptions o;
  o.engine.chunk_bytes = 4096;
  const std::string direct = canonical(compare(dir + "/a.h5", dir + "/b.h5", o));
  o.engine.direct_reads = false;
  EXPECT_EQ(canonical(compare(dir + "/a.h5", dir + "/b.h5", o)), direct);
}

// A sparse chunked dataset: chunks never written read as the fill value.
TEST(DirectRead, UnwrittenChunksReadAsFillValue) {
  const std::string path = temp_dir() + "/sparse.h5";
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[2] = {100, 100}, chunk[2] = {10, 10};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_deflate(dcpl, 3);
    const float fill = -7.5f;
    H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &fill);
    hid_t d = H5Dcreate2(f, "sparse", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    // Write one 20x20 block: four chunks of the hundred.
    const hsize_t start[2] = {40, 40}, count[2] = {20, 20};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t mem = H5Screate_simple(2, count, nullptr);
    std::vector<float> v(400, 1.25f);
    H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, v.data());
    // And a contiguous dataset that is never written at all.
    hid_t dcpl2 = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_value(dcpl2, H5T_NATIVE_FLOAT, &fill);
    hid_t space2 = H5Screate_simple(2, dims, nullptr);
    hid_t d2 = H5Dcreate2(f, "unwritten", H5T_IEEE_F32LE, space2, H5P_DEFAULT, dcpl2, H5P_DEFAULT);
    for (hid_t h : {d, d2}) H5Dclose(h);
    for (hid_t h : {space, mem, space2}) H5Sclose(h);
    for (hid_t h : {dcpl, dcpl2}) H5Pclose(h);
    H5Fclose(f);
  }
  expect_same_reads(path);
  auto direct = open_hdf5(path, nullptr);
  std::vector<float> all(10000);
  direct->read(0, 0, 10000, reinterpret_cast<uint8_t*>(all.data()));
  EXPECT_EQ(all[0], -7.5f);
  EXPECT_EQ(all[45 * 100 + 45], 1.25f);
  EXPECT_EQ(std::count(all.begin(), all.end(), 1.25f), 400);
}

TEST(DirectRead, CorruptChunkNamesTensorAndChunk) {
  const std::string path = temp_dir() + "/bad.h5";
  {
    H5Writer w(path);
    DatasetSpec s;
    s.shape = {40000};
    s.chunk = {4000};
    s.gzip = 4;
    s.fletcher32 = true;
    w.write("w", s, random_bytes(160000, 5, true));
  }
  // Flip bits inside the stored chunks (past the metadata at the start of the file).
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto size = static_cast<long>(f.tellg());
    f.seekp(size / 2);
    f.write("\xff\x00\xff\x00\xff\x00", 6);
  }
  auto src = open_hdf5(path, nullptr);
  std::vector<uint8_t> buf(160000);
  try {
    src->read(0, 0, 40000, buf.data());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    const std::string m = e.what();
    EXPECT_NE(m.find("tensor 'w': chunk at ("), std::string::npos) << m;
  }
}

TEST(Filters, Fletcher32MatchesKnownValues) {
  // Fletcher-32 over big-endian 16-bit words, as HDF5 computes it.
  const uint8_t abcde[] = {'a', 'b', 'c', 'd', 'e'};
  EXPECT_EQ(hdf5_fletcher32(abcde, 4), (uint32_t((0x6162 + (0x6162 + 0x6364)) % 0xffff) << 16 |
                                        uint32_t((0x6162 + 0x6364) % 0xffff)));
  EXPECT_EQ(hdf5_fletcher32(abcde, 0), 0u);
}

}  // namespace
}  // namespace tdtest

namespace tdtest {
namespace {

// A filter we do not decode ourselves (here HDF5's scale-offset) falls back to H5Dread, and
// --verbose says so.
TEST(DirectRead, OtherFiltersFallBackToHdf5WithANote) {
  const std::string path = temp_dir() + "/so.h5";
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dim = 5000, chunk = 1000;
    hid_t space = H5Screate_simple(1, &dim, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 1, &chunk);
    H5Pset_scaleoffset(dcpl, H5Z_SO_INT, H5Z_SO_INT_MINBITS_DEFAULT);
    hid_t d = H5Dcreate2(f, "so", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    std::vector<int32_t> v(5000);
    for (int i = 0; i < 5000; ++i) v[i] = 1000 + i % 77;
    H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
  }
  std::vector<std::string> log;
  auto src = open_hdf5(path, [&](const std::string& s) { log.push_back(s); });
  bool noted = false;
  for (const auto& l : log) noted |= l.find("'so' (chunked+scaleoffset): filters decoded by HDF5") != std::string::npos;
  EXPECT_TRUE(noted);
  std::vector<int32_t> got(5000);
  src->read(0, 0, 5000, reinterpret_cast<uint8_t*>(got.data()));
  EXPECT_EQ(got[4999], 1000 + 4999 % 77);
  expect_same_reads(path);
}

}  // namespace
}  // namespace tdtest

namespace tdtest {
namespace {

// Regression: the per-thread cache of the last decoded chunk was keyed by the layout's
// address, so a source opened after another one was closed could be served the old file's
// chunk (seen as a flaky Determinism.RepeatedRunsAreIdentical).
TEST(DirectRead, ChunkCacheNeverServesAClosedSourcesData) {
  const std::string dir = temp_dir();
  std::vector<uint8_t> data[2];
  for (int f = 0; f < 2; ++f) {
    data[f] = random_bytes(4 * 5000, 100 + f, true);
    H5Writer w(dir + "/f" + std::to_string(f) + ".h5");
    DatasetSpec s;
    s.shape = {5000};
    s.chunk = {5000};
    s.gzip = 1;
    w.write("x", s, data[f]);
  }
  for (int round = 0; round < 20; ++round) {
    const int f = round % 2;
    auto src = open_hdf5(dir + "/f" + std::to_string(f) + ".h5", nullptr);
    std::vector<uint8_t> got(4 * 5000);
    src->read(0, 0, 5000, got.data());
    ASSERT_EQ(got, data[f]) << "round " << round;
  }
}

}  // namespace
}  // namespace tdtest

namespace tdtest {
namespace {

// H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS (issue 11): edge chunks are stored unfiltered; running
// the filters backwards on them gave "corrupt deflate data" or wrong values (HDF5's own
// h5fc_edge_v3.h5). 2-D, so that both a row and a column of chunks are partial.
TEST(DirectRead, UnfilteredPartialEdgeChunks) {
  const std::string path = temp_dir() + "/edges.h5";
  const hsize_t dims[2] = {70, 45}, chunk[2] = {32, 16};
  std::vector<float> v(70 * 45);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i % 97) * 0.25);
  {
    hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, 6);
    H5Pset_chunk_opts(dcpl, H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS);
    hid_t d = H5Dcreate2(f, "edges", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);
  }
  auto src = open_hdf5(path, nullptr, ReadMode::kDirect);
  const TensorInfo& t = src->tensors()[0];
  ASSERT_NE(t.storage.find("deflate"), std::string::npos);
  std::vector<float> got(v.size());
  src->read(0, 0, v.size(), reinterpret_cast<uint8_t*>(got.data()));
  EXPECT_EQ(got, v);
  expect_same_reads(path);
}

}  // namespace
}  // namespace tdtest
