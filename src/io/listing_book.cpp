#include "io/listing_book.hpp"

#include "io/wire.hpp"

namespace tensordiff {

namespace {

constexpr uint8_t kMagic[4] = {'T', 'D', 'L', 'B'};

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

std::vector<uint8_t> ListingBook::encode() const {
  wire::Writer w;
  for (uint8_t c : kMagic) w.u8(c);
  w.u8(kListingBookVersion);
  w.u64(files.size());
  for (const auto& [path, f] : files) {
    w.str(path);
    w.u64(f.size);
    w.i64(f.mtime_ns);
    w.bytes(f.listing.data(), f.listing.size());
  }
  const uint64_t h = fnv1a(w.data().data(), w.data().size());
  w.u64(h);
  return std::move(w.data());
}

std::unique_ptr<ListingBook> ListingBook::decode(const uint8_t* data, size_t size) {
  if (size < sizeof kMagic + 1 + 8 + 8) throw wire::WireError("a listing book of " + std::to_string(size) + " bytes");
  wire::Reader tail(data + size - 8, 8);
  if (tail.u64() != fnv1a(data, size - 8)) throw wire::WireError("the listing book's hash does not match");
  wire::Reader r(data, size - 8);
  for (uint8_t c : kMagic)
    if (r.u8() != c) throw wire::WireError("not a listing book");
  const uint8_t version = r.u8();
  if (version != kListingBookVersion)
    throw wire::WireError("listing book version " + std::to_string(version) + ", this build reads " +
                          std::to_string(kListingBookVersion));
  auto book = std::make_unique<ListingBook>();
  const uint64_t n = r.u64();
  for (uint64_t i = 0; i < n; ++i) {  // each entry takes at least 32 bytes: r throws first
    std::string path = r.str();
    File f;
    f.size = r.u64();
    f.mtime_ns = r.i64();
    f.listing = r.bytes();
    if (!book->files.emplace(std::move(path), std::move(f)).second) throw wire::WireError("a file listed twice");
  }
  if (r.left() != 0) throw wire::WireError("bytes after the listing book's files");
  return book;
}

}  // namespace tensordiff
