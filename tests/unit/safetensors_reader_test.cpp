// The safetensors reader (io/safetensors/safetensors_source.cpp): tensors in natural name
// order (the file keeps no other), every dtype of the format, offsets relative to the data,
// a sharded checkpoint's index; a corrupt header is one Error naming the file.
#include <gtest/gtest.h>

#include "fixtures/format_writers.hpp"
#include "fixtures/h5_writer.hpp"
#include "io/formats.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

const std::vector<float> kW = {1.0f, -2.5f, 3.75f, 0.0f, 1e-8f, -1e8f};
const std::vector<uint16_t> kAct = {0x3f80, 0xbf80, 0x4000};  // bfloat16 1, -1, 2
const std::vector<int64_t> kIds = {5, -6};

// layers.10.w (F32 2x3), layers.2.act (BF16 3), embed.ids (I64 2), written in that order.
std::string header() {
  return R"({"layers.10.w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
         R"("layers.2.act":{"dtype":"BF16","shape":[3],"data_offsets":[24,30]},)"
         R"("embed.ids":{"dtype":"I64","shape":[2],"data_offsets":[30,46]},)"
         R"("__metadata__":{"format":"pt"}})";
}

Bytes data() { return concat({to_bytes(kW), to_bytes(kAct), to_bytes(kIds)}); }

TEST(SafetensorsReader, ListingInNaturalOrderAndBytesReadBack) {
  const std::string p = temp_dir() + "/m.safetensors";
  write_file(p, safetensors_bytes(header(), data()));
  EXPECT_EQ(detect_format(p), Format::kSafetensors);
  auto src = open_safetensors(p);
  ASSERT_EQ(names_of(*src), (std::vector<std::string>{"embed.ids", "layers.2.act", "layers.10.w"}));
  const auto& t = src->tensors();
  EXPECT_EQ(t[0].dtype, DType::kI64);
  EXPECT_EQ(t[0].shape, (std::vector<uint64_t>{2}));
  EXPECT_EQ(t[1].dtype, DType::kBF16);
  EXPECT_EQ(t[1].type_name, "bfloat16");
  EXPECT_EQ(t[1].count, 3u);
  EXPECT_EQ(t[2].dtype, DType::kF32);
  EXPECT_EQ(t[2].shape, (std::vector<uint64_t>{2, 3}));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t[i].order, i);
    EXPECT_EQ(t[i].storage, "safetensors");
    EXPECT_FALSE(src->read_error(i).has_value());
  }
  EXPECT_EQ(read_all(*src, 0), to_bytes(kIds));
  EXPECT_EQ(read_all(*src, 1), to_bytes(kAct));
  EXPECT_EQ(read_all(*src, 2), to_bytes(kW));
}

TEST(SafetensorsReader, EveryDtypeOfTheFormat) {
  const std::pair<const char*, DType> kWant[] = {
      {"F64", DType::kF64}, {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16},
      {"F8_E4M3", DType::kF8E4M3}, {"F8_E5M2", DType::kF8E5M2}, {"I8", DType::kI8}, {"I16", DType::kI16},
      {"I32", DType::kI32}, {"I64", DType::kI64}, {"U8", DType::kU8}, {"U16", DType::kU16},
      {"U32", DType::kU32}, {"U64", DType::kU64}, {"BOOL", DType::kBool}};
  const std::string dir = temp_dir();
  for (const auto& [code, dtype] : kWant) {
    const size_t n = dtype_size(dtype);
    const std::string p = dir + "/" + code + ".safetensors";
    write_file(p, safetensors_bytes(std::string(R"({"x":{"dtype":")") + code + R"(","shape":[1],"data_offsets":[0,)" +
                                        std::to_string(n) + "]}}",
                                    Bytes(n, 1)));
    auto src = open_safetensors(p);
    EXPECT_EQ(src->tensors()[0].dtype, dtype) << code;
    EXPECT_TRUE(src->tensors()[0].unsupported.empty()) << code;
  }
  // A dtype the format has and we do not read: listed, unsupported.
  const std::string p = dir + "/c64.safetensors";
  write_file(p, safetensors_bytes(R"({"z":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", Bytes(8)));
  auto src = open_safetensors(p);
  EXPECT_EQ(src->tensors()[0].type_name, "C64");
  EXPECT_EQ(src->tensors()[0].unsupported, "safetensors dtype 'C64'");
}

TEST(SafetensorsReader, ShardsThroughTheirIndex) {
  const std::string dir = temp_dir();
  write_file(dir + "/model-00001-of-00002.safetensors",
             safetensors_bytes(R"({"b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", to_bytes(kIds)));
  write_file(dir + "/model-00002-of-00002.safetensors",
             safetensors_bytes(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", to_bytes(kW)));
  write_file(dir + "/model.safetensors.index.json",
             bytes_of(R"({"metadata":{},"weight_map":{"b":"model-00001-of-00002.safetensors",)"
                      R"("a":"model-00002-of-00002.safetensors"}})"));
  for (const std::string& p : {dir, dir + "/model.safetensors.index.json"}) {
    auto src = open_safetensors(p);
    ASSERT_EQ(names_of(*src), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(read_all(*src, 0), to_bytes(kW));
    EXPECT_EQ(read_all(*src, 1), to_bytes(kIds));
  }
}

TEST(SafetensorsReader, OffsetsThatLieAreThatTensorsError) {
  const std::string p = temp_dir() + "/lie.safetensors";
  // layers.10.w claims bytes past the data; the others stay readable.
  std::string h = header();
  h.replace(h.find("[0,24]"), 6, "[0,1000000024]");
  write_file(p, safetensors_bytes(h, data()));
  auto src = open_safetensors(p);
  ASSERT_EQ(src->tensors().size(), 3u);
  ASSERT_TRUE(src->read_error(2).has_value());
  EXPECT_NE(src->read_error(2)->find("tensor 'layers.10.w': data_offsets [0, 1000000024] hold"), std::string::npos)
      << *src->read_error(2);
  expect_error([&] { read_all(*src, 2); }, ErrorCode::kCorrupt, "tensor 'layers.10.w'");
  EXPECT_EQ(read_all(*src, 0), to_bytes(kIds));
}

TEST(SafetensorsReader, MalformedHeadersAreOneErrorNamingTheFile) {
  const std::string dir = temp_dir();
  const std::string p = dir + "/bad.safetensors";
  auto expect = [&](const Bytes& b, const std::string& part) {
    write_file(p, b);
    expect_error([&] { open_safetensors(p); }, ErrorCode::kCorrupt, p + ": " + part);
  };
  // The header's length runs past the end of the file.
  Bytes past = safetensors_bytes(header(), data());
  past.resize(8 + 40);
  expect(past, "safetensors header runs past the end of the file");
  // Not JSON.
  expect(safetensors_bytes("{\"x\": [1, 2", Bytes(8)), "header is not a JSON object");
  // A field missing, a negative size, offsets that are no pair.
  expect(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[2]}})", Bytes(8)),
         "tensor 'x': needs dtype, shape and data_offsets");
  expect(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", Bytes(8)),
         "tensor 'x': shape must hold non-negative integers");
  expect(safetensors_bytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", Bytes(8)),
         "tensor 'x': data_offsets must be [begin, end]");
  // Nested deeper than any header is.
  expect(safetensors_bytes(R"({"x":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}}})", Bytes(8)),
         "JSON nested deeper than 8 levels");
  // A header bigger than the format allows.
  Bytes huge = bytes_of(std::string(8, '\0') + "{" + std::string(100, ' '));
  huge[3] = 0x10;  // 2^28 bytes
  write_file(p, huge);
  expect_error([&] { open_safetensors(p); }, ErrorCode::kCorrupt, "(the format allows 100 MB)");
}

}  // namespace
}  // namespace tdtest
