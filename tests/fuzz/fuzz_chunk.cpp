// libFuzzer target: stored chunks are read by pread and unfiltered in the engine (inflate,
// unshuffle, fletcher32) and assembled into flat ranges, partial edge chunks included. Any
// stored bytes, filter masks and layouts must give the range or one Error(kCorrupt).
//
// Input (fuzz_bytes.hpp): rank-1, dims, chunk dims, element size, filters, fill, the range;
// then for each chunk fetched: written?, mask, length, stored bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "fuzz_bytes.hpp"
#include "io/chunk_reader.hpp"
#include "tensordiff/error.hpp"

using namespace tensordiff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in(data, size);
  ChunkedLayout L;
  L.id = new_layout_id();
  const size_t rank = 1 + in.u8() % 4;
  uint64_t count = 1;
  for (size_t d = 0; d < rank; ++d) {
    L.shape.push_back(in.u8() % 13);
    count *= L.shape.back();
  }
  for (size_t d = 0; d < rank; ++d) L.chunk.push_back(1 + in.u8() % 8);
  static const size_t kSizes[] = {1, 2, 3, 4, 8, 16};
  L.elem_size = kSizes[in.u8() % 6];
  const int nf = in.u8() % 5;
  for (int k = 0; k < nf; ++k) {
    FilterStep f;
    f.id = 1 + in.u8() % 4;  // deflate, shuffle, fletcher32, szip (which we do not undo)
    const uint8_t cd = in.u8();
    if (cd & 0x80) f.cd.push_back(cd & 0x1f);
    L.filters.push_back(f);
  }
  L.fill = in.take(L.elem_size);
  L.fill.resize(L.elem_size);
  const uint64_t first = count ? in.u16() % count : 0;
  const uint64_t n = in.u16() % (count - first + 1);
  std::vector<uint8_t> dst(n * L.elem_size + 1);
  const FetchChunk fetch = [&](const std::vector<uint64_t>&, std::vector<uint8_t>& raw, unsigned& mask) {
    if (in.u8() & 1) return false;  // never written: the fill value
    mask = in.u8() & 0xf;
    raw = in.take(in.u16() % 4097);
    return true;
  };
  try {
    read_chunked_range(L, first, n, dst.data(), fetch, "fuzz");
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCorrupt) std::abort();
  }
  return 0;
}
