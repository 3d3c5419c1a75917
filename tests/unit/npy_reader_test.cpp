// The .npy reader (io/numpy/npy.hpp, io/numpy/numpy_source.cpp): headers of versions 1-3,
// the dtypes numpy and ml_dtypes write, C and Fortran order, both byte orders; a corrupt
// header is one Error naming the file.
#include <gtest/gtest.h>

#include "fixtures/format_writers.hpp"
#include "fixtures/h5_writer.hpp"
#include "io/formats.hpp"
#include "io/numpy/npy.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

TEST(NpyReader, HeaderFields) {
  const Bytes b = npy_bytes("{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3, 4), }", {});
  ASSERT_TRUE(is_npy(b.data(), b.size()));
  const NpyHeader h = parse_npy_header(b.data(), b.size(), "h.npy");
  EXPECT_EQ(h.dtype, DType::kI32);
  EXPECT_TRUE(h.big_endian);
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(h.data_offset, b.size());  // no data: the header is the whole file
  EXPECT_EQ(h.data_offset % 64, 0u);
  EXPECT_EQ(h.descr, ">i4");
  EXPECT_TRUE(h.unsupported.empty());
  EXPECT_EQ(npy_header_length(b.data(), kNpyPrefix, "h.npy"), b.size());
  // Version 2 (a 4-byte length), a scalar, Python 2's long.
  const Bytes v2 = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", {}, 2);
  const NpyHeader s = parse_npy_header(v2.data(), v2.size(), "s.npy");
  EXPECT_EQ(s.dtype, DType::kF64);
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data_offset, v2.size());
  const Bytes py2 = npy_bytes("{'descr': '<u2', 'fortran_order': False, 'shape': (5L,), }", {});
  EXPECT_EQ(parse_npy_header(py2.data(), py2.size(), "p.npy").shape, (std::vector<uint64_t>{5}));
}

TEST(NpyReader, Dtypes) {
  const std::pair<const char*, DType> kWant[] = {
      {"<f8", DType::kF64}, {"<f4", DType::kF32}, {"<f2", DType::kF16}, {"|b1", DType::kBool},
      {"|i1", DType::kI8},  {"<i2", DType::kI16}, {"<i4", DType::kI32}, {"<i8", DType::kI64},
      {"|u1", DType::kU8},  {"<u2", DType::kU16}, {"<u4", DType::kU32}, {"<u8", DType::kU64},
      {"<V2", DType::kBF16}, {"<f1", DType::kF8E5M2}};  // ml_dtypes' bfloat16 and float8_e5m2
  for (const auto& [descr, dtype] : kWant) {
    const Bytes b = npy_bytes(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }", {});
    const NpyHeader h = parse_npy_header(b.data(), b.size(), "d.npy");
    EXPECT_EQ(h.dtype, dtype) << descr;
    EXPECT_TRUE(h.unsupported.empty()) << descr;
  }
  for (const char* descr : {"<c8", "<V1", "<U3"}) {
    const Bytes b = npy_bytes(std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (1,), }", {});
    EXPECT_FALSE(parse_npy_header(b.data(), b.size(), "d.npy").unsupported.empty()) << descr;
  }
}

TEST(NpyReader, ListingAndBytesReadBack) {
  const std::string dir = temp_dir();
  const std::vector<float> x = {0.5f, -1.0f, 2.25f, 3.0f, -4.5f, 1e-3f};
  const std::string p = dir + "/layers.0.weight.npy";
  write_file(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", to_bytes(x)));
  EXPECT_EQ(detect_format(p), Format::kNpy);
  auto src = open_npy(p);
  ASSERT_EQ(names_of(*src), (std::vector<std::string>{"layers.0.weight"}));
  const TensorInfo& t = src->tensors()[0];
  EXPECT_EQ(t.dtype, DType::kF32);
  EXPECT_EQ(t.type_name, "float32");
  EXPECT_EQ(t.shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(t.count, 6u);
  EXPECT_FALSE(t.big_endian);
  EXPECT_EQ(t.storage, "npy");
  EXPECT_EQ(t.order, 0u);
  EXPECT_EQ(read_all(*src, 0), to_bytes(x));
  // A range from the middle.
  float mid[2];
  src->read(0, 2, 2, reinterpret_cast<uint8_t*>(mid));
  EXPECT_EQ(mid[0], 2.25f);
  EXPECT_EQ(mid[1], 3.0f);
}

TEST(NpyReader, FortranOrderReadsInCOrder) {
  const std::string dir = temp_dir();
  // [[0 1 2] [3 4 5]] stored column by column.
  const std::vector<int16_t> f_order = {0, 3, 1, 4, 2, 5};
  write_file(dir + "/f.npy", npy_bytes("{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }", to_bytes(f_order)));
  auto src = open_npy(dir + "/f.npy");
  EXPECT_EQ(src->tensors()[0].dtype, DType::kI16);
  EXPECT_EQ(src->tensors()[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(read_all(*src, 0), to_bytes(std::vector<int16_t>{0, 1, 2, 3, 4, 5}));
}

TEST(NpyReader, BigEndianBytesAsStored) {
  const std::string dir = temp_dir();
  const Bytes be = {0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe};  // >i4: 258, -2
  write_file(dir + "/be.npy", npy_bytes("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be));
  auto src = open_npy(dir + "/be.npy");
  EXPECT_TRUE(src->tensors()[0].big_endian);
  EXPECT_EQ(read_all(*src, 0), be);  // the file's byte order: the engine swaps
}

TEST(NpyReader, MalformedHeaderIsOneErrorNamingTheFile) {
  const std::string dir = temp_dir();
  const std::string p = dir + "/bad.npy";
  write_file(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", Bytes(8)));
  expect_error([&] { open_npy(p); }, ErrorCode::kCorrupt, p + ": .npy header is corrupt (unknown key 'extra' at byte");
  write_file(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }", Bytes(8)));
  expect_error([&] { open_npy(p); }, ErrorCode::kCorrupt, p + ": .npy header is corrupt (expected a dimension");
  // A header longer than the file.
  Bytes cut = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", {});
  cut.resize(40);
  write_file(p, cut);
  expect_error([&] { open_npy(p); }, ErrorCode::kCorrupt, p + ": .npy header is truncated");
  // A version numpy never wrote.
  Bytes v9 = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", Bytes(8));
  v9[6] = 9;
  write_file(p, v9);
  expect_error([&] { open_npy(p); }, ErrorCode::kCorrupt, p + ": .npy format version 9 (1 to 3 are read)");
  // A shape of 2^80 elements.
  write_file(p, npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", Bytes(8)));
  expect_error([&] { open_npy(p); }, ErrorCode::kCorrupt, "a shape of more than 2^60 elements");
}

TEST(NpyReader, DataShorterThanTheShapeIsTheTensorsError) {
  const std::string dir = temp_dir();
  const std::string p = dir + "/short.npy";
  write_file(p, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", Bytes(16)));
  auto src = open_npy(p);  // the listing stands; the tensor cannot be read
  ASSERT_TRUE(src->read_error(0).has_value());
  EXPECT_NE(src->read_error(0)->find("run past the end of the file"), std::string::npos) << *src->read_error(0);
  expect_error([&] { read_all(*src, 0); }, ErrorCode::kCorrupt, "tensor 'short'");
}

}  // namespace
}  // namespace tdtest
