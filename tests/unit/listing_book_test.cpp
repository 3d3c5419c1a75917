// One listing for an MPI group (io/listing_book.hpp, issue 26): a file opened from the book a
// listing rank recorded is the same source as one its own helper listed (every read path:
// pread, chunks we unfilter, and a filter only libhdf5 reads, whose helper starts on the first
// read), a rank that sees another file is refused with one line, and a damaged book is refused.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <utime.h>

#include <string>
#include <vector>

#include "fixtures/h5_writer.hpp"
#include "io/hdf5/hdf5_listing.hpp"
#include "io/listing_book.hpp"
#include "io/source.hpp"
#include "io/wire.hpp"
#include "tensordiff/error.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

// contiguous float32, chunked deflate+shuffle float32, chunked scale-offset int32 (libhdf5 only).
std::string write_three(const std::string& dir) {
  const std::string path = dir + "/three.h5";
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hsize_t dim = 5000, chunk = 1000;
  hid_t space = H5Screate_simple(1, &dim, nullptr);
  std::vector<float> x(5000);
  std::vector<int32_t> v(5000);
  for (int i = 0; i < 5000; ++i) x[i] = 0.25f * static_cast<float>(i % 97) - 3, v[i] = 1000 + i % 77;
  for (int k = 0; k < 3; ++k) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (k > 0) H5Pset_chunk(dcpl, 1, &chunk);
    if (k == 1) H5Pset_shuffle(dcpl), H5Pset_deflate(dcpl, 4);
    if (k == 2) H5Pset_scaleoffset(dcpl, H5Z_SO_INT, H5Z_SO_INT_MINBITS_DEFAULT);
    const char* name = k == 0 ? "plain" : k == 1 ? "deflated" : "scaleoffset";
    hid_t d = H5Dcreate2(f, name, k == 2 ? H5T_STD_I32LE : H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Dwrite(d, k == 2 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
             k == 2 ? static_cast<const void*>(v.data()) : static_cast<const void*>(x.data()));
    H5Dclose(d);
    H5Pclose(dcpl);
  }
  H5Sclose(space);
  H5Fclose(f);
  return path;
}

std::vector<uint8_t> read_all(Source& s, size_t i) {
  const TensorInfo& t = s.tensors()[i];
  std::vector<uint8_t> out(t.count * dtype_size(t.dtype));
  s.read(i, 0, t.count, out.data());
  return out;
}

std::unique_ptr<ListingBook> recorded(const std::string& path) {
  ListingBook rec;
  rec.record = true;
  open_hdf5(path, nullptr, ReadMode::kDirect, false, &rec);
  const std::vector<uint8_t> bytes = rec.encode();
  return ListingBook::decode(bytes.data(), bytes.size());
}

TEST(ListingBook, AFileOpenedFromTheBookIsTheSameSource) {
  const std::string path = write_three(temp_dir());
  auto own = open_hdf5(path, nullptr);
  auto book = recorded(path);
  ASSERT_EQ(book->files.size(), 1u);
  std::vector<std::string> log;
  auto shared = open_hdf5(path, [&](const std::string& l) { log.push_back(l); }, ReadMode::kDirect, false, book.get());
  bool from_book = false;
  for (const auto& l : log) from_book |= l.find("listing shared by the MPI group") != std::string::npos;
  EXPECT_TRUE(from_book);
  ASSERT_EQ(shared->tensors().size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const TensorInfo &a = own->tensors()[i], &b = shared->tensors()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.dtype, b.dtype);
    EXPECT_EQ(a.storage, b.storage);
    EXPECT_EQ(a.order, b.order);
    EXPECT_EQ(read_all(*own, i), read_all(*shared, i)) << a.name;  // scaleoffset: a helper started now
  }
}

TEST(ListingBook, ARankThatSeesAnotherFileIsRefused) {
  const std::string path = write_three(temp_dir());
  auto book = recorded(path);
  book->files.begin()->second.mtime_ns += 1;  // the file changed (or is another) on this rank
  try {
    open_hdf5(path, nullptr, ReadMode::kDirect, false, book.get());
    FAIL() << "opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not the file the MPI group listed"), std::string::npos) << e.what();
  }
}

TEST(ListingBook, ADamagedBookIsRefused) {
  const std::string path = write_three(temp_dir());
  ListingBook rec;
  rec.record = true;
  open_hdf5(path, nullptr, ReadMode::kDirect, false, &rec);
  const std::vector<uint8_t> good = rec.encode();
  EXPECT_NO_THROW(ListingBook::decode(good.data(), good.size()));
  for (size_t cut : {size_t(0), size_t(5), good.size() / 2, good.size() - 1})
    EXPECT_THROW(ListingBook::decode(good.data(), cut), wire::WireError) << cut;
  std::vector<uint8_t> flipped = good;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_THROW(ListingBook::decode(flipped.data(), flipped.size()), wire::WireError);
  // Another version, its hash made right: refused by its version, not misread.
  std::vector<uint8_t> other = good;
  other[4] = kListingBookVersion + 1;
  other.resize(other.size() - 8);
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t c : other) h = (h ^ c) * 0x100000001b3ull;
  for (int i = 0; i < 8; ++i) other.push_back(static_cast<uint8_t>(h >> (8 * i)));
  try {
    ListingBook::decode(other.data(), other.size());
    FAIL() << "decoded";
  } catch (const wire::WireError& e) {
    EXPECT_NE(std::string(e.what()).find("version"), std::string::npos) << e.what();
  }
}


// The helper sends its listing in parts and the engine decodes it dataset by dataset (issue 26):
// the parts are encode()'s bytes, whatever the part size, and the streamed decode gives what the
// whole decode gives, in order; a dataset count the bytes cannot hold is refused before any
// reservation.
TEST(ListingParts, PartsAreTheWholeEncodingAndDecodeOneByOne) {
  Hdf5Listing l;
  for (int k = 0; k < 3; ++k) {
    ListedDataset d;
    d.info.name = "layer." + std::to_string(k) + ".weight";
    d.info.shape = {4, uint64_t(k + 1)};
    d.info.count = 4 * uint64_t(k + 1);
    d.info.type_name = "float32";
    d.info.storage = k == 1 ? "chunked+deflate+shuffle" : "contiguous";
    d.info.order = k;
    d.path = k == 1 ? ReadPath::kChunks : ReadPath::kPread;
    d.file_offset = 4096 * uint64_t(k);
    if (k == 1) {
      d.chunk = {2, 2};
      d.filters.push_back(FilterStep{1, {4}});
      d.fill = {0, 0, 0, 0};
      d.chunks.push_back(ChunkRecord{0, 8000, 12, 0});
    }
    if (k == 2) d.error = "its dataspace is corrupt";
    l.datasets.push_back(d);
  }
  l.skipped_links.push_back(ListedLink{"ext", "external", "other.h5:/x"});
  wire::Writer whole;
  encode(whole, l);
  for (size_t part : {size_t(1), size_t(100), size_t(1) << 20}) {
    std::vector<uint8_t> joined;
    size_t parts = 0;
    encode_parts(l, part, [&](const std::vector<uint8_t>& p) {
      joined.insert(joined.end(), p.begin(), p.end());
      ++parts;
    });
    EXPECT_EQ(joined, whole.data()) << part;
    EXPECT_GE(parts, part == 1 ? 4u : 1u);
  }
  wire::Reader r(whole.data().data(), whole.data().size());
  std::vector<uint64_t> counts;
  std::vector<std::string> names;
  std::vector<ListedLink> links;
  decode_listing(r, [&](uint64_t n) { counts.push_back(n); },
                 [&](ListedDataset& d) {
                   names.push_back(d.info.name);
                   if (names.size() == 2) {
                     EXPECT_EQ(d.chunks.size(), 1u);
                     EXPECT_EQ(d.filters.size(), 1u);
                   }
                   if (names.size() == 3) {
                     EXPECT_EQ(d.error, "its dataspace is corrupt");
                   }
                 },
                 links);
  EXPECT_EQ(counts, std::vector<uint64_t>{3});
  EXPECT_EQ(names, (std::vector<std::string>{"layer.0.weight", "layer.1.weight", "layer.2.weight"}));
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].target, "other.h5:/x");
  // 10^9 datasets claimed in a few hundred bytes: no listing (and nothing reserved for it).
  wire::Writer lie;
  lie.u64(1000000000);
  lie.raw(whole.data().data() + 8, whole.data().size() - 8);
  wire::Reader rl(lie.data().data(), lie.data().size());
  bool counted = false;
  EXPECT_THROW(decode_listing(rl, [&](uint64_t) { counted = true; }, [](ListedDataset&) {}, links), wire::WireError);
  EXPECT_FALSE(counted);
}

}  // namespace
}  // namespace tdtest
