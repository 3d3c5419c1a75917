// Undoing HDF5's chunk filters in our own threads (docs/design.md §6): HDF5 serialises its own
// decompression behind its global lock, so compressed checkpoints would use one core.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tensordiff {

struct FilterStep {
  int id = 0;                   // H5Z_filter_t
  std::vector<unsigned> cd;     // client data values
};

// h5py's LZF filter (registered id 32000).
constexpr int kFilterLzf = 32000;

// Whether every step is one we undo ourselves (deflate, shuffle, fletcher32, LZF).
bool filters_supported(const std::vector<FilterStep>& pipeline);

// Undoes `pipeline` (in reverse) on a stored chunk. `mask` bit i set: step i was skipped
// when writing. `raw_size` is the chunk's unfiltered size. Returns false with `why` filled on
// corrupt data (bad deflate stream, checksum mismatch, wrong size).
bool unfilter_chunk(const std::vector<FilterStep>& pipeline, unsigned mask, size_t elem_size,
                    size_t raw_size, std::vector<uint8_t>& data, std::vector<uint8_t>& scratch,
                    std::string& why);

// HDF5's Fletcher-32 over big-endian 16-bit words (H5_checksum_fletcher32).
uint32_t hdf5_fletcher32(const uint8_t* data, size_t len);

}  // namespace tensordiff
