// Writes well-formed seed inputs for the binary fuzz targets (fuzz_listing, fuzz_book, fuzz_chunk) into
// DIR/listing, DIR/book and DIR/chunk, so that the fuzzers start from deep inside the format (valid
// deflate streams, fletcher32 sums, every read path) instead of rediscovering it.
#include <libdeflate.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_bytes.hpp"
#include "io/filters.hpp"
#include "io/hdf5/hdf5_listing.hpp"
#include "io/listing_book.hpp"

using namespace tensordiff;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::vector<uint8_t>& v) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(v.data()), v.size());
}

std::vector<uint8_t> listing_seed(const Hdf5Listing& l, uint64_t file_size) {
  wire::Writer w;
  w.u64(file_size);
  encode(w, l);
  return w.data();
}

ListedDataset dataset(const std::string& name, std::vector<uint64_t> shape, DType dt, ReadPath path) {
  ListedDataset d;
  d.info.name = name;
  d.info.shape = shape;
  d.info.count = 1;
  for (auto s : shape) d.info.count *= s;
  d.info.dtype = dt;
  d.info.type_name = "float32";
  d.info.storage = "chunked";
  d.path = path;
  d.fill = std::vector<uint8_t>(dtype_size(dt), 0);
  return d;
}

// Stored bytes of one chunk under shuffle, deflate, fletcher32 (in write order).
std::vector<uint8_t> filtered_chunk(size_t elems, size_t es, uint8_t seed) {
  std::vector<uint8_t> raw(elems * es), shuf(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(seed + i * 7);
  for (size_t i = 0; i < elems; ++i)
    for (size_t j = 0; j < es; ++j) shuf[j * elems + i] = raw[i * es + j];
  libdeflate_compressor* c = libdeflate_alloc_compressor(6);
  std::vector<uint8_t> z(libdeflate_zlib_compress_bound(c, shuf.size()) + 4);
  z.resize(libdeflate_zlib_compress(c, shuf.data(), shuf.size(), z.data(), z.size()));
  libdeflate_free_compressor(c);
  const uint32_t sum = hdf5_fletcher32(z.data(), z.size());
  for (int k = 0; k < 4; ++k) z.push_back(static_cast<uint8_t>(sum >> (8 * k)));
  return z;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tensordiff_fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  fs::create_directories(dir / "listing");
  fs::create_directories(dir / "chunk");

  // Listings: one of each read path, then a chunked one with filters and a partial index.
  Hdf5Listing l;
  auto a = dataset("layers.0/weight", {4, 8}, DType::kF32, ReadPath::kPread);
  a.file_offset = 2048;
  a.order_attr = 0;
  l.datasets.push_back(a);
  l.datasets.push_back(dataset("never_written", {1u << 20}, DType::kBF16, ReadPath::kFill));
  l.datasets.push_back(dataset("compact/scalar", {}, DType::kF64, ReadPath::kHelper));
  auto c = dataset("layers.1/act", {10, 7}, DType::kF16, ReadPath::kChunks);
  c.chunk = {4, 3};
  c.filters = {{2, {2}}, {1, {6}}, {3, {}}};
  c.chunks = {{0, 4096, 40, 0}, {1, 4136, 38, 0}, {5, 4174, 44, 1}, {8, 4218, 12, 7}};
  l.datasets.push_back(c);
  l.skipped_links.push_back({"ext", "external", "other.h5:/x"});
  write(dir / "listing" / "every_path", listing_seed(l, 8192));
  Hdf5Listing one;
  one.datasets.push_back(c);
  write(dir / "listing" / "chunked", listing_seed(one, 4230));

  // A listing book (an MPI group's shared listings) holding those two listings.
  fs::create_directories(dir / "book");
  ListingBook book;
  for (const auto* x : {&l, &one}) {
    wire::Writer w;
    encode(w, *x);
    book.files["dump/rank" + std::to_string(book.files.size()) + ".h5"] = {8192, 1733400000000000000, w.data()};
  }
  write(dir / "book" / "two_files", book.encode());

  // Chunks: a (10, 7) float32 dataset in (4, 3) chunks, shuffle + deflate + fletcher32, read
  // whole and from an offset; and the same unfiltered, one chunk never written.
  for (int variant = 0; variant < 3; ++variant) {
    fuzz::ByteWriter w;
    w.u8(1);          // rank 2
    w.u8(10); w.u8(7);
    w.u8(3); w.u8(2);  // chunk (4, 3)
    w.u8(3);          // element size 4
    const bool filtered = variant < 2;
    w.u8(filtered ? 3 : 0);
    if (filtered) {
      w.u8(1); w.u8(0x84);  // shuffle, cd = {4}
      w.u8(0); w.u8(0);     // deflate
      w.u8(2); w.u8(0);     // fletcher32
    }
    w.put({0, 0, 0x80, 0x7f});          // fill: NaN
    w.u16(variant == 1 ? 9 : 0);        // first
    w.u16(variant == 1 ? 40 : 70);      // n
    for (int k = 0; k < 9; ++k) {
      if (variant == 2 && k == 4) {
        w.u8(1);  // never written
        continue;
      }
      w.u8(0);
      w.u8(0);
      const std::vector<uint8_t> stored =
          filtered ? filtered_chunk(12, 4, static_cast<uint8_t>(k)) : std::vector<uint8_t>(48, static_cast<uint8_t>(k));
      w.u16(stored.size());
      w.put(stored);
    }
    write(dir / "chunk" / ("rank2_" + std::to_string(variant)), w.out);
  }
  return 0;
}
