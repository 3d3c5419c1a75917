// The HDF5 source on fixtures written here: every dtype spelling, byte order, layout and
// filter, nested groups, scalar and zero-size datasets, unsupported types.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "cpu/reference.hpp"
#include "fixtures/h5_writer.hpp"
#include "io/byte_order.hpp"
#include "io/source.hpp"
#include "tensordiff/error.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(r());
  return v;
}

const TensorInfo& find(const Source& s, const std::string& name) {
  for (const auto& t : s.tensors())
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

std::vector<uint8_t> read_le(Source& s, const TensorInfo& t, uint64_t first, uint64_t n) {
  std::vector<uint8_t> out(n * dtype_size(t.dtype));
  s.read(t.order, first, n, out.data());
  if (t.big_endian) swap_bytes_inplace(out.data(), n, dtype_size(t.dtype));
  return out;
}

TEST(Hdf5Source, EveryDtypeAndSpellingRoundTrips) {
  const std::string path = temp_dir() + "/all.h5";
  struct Item {
    std::string name;
    DatasetSpec spec;
  };
  std::vector<Item> items;
  const DType types[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kF8E4M3,
                         DType::kF8E5M2, DType::kI8, DType::kI16, DType::kI32, DType::kI64,
                         DType::kU8, DType::kU16, DType::kU32, DType::kU64, DType::kBool};
  for (DType t : types)
    for (bool be : {false, true}) {
      if (dtype_size(t) == 1 && be) continue;
      DatasetSpec s;
      s.shape = std::vector<uint64_t>{3, 5, 7};
      s.dtype = t;
      s.big_endian = be;
      items.push_back({std::string(dtype_name(t)) + (be ? "_be" : "_le"), s});
    }
  for (auto sp : {Bf16Spelling::kOpaqueAttr, Bf16Spelling::kUint16Attr}) {
    DatasetSpec s;
    s.shape = std::vector<uint64_t>{105};
    s.dtype = DType::kBF16;
    s.bf16 = sp;
    items.push_back({sp == Bf16Spelling::kOpaqueAttr ? "bf16_opaque" : "bf16_uint16", s});
  }
  std::map<std::string, std::vector<uint8_t>> data;
  {
    H5Writer w(path);
    uint64_t seed = 1;
    for (const auto& it : items) {
      auto bytes = random_bytes(105 * dtype_size(it.spec.dtype), seed++);
      if (it.spec.dtype == DType::kBool)
        for (auto& b : bytes) b &= 1;
      w.write("group/" + it.name, it.spec, bytes);
      data[it.name] = bytes;
    }
  }
  auto src = open_hdf5(path, nullptr);
  for (const auto& it : items) {
    const TensorInfo& t = find(*src, "group/" + it.name);
    ASSERT_TRUE(t.unsupported.empty()) << it.name << ": " << t.unsupported;
    EXPECT_EQ(t.dtype, it.spec.dtype) << it.name;
    EXPECT_EQ(t.big_endian, it.spec.big_endian) << it.name;
    EXPECT_EQ(t.count, 105u);
    EXPECT_EQ(read_le(*src, t, 0, 105), data[it.name]) << it.name;
    // An arbitrary flat range across rows.
    const auto part = read_le(*src, t, 11, 60);
    const size_t es = dtype_size(t.dtype);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), data[it.name].begin() + 11 * es)) << it.name;
  }
}

TEST(Hdf5Source, ChunkedGzipShuffleFletcherAndEdgeChunks) {
  const std::string path = temp_dir() + "/chunked.h5";
  const auto bytes = random_bytes(4 * 1000 * 37, 9);
  {
    H5Writer w(path);
    DatasetSpec s;
    s.shape = std::vector<uint64_t>{1000, 37};
    s.chunk = {64, 10};  // edge chunks in both dimensions
    s.gzip = 4;
    s.shuffle = true;
    s.fletcher32 = true;
    w.write("a/b/c/weights", s, bytes);
  }
  auto src = open_hdf5(path, nullptr);
  const TensorInfo& t = find(*src, "a/b/c/weights");
  EXPECT_EQ(t.storage, "chunked+fletcher32+shuffle+deflate");
  EXPECT_EQ(t.shape, (std::vector<uint64_t>{1000, 37}));
  EXPECT_EQ(read_le(*src, t, 0, 37000), bytes);
  const auto mid = read_le(*src, t, 12345, 9999);
  EXPECT_TRUE(std::equal(mid.begin(), mid.end(), bytes.begin() + 4 * 12345));
}

TEST(Hdf5Source, ScalarZeroSizeAndUnsupported) {
  const std::string path = temp_dir() + "/odd.h5";
  {
    H5Writer w(path);
    DatasetSpec scalar;
    scalar.dtype = DType::kF64;
    w.write("scalar", scalar, to_bytes(std::vector<double>{3.5}));
    DatasetSpec empty;
    empty.shape = std::vector<uint64_t>{0, 4};
    w.write("empty", empty, {});
    w.write_compound("complex", 4);
    w.write_string("note", "hello");
  }
  auto src = open_hdf5(path, nullptr);
  const TensorInfo& s = find(*src, "scalar");
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.count, 1u);
  const auto v = read_le(*src, s, 0, 1);
  double d;
  std::memcpy(&d, v.data(), 8);
  EXPECT_EQ(d, 3.5);
  EXPECT_EQ(find(*src, "empty").count, 0u);
  EXPECT_NE(find(*src, "complex").unsupported.find("compound"), std::string::npos);
  EXPECT_NE(find(*src, "note").unsupported.find("string"), std::string::npos);
}

TEST(Hdf5Source, BadFilesGiveClearErrors) {
  const std::string dir = temp_dir();
  auto expect_error = [](const std::string& p, ErrorCode code, const std::string& text) {
    try {
      open_hdf5(p, nullptr);
      ADD_FAILURE() << p;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  };
  expect_error(dir + "/missing.h5", ErrorCode::kIo, "No such file");
  {
    std::ofstream(dir + "/text.h5") << "this is not hdf5\n";
  }
  expect_error(dir + "/text.h5", ErrorCode::kNotHdf5, "not an HDF5 file");
  {
    H5Writer w(dir + "/full.h5");
    DatasetSpec s;
    s.shape = std::vector<uint64_t>{100000};
    w.write("x", s, random_bytes(400000, 3));
  }
  std::filesystem::copy_file(dir + "/full.h5", dir + "/trunc.h5");
  std::filesystem::resize_file(dir + "/trunc.h5", 1000);
  expect_error(dir + "/trunc.h5", ErrorCode::kCorrupt, "truncated or corrupt");
}

}  // namespace
}  // namespace tdtest
