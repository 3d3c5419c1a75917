// What the HDF5 helper process reports about a file (docs/design.md §6, issue 11): every dataset's
// description and where its bytes are, so that the engine reads data with pread and decodes
// chunks itself, and libhdf5 (which is not hardened against hostile files) never runs in the
// engine's process. Only reads that need libhdf5 itself (filters we do not decode, compact
// storage, type conversions) go back to the helper.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/filters.hpp"
#include "io/wire.hpp"
#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

enum class ReadPath : uint8_t {
  kPread,   // contiguous: pread at file_offset
  kChunks,  // chunked with filters we undo: raw chunks by pread at their addresses
  kFill,    // never written: every element is the fill value
  kHelper,  // anything else: H5Dread of a hyperslab in the helper process
};

struct ChunkRecord {
  uint64_t linear = 0;  // row-major index of the chunk in the chunk grid
  uint64_t addr = 0, size = 0;
  uint32_t mask = 0;    // filters skipped when it was written
};

// 10^6 datasets are held at once in the helper: the parts most datasets leave empty (a chunked
// layout's, a followed link's file, an error) take 8 bytes each (tensordiff/compact.hpp).
struct ListedDataset {
  TensorInfo info;
  std::optional<int64_t> order_attr;
  ReadPath path = ReadPath::kHelper;
  uint64_t file_offset = 0;           // kPread
  CompactVector<uint64_t> chunk;      // kChunks: chunk dimensions
  CompactVector<FilterStep> filters;  // kChunks
  bool unfiltered_edges = false;      // kChunks: H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS
  CompactVector<uint8_t> fill;        // kFill, kChunks: one element as stored
  CompactVector<ChunkRecord> chunks;  // kChunks: the allocated ones, by increasing `linear`
  bool native_convert = false;        // kHelper: read with a native memory type (HDF5 converts)
  InternedString file;                // kPread/kChunks: the file holding the bytes when it is
                                      // not the listed one (a followed external link)
  InternedString error;               // non-empty: reading this tensor fails with this message
};

// A link that does not lead to a dataset of this file (external, soft, dangling), listed so
// that it is never skipped in silence.
struct ListedLink {
  std::string name, kind, target;
};

struct Hdf5Listing {
  // In execution order. A deque: the helper grows it one dataset at a time through a walk of
  // unknown length, and a vector's doublings held up to three listings' worth at once (10^6
  // datasets: ~400 MB each).
  std::deque<ListedDataset> datasets;
  std::vector<ListedLink> skipped_links;
};

void encode(wire::Writer& w, const Hdf5Listing& l);
// encode()'s bytes in consecutive parts of about part_bytes (the last may be shorter or empty):
// the helper sends a listing of 10^6 datasets (~190 MB) without holding all of it encoded.
void encode_parts(const Hdf5Listing& l, size_t part_bytes, const std::function<void(const std::vector<uint8_t>&)>& part);
Hdf5Listing decode_listing(wire::Reader& r);
// The same, dataset by dataset: `count` once with the number of datasets (at most the bytes
// left), then `each` with each dataset in order (its parts may be moved from), then the links.
// A listing of 10^6 datasets decoded whole held ~500 MB more than the source keeps of it.
void decode_listing(wire::Reader& r, const std::function<void(uint64_t)>& count,
                    const std::function<void(ListedDataset&)>& each, std::vector<ListedLink>& links);

// Nothing the file claims is used unchecked: sizes against the dtype and the file's length,
// chunk addresses and sizes against the file and the chunk's bytes, the chunk index against
// the grid. A failed check becomes d.error (the tensor's read error).
void validate_listed(ListedDataset& d, uint64_t file_size);

}  // namespace tensordiff
