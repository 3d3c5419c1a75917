// One listing for an MPI group (issue 26): rank 0 lists each HDF5 file (its helper process
// walks the file's metadata) and records the listing in a book; the book travels to the other
// ranks as one versioned message, and they open each file from it, with no helper process of
// their own until a read needs libhdf5. N ranks cost the parallel file system one walk of the
// metadata, not N. Other formats (safetensors headers, npy, torch pickles, msprobe's
// dump.json) are still listed by every rank: their listing is one small read, not a walk.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tensordiff {

struct ListingBook {
  struct File {
    uint64_t size = 0;      // what rank 0 saw: each rank checks it sees the same file
    int64_t mtime_ns = 0;
    std::vector<uint8_t> listing;  // the helper's encoded Hdf5Listing
  };
  // true: opening an HDF5 file lists it and records the listing here (rank 0); false: opening
  // takes the file's listing from here (a file not in the book is listed as usual).
  bool record = false;
  std::mutex m;  // A and B (and a folder's files) open on different threads
  std::map<std::string, File> files;  // by the path given to open it (the same on every rank)

  // "TDLB", version, the files, then a 64-bit FNV-1a hash of everything before it.
  std::vector<uint8_t> encode() const;
  // Throws wire::WireError on anything but a book encode() wrote at this version.
  static std::unique_ptr<ListingBook> decode(const uint8_t* data, size_t size);
};

constexpr uint8_t kListingBookVersion = 1;

}  // namespace tensordiff
