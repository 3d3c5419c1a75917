// libFuzzer target: the helper process's listing as the engine receives it. The helper runs
// libhdf5 on a hostile file, so the engine trusts none of it: decode_listing must reject a
// garbled message with WireError, and a listing that passed validate_listed must only point
// inside the file.
#include <cstdint>
#include <cstdlib>

#include "io/hdf5/hdf5_listing.hpp"
#include "tensordiff/dtype.hpp"

using namespace tensordiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t file_size = 0;
  for (int i = 0; i < 8; ++i) file_size |= uint64_t(data[i]) << (8 * i);
  wire::Reader r(data + 8, size - 8);
  Hdf5Listing l;
  try {
    l = decode_listing(r);
  } catch (const wire::WireError&) {
    return 0;
  }
  for (ListedDataset& d : l.datasets) {
    d.error.clear();
    validate_listed(d, file_size);
    if (!d.error.empty()) continue;
    const uint64_t bytes = d.info.count * dtype_size(d.info.dtype);
    if (d.path == ReadPath::kPread && (d.file_offset > file_size || bytes > file_size - d.file_offset))
      std::abort();
    if (d.path == ReadPath::kChunks)
      for (size_t i = 0; i < d.chunks.size(); ++i) {
        const ChunkRecord& c = d.chunks[i];
        if (c.addr > file_size || c.size > file_size - c.addr) std::abort();
        if (i > 0 && c.linear <= d.chunks[i - 1].linear) std::abort();
      }
  }
  return 0;
}
