// The zip reader (io/torch/zip_archive.hpp) and the .npz source built on it
// (io/numpy/numpy_source.cpp): members in archive order, stored members read in place,
// deflated ones streamed; a corrupt archive is one Error naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include "fixtures/format_writers.hpp"
#include "fixtures/h5_writer.hpp"
#include "io/formats.hpp"
#include "io/input_file.hpp"
#include "io/numpy/npy.hpp"
#include "io/torch/zip_archive.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

Bytes counting(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return b;
}

TEST(ZipReader, MembersInArchiveOrderStoredInPlaceDeflatedStreamed) {
  const std::string p = temp_dir() + "/a.zip";
  const Bytes big = counting(100000);
  write_zip(p, {{"z/first", bytes_of("stored bytes"), false}, {"a/second", big, true}, {"empty", {}, false}});
  const Bytes file = read_file(p);
  ASSERT_TRUE(is_zip(file.data(), file.size()));
  const std::vector<ZipMember> m = list_zip(p, 8);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].name, "z/first");
  EXPECT_EQ(m[1].name, "a/second");
  EXPECT_EQ(m[2].name, "empty");
  EXPECT_EQ(m[0].method, 0);
  EXPECT_EQ(m[1].method, 8);
  EXPECT_EQ(m[0].size, 12u);
  EXPECT_EQ(m[0].compressed, 12u);
  EXPECT_EQ(m[1].size, big.size());
  EXPECT_LT(m[1].compressed, m[1].size);
  EXPECT_EQ(m[2].size, 0u);
  // Heads: the first bytes, inflated.
  EXPECT_EQ(m[0].head, bytes_of("stored b"));
  EXPECT_EQ(m[1].head, Bytes(big.begin(), big.begin() + 8));
  EXPECT_TRUE(m[2].head.empty());
  // A stored member's bytes are in the file at data_offset.
  ASSERT_LE(m[0].data_offset + 12, file.size());
  EXPECT_EQ(Bytes(file.begin() + static_cast<long>(m[0].data_offset), file.begin() + static_cast<long>(m[0].data_offset) + 12),
            bytes_of("stored bytes"));
  // A deflated member front to back, from an offset, in pieces.
  auto s = open_zip_member(p, m[1], 1000);
  Bytes got(big.size() - 1000);
  s->read(got.data(), 5000);
  s->read(got.data() + 5000, got.size() - 5000);  // to the end: the CRC-32 is checked
  EXPECT_EQ(got, Bytes(big.begin() + 1000, big.end()));
}

TEST(ZipReader, ReadingPastAMemberIsAnError) {
  const std::string p = temp_dir() + "/a.zip";
  write_zip(p, {{"m", counting(100), true}});
  const auto m = list_zip(p, 0);
  auto s = open_zip_member(p, m[0], 90);
  Bytes b(20);
  expect_error([&] { s->read(b.data(), 20); }, ErrorCode::kCorrupt, p + ": member 'm': shorter than its tensor");
}

TEST(ZipReader, CorruptArchivesAreOneErrorNamingTheFile) {
  const std::string dir = temp_dir();
  const std::string p = dir + "/a.zip";
  write_zip(p, {{"x", counting(3000), false}, {"y", counting(3000), true}});
  const Bytes whole = read_file(p);
  // Cut in half: no central directory.
  const std::string cut = dir + "/cut.zip";
  write_file(cut, Bytes(whole.begin(), whole.begin() + static_cast<long>(whole.size() / 2)));
  expect_error([&] { list_zip(cut, 16); }, ErrorCode::kCorrupt, cut + ": not a readable zip archive");
  // Not a zip at all.
  const std::string text = dir + "/text.zip";
  write_file(text, bytes_of("PK but not really an archive, just text"));
  expect_error([&] { list_zip(text, 16); }, ErrorCode::kCorrupt, text + ": not a readable zip archive");
  // A byte of a stored member flipped: its CRC-32 says so once it is read to the end.
  const auto m = list_zip(p, 0);
  Bytes flipped = whole;
  flipped[m[0].data_offset + 100] ^= 0xff;
  const std::string bad = dir + "/crc.zip";
  write_file(bad, flipped);
  auto s = open_zip_member(bad, list_zip(bad, 0)[0], 0);
  Bytes b(3000);
  expect_error([&] { s->read(b.data(), b.size()); }, ErrorCode::kCorrupt, bad + ": member 'x': CRC-32 mismatch");
}

// .npz: np.savez (stored) and np.savez_compressed (deflated) archives of .npy members.
TEST(NpzReader, ListingAndBytesReadBack) {
  const std::string dir = temp_dir();
  const std::vector<float> w = {1.5f, -2.0f, 3.25f, 4.0f};
  const std::vector<int64_t> ids = {7, -8, 9};
  const std::vector<uint8_t> mask = {1, 0, 1, 1, 0};
  const Bytes w_npy = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", to_bytes(w));
  const Bytes ids_npy = npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", to_bytes(ids));
  const Bytes mask_npy = npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }", mask);
  for (const bool deflate : {false, true}) {
    const std::string p = dir + (deflate ? "/c.npz" : "/s.npz");
    // The archive's order (np.savez keeps the keywords'), not the names' order.
    write_zip(p, {{"layers.10.w.npy", w_npy, deflate}, {"layers.2.ids.npy", ids_npy, deflate}, {"mask.npy", mask_npy, deflate}});
    EXPECT_EQ(detect_format(p), Format::kNpz);
    auto src = open_npz(p);
    ASSERT_EQ(names_of(*src), (std::vector<std::string>{"layers.10.w", "layers.2.ids", "mask"}));
    const auto& t = src->tensors();
    EXPECT_EQ(t[0].dtype, DType::kF32);
    EXPECT_EQ(t[0].shape, (std::vector<uint64_t>{2, 2}));
    EXPECT_EQ(t[1].dtype, DType::kI64);
    EXPECT_EQ(t[1].shape, (std::vector<uint64_t>{3}));
    EXPECT_EQ(t[2].dtype, DType::kBool);
    EXPECT_EQ(t[2].count, 5u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(t[i].order, i);
      EXPECT_EQ(t[i].storage, deflate ? "npz (deflated)" : "npz (stored)");
      EXPECT_EQ(src->sequential(i), deflate);
    }
    EXPECT_EQ(read_all(*src, 0), to_bytes(w));
    EXPECT_EQ(read_all(*src, 1), to_bytes(ids));
    EXPECT_EQ(read_all(*src, 2), mask);
  }
}

TEST(NpzReader, AMemberThatIsNotNpyIsOneError) {
  const std::string p = temp_dir() + "/bad.npz";
  write_zip(p, {{"x.npy", bytes_of("this is not an array"), false}});
  expect_error([&] { open_npz(p); }, ErrorCode::kCorrupt, p + ": member 'x.npy': not a .npy file");
}

}  // namespace
}  // namespace tdtest
