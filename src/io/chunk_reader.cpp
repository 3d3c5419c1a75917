#include "io/chunk_reader.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "io/flat_range.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

std::string coords(const std::vector<uint64_t>& c) {
  std::string s = "(";
  for (size_t i = 0; i < c.size(); ++i) s += (i ? ", " : "") + std::to_string(c[i]);
  return s + ")";
}

// The last chunk this thread decoded: consecutive boxes and ranges often share a chunk.
struct DecodedChunk {
  uint64_t layout = 0;  // ChunkedLayout::id; 0: nothing cached
  std::vector<uint64_t> offset;
  std::vector<uint8_t> data, scratch;
};

const std::vector<uint8_t>& decode(const ChunkedLayout& L, const std::vector<uint64_t>& offset,
                                   const FetchChunk& fetch, const std::string& what) {
  thread_local DecodedChunk cache;
  if (L.id != 0 && cache.layout == L.id && cache.offset == offset) return cache.data;
  cache.layout = 0;
  size_t elems = 1;
  for (auto c : L.chunk) elems *= c;
  const size_t raw_size = elems * L.elem_size;
  unsigned mask = 0;
  if (!fetch(offset, cache.data, mask)) {  // never written: the fill value everywhere
    cache.data.resize(raw_size);
    for (size_t i = 0; i < elems; ++i)
      std::memcpy(cache.data.data() + i * L.elem_size, L.fill.data(), L.elem_size);
  } else {
    std::string why;
    if (!unfilter_chunk(L.filters, mask, L.elem_size, raw_size, cache.data, cache.scratch, why))
      throw Error(ErrorCode::kCorrupt, what + ": chunk at " + coords(offset) + ": " + why);
  }
  cache.layout = L.id;
  cache.offset = offset;
  return cache.data;
}

}  // namespace

uint64_t new_layout_id() {
  static std::atomic<uint64_t> next{1};
  return next++;
}

void read_chunked_range(const ChunkedLayout& L, uint64_t first, uint64_t n, uint8_t* dst,
                        const FetchChunk& fetch, const std::string& what) {
  const size_t r = L.shape.size();
  const size_t es = L.elem_size;
  // HDF5 chunks only datasets of rank >= 1, in chunks of at least one element per dimension.
  if (r == 0 || L.chunk.size() != r || std::count(L.chunk.begin(), L.chunk.end(), 0u) != 0)
    throw Error(ErrorCode::kCorrupt, what + ": its chunk layout is corrupt");
  std::vector<uint64_t> cstride(r, 1);  // strides inside a chunk
  for (size_t d = r - 1; d-- > 0;) cstride[d] = cstride[d + 1] * L.chunk[d + 1];
  uint64_t dst_base = 0;
  for (const Box& box : flat_range_boxes(L.shape, first, n)) {
    std::vector<uint64_t> bstride(r, 1);  // strides inside the box (its row-major order in dst)
    for (size_t d = r - 1; d-- > 0;) bstride[d] = bstride[d + 1] * box.count[d + 1];
    std::vector<uint64_t> lo(r), hi(r), c(r);
    for (size_t d = 0; d < r; ++d) {
      lo[d] = box.start[d] / L.chunk[d];
      hi[d] = (box.start[d] + box.count[d] - 1) / L.chunk[d];
      c[d] = lo[d];
    }
    for (;;) {  // every chunk that meets the box
      std::vector<uint64_t> origin(r), i0(r), i1(r);
      for (size_t d = 0; d < r; ++d) {
        origin[d] = c[d] * L.chunk[d];
        i0[d] = std::max(box.start[d], origin[d]);
        i1[d] = std::min(box.start[d] + box.count[d], origin[d] + L.chunk[d]);
      }
      const std::vector<uint8_t>& chunk = decode(L, origin, fetch, what);
      const size_t run = (i1[r - 1] - i0[r - 1]) * es;
      std::vector<uint64_t> m(i0.begin(), i0.end());
      for (;;) {  // every row (all dimensions but the last) of the intersection
        uint64_t src = 0, out = dst_base;
        for (size_t d = 0; d < r; ++d) {
          src += (m[d] - origin[d]) * cstride[d];
          out += (m[d] - box.start[d]) * bstride[d];
        }
        std::memcpy(dst + out * es, chunk.data() + src * es, run);
        size_t d = r - 1;
        while (d-- > 0) {
          if (++m[d] < i1[d]) break;
          m[d] = i0[d];
        }
        if (d == static_cast<size_t>(-1)) break;
      }
      size_t d = r;
      while (d-- > 0) {
        if (++c[d] <= hi[d]) break;
        c[d] = lo[d];
      }
      if (d == static_cast<size_t>(-1)) break;
    }
    uint64_t elems = 1;
    for (auto k : box.count) elems *= k;
    dst_base += elems;
  }
}

}  // namespace tensordiff
