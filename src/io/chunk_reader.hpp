// Flat element ranges of a chunked dataset, assembled from raw chunks that the caller fetches
// (under the HDF5 lock) and that are unfiltered here, outside it, in the calling thread.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/filters.hpp"

namespace tensordiff {

struct ChunkedLayout {
  // Unique for the process's lifetime (new_layout_id): identifies the dataset in the per-thread
  // cache of the last decoded chunk. An address would not do: a later source may be allocated
  // where an earlier one was, and its chunks would be served stale bytes.
  uint64_t id = 0;
  std::vector<uint64_t> shape, chunk;  // dataset and chunk dimensions (same rank)
  size_t elem_size = 1;
  std::vector<FilterStep> filters;
  std::vector<uint8_t> fill;           // one element, the dataset's fill value as stored
};

uint64_t new_layout_id();

// Fetches the stored (filtered) bytes of the chunk starting at element `offset`; returns false
// when the chunk was never written (it then reads as the fill value). Throws on I/O errors.
using FetchChunk =
    std::function<bool(const std::vector<uint64_t>& offset, std::vector<uint8_t>& raw, unsigned& mask)>;

// Copies elements [first, first + n) of the flattened dataset into dst (stored byte order).
// Throws Error(kCorrupt) naming `what` and the chunk when a chunk does not decode.
void read_chunked_range(const ChunkedLayout& layout, uint64_t first, uint64_t n, uint8_t* dst,
                        const FetchChunk& fetch, const std::string& what);

}  // namespace tensordiff
