#include "io/filters.hpp"

#include <hdf5.h>
#include <libdeflate.h>
#include <lzf.h>

#include <cstring>
#include <memory>

namespace tensordiff {

namespace {

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// One decompressor per thread: libdeflate's are not shareable and are cheap to keep.
libdeflate_decompressor* decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(
      libdeflate_alloc_decompressor());
  return d.get();
}

bool inflate(std::vector<uint8_t>& data, std::vector<uint8_t>& out, size_t expect, std::string& why) {
  out.resize(expect);
  size_t got = 0;
  const auto r = libdeflate_zlib_decompress(decompressor(), data.data(), data.size(), out.data(),
                                            out.size(), &got);
  if (r != LIBDEFLATE_SUCCESS || got != expect) {
    why = r == LIBDEFLATE_SUCCESS ? "deflate data of wrong size" : "corrupt deflate data";
    return false;
  }
  data.swap(out);
  return true;
}

// HDF5's shuffle stores byte j of every element together; leftover bytes (a size that is not
// a multiple of the element size) stay at the end as they are.
// Element-major with a compile-time width: contiguous stores from `kEs` sequential streams,
// which the compiler vectorises (byte-major loops store with a stride and run ~4x slower).
template <size_t kEs>
void unshuffle_fixed(const uint8_t* src, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < kEs; ++j) out[i * kEs + j] = src[j * n + i];
}

void unshuffle(std::vector<uint8_t>& data, std::vector<uint8_t>& out, size_t es) {
  if (es <= 1 || data.size() < es) return;
  const size_t n = data.size() / es;
  out.resize(data.size());
  switch (es) {
    case 2: unshuffle_fixed<2>(data.data(), n, out.data()); break;
    case 4: unshuffle_fixed<4>(data.data(), n, out.data()); break;
    case 8: unshuffle_fixed<8>(data.data(), n, out.data()); break;
    default:
      for (size_t j = 0; j < es; ++j) {
        const uint8_t* src = data.data() + j * n;
        for (size_t i = 0; i < n; ++i) out[i * es + j] = src[i];
      }
  }
  std::memcpy(out.data() + n * es, data.data() + n * es, data.size() - n * es);
  data.swap(out);
}

// HDF5 1.6.0-1.6.2 stored the checksum with the bytes of each 16-bit half swapped.
uint32_t swap_halves(uint32_t x) { return ((x & 0x00ff00ffu) << 8) | ((x >> 8) & 0x00ff00ffu); }

}  // namespace

uint32_t hdf5_fletcher32(const uint8_t* data, size_t nbytes) {
  size_t len = nbytes / 2;
  uint32_t sum1 = 0, sum2 = 0;
  while (len) {
    size_t tlen = len > 360 ? 360 : len;  // keeps the 32-bit sums from overflowing
    len -= tlen;
    do {
      sum1 += static_cast<uint32_t>((static_cast<uint16_t>(data[0]) << 8) | data[1]);
      data += 2;
      sum2 += sum1;
    } while (--tlen);
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  if (nbytes % 2) {
    sum1 += static_cast<uint32_t>(static_cast<uint16_t>(*data) << 8);
    sum2 += sum1;
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  }
  sum1 = (sum1 & 0xffff) + (sum1 >> 16);
  sum2 = (sum2 & 0xffff) + (sum2 >> 16);
  return (sum2 << 16) | sum1;
}

bool filters_supported(const std::vector<FilterStep>& pipeline) {
  for (const auto& f : pipeline)
    if (f.id != H5Z_FILTER_DEFLATE && f.id != H5Z_FILTER_SHUFFLE && f.id != H5Z_FILTER_FLETCHER32 &&
        f.id != kFilterLzf)
      return false;
  return true;
}

bool unfilter_chunk(const std::vector<FilterStep>& pipeline, unsigned mask, size_t elem_size,
                    size_t raw_size, std::vector<uint8_t>& data, std::vector<uint8_t>& scratch,
                    std::string& why) {
  // HDF5 allows at most 32 filters (H5Z_MAX_NFILTERS); `mask` has one bit per step.
  if (pipeline.size() > 32) {
    why = "a filter pipeline of " + std::to_string(pipeline.size()) + " steps (HDF5 allows 32)";
    return false;
  }
  // Sizes between the steps when the chunk was written: fletcher32 appends 4 bytes.
  std::vector<size_t> size_before(pipeline.size());
  size_t s = raw_size;
  for (size_t i = 0; i < pipeline.size(); ++i) {
    size_before[i] = s;
    if (!(mask & (1u << i)) && pipeline[i].id == H5Z_FILTER_FLETCHER32) s += 4;
  }
  for (size_t i = pipeline.size(); i-- > 0;) {
    if (mask & (1u << i)) continue;
    switch (pipeline[i].id) {
      case H5Z_FILTER_DEFLATE:
        if (!inflate(data, scratch, size_before[i], why)) return false;
        break;
      case kFilterLzf: {  // h5py's LZF (Debian's LZF plugin misses its liblzf dependency)
        scratch.resize(size_before[i]);
        const unsigned got = size_before[i] == 0 ? 0
            : lzf_decompress(data.data(), static_cast<unsigned>(data.size()), scratch.data(),
                             static_cast<unsigned>(scratch.size()));
        if (got != size_before[i]) {
          why = "corrupt LZF data";
          return false;
        }
        data.swap(scratch);
        break;
      }
      case H5Z_FILTER_SHUFFLE: {
        const size_t es = pipeline[i].cd.empty() ? elem_size : pipeline[i].cd[0];
        unshuffle(data, scratch, es);
        break;
      }
      case H5Z_FILTER_FLETCHER32: {
        if (data.size() < 4) {
          why = "chunk too short for its fletcher32 checksum";
          return false;
        }
        const size_t n = data.size() - 4;
        uint32_t stored;
        std::memcpy(&stored, data.data() + n, 4);  // stored little-endian
        const uint32_t sum = hdf5_fletcher32(data.data(), n);
        // HDF5 accepts the old byte order too, so do we.
        if (stored != sum && stored != swap_halves(sum)) {
          why = "fletcher32 checksum mismatch";
          return false;
        }
        data.resize(n);
        break;
      }
      default:
        why = "unsupported filter " + std::to_string(pipeline[i].id);
        return false;
    }
  }
  if (data.size() != raw_size) {
    why = "chunk of " + std::to_string(data.size()) + " bytes, expected " + std::to_string(raw_size);
    return false;
  }
  return true;
}

}  // namespace tensordiff
