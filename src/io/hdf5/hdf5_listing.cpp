#include "io/hdf5/hdf5_listing.hpp"

namespace tensordiff {

namespace {

void encode_info(wire::Writer& w, const TensorInfo& t) {
  w.str(t.name);
  w.u64s(t.shape);
  w.u64(t.count);
  w.u8(static_cast<uint8_t>(t.dtype));
  w.u8(t.big_endian);
  w.str(t.type_name);
  w.str(t.storage);
  w.str(t.unsupported);
  w.str(t.source);
  w.u64(t.order);
  w.u8(t.value.has_value());
  w.str(t.value.value_or(""));
}

TensorInfo decode_info(wire::Reader& r) {
  TensorInfo t;
  t.name = r.str();
  t.shape = r.u64s();
  t.count = r.u64();
  const uint8_t dt = r.u8();
  if (dt > static_cast<uint8_t>(DType::kBool)) throw wire::WireError("bad dtype");
  t.dtype = static_cast<DType>(dt);
  t.big_endian = r.u8() != 0;
  t.type_name = r.str();
  t.storage = r.str();
  t.unsupported = r.str();
  t.source = r.str();
  t.order = r.u64();
  const bool has_value = r.u8() != 0;
  std::string value = r.str();
  if (has_value) t.value = std::move(value);
  // The engine sizes buffers from count: it must be the shape's product and below 2^60. A
  // larger shape is listed as unsupported (checked once `unsupported` is read: issue 20).
  uint64_t product = 1;
  bool overflow = false;
  for (uint64_t d : t.shape) {
    if (d != 0 && product > (uint64_t(1) << 60) / d) overflow = true;
    else product *= d;
  }
  if (t.value) {  // a value record: no data
    if (t.count != 0) throw wire::WireError("a value record with elements");
  } else if (overflow ? t.unsupported.empty() : t.count != product) {
    throw wire::WireError("count is not the shape's product");
  }
  return t;
}

}  // namespace

void encode_parts(const Hdf5Listing& l, size_t part_bytes,
                  const std::function<void(const std::vector<uint8_t>&)>& part) {
  wire::Writer w;
  auto flush = [&](bool last) {
    if (w.data().size() < part_bytes && !last) return;
    part(w.data());
    w.clear();
  };
  w.u64(l.datasets.size());
  for (const auto& d : l.datasets) {
    encode_info(w, d.info);
    w.u8(d.order_attr.has_value());
    w.i64(d.order_attr.value_or(0));
    w.u8(static_cast<uint8_t>(d.path));
    w.u64(d.file_offset);
    w.u64s(d.chunk);
    w.u64(d.filters.size());
    for (const auto& f : d.filters) {
      w.u64(static_cast<uint64_t>(f.id));
      w.u64(f.cd.size());
      for (auto c : f.cd) w.u64(c);
    }
    w.u8(d.unfiltered_edges);
    w.bytes(d.fill.data(), d.fill.size());
    w.u64(d.chunks.size());
    for (const auto& c : d.chunks) {
      w.u64(c.linear);
      w.u64(c.addr);
      w.u64(c.size);
      w.u64(c.mask);
    }
    w.u8(d.native_convert);
    w.str(d.file);
    w.str(d.error);
    flush(false);
  }
  w.u64(l.skipped_links.size());
  for (const auto& s : l.skipped_links) {
    w.str(s.name);
    w.str(s.kind);
    w.str(s.target);
  }
  flush(true);
}

void encode(wire::Writer& w, const Hdf5Listing& l) {
  encode_parts(l, SIZE_MAX, [&w](const std::vector<uint8_t>& part) { w.raw(part.data(), part.size()); });
}

void decode_listing(wire::Reader& r, const std::function<void(uint64_t)>& count,
                    const std::function<void(ListedDataset&)>& each, std::vector<ListedLink>& links) {
  const uint64_t n = r.u64();
  // Each dataset's record takes at least 143 bytes (encode's fixed fields, every string and
  // list empty): a count beyond that is no listing, and `count` may reserve for it.
  if (n > r.left() / 128) throw wire::WireError("bad dataset count");
  count(n);
  for (uint64_t i = 0; i < n; ++i) {
    ListedDataset d;
    d.info = decode_info(r);
    const bool has_order = r.u8() != 0;
    const int64_t order = r.i64();
    if (has_order) d.order_attr = order;
    const uint8_t path = r.u8();
    if (path > static_cast<uint8_t>(ReadPath::kHelper)) throw wire::WireError("bad read path");
    d.path = static_cast<ReadPath>(path);
    d.file_offset = r.u64();
    d.chunk = r.u64s();
    const uint64_t nf = r.u64();
    if (nf > 32) throw wire::WireError("bad filter count");
    for (uint64_t k = 0; k < nf; ++k) {
      FilterStep f;
      f.id = static_cast<int>(r.u64());
      const uint64_t nc = r.u64();
      if (nc > 64) throw wire::WireError("bad filter parameters");
      for (uint64_t c = 0; c < nc; ++c) f.cd.push_back(static_cast<unsigned>(r.u64()));
      d.filters.push_back(std::move(f));
    }
    d.unfiltered_edges = r.u8() != 0;
    d.fill = r.bytes();
    const uint64_t nc = r.u64();
    if (nc > r.left() / 32) throw wire::WireError("bad chunk count");
    d.chunks.resize(nc);
    for (auto& c : d.chunks) {
      c.linear = r.u64();
      c.addr = r.u64();
      c.size = r.u64();
      c.mask = static_cast<uint32_t>(r.u64());
    }
    d.native_convert = r.u8() != 0;
    d.file = r.str();
    d.error = r.str();
    each(d);
  }
  const uint64_t ns = r.u64();
  if (ns > r.left()) throw wire::WireError("bad link count");
  for (uint64_t i = 0; i < ns; ++i) {
    ListedLink s;
    s.name = r.str();
    s.kind = r.str();
    s.target = r.str();
    links.push_back(std::move(s));
  }
}

Hdf5Listing decode_listing(wire::Reader& r) {
  Hdf5Listing l;
  decode_listing(
      r, [](uint64_t) {}, [&l](ListedDataset& d) { l.datasets.push_back(std::move(d)); }, l.skipped_links);
  return l;
}

// Nothing the file claims is used unchecked: sizes against the dtype and the file's length.
// A failed check becomes the tensor's read error.
void validate_listed(ListedDataset& d, uint64_t file_size) {
  const size_t es = dtype_size(d.info.dtype);
  const uint64_t bytes = d.info.count * es;  // count < 2^60 (the helper checks the product)
  auto bad = [&](const std::string& why) { d.error = why; };
  switch (d.path) {
    case ReadPath::kPread:
      if (d.file_offset > file_size || bytes > file_size - d.file_offset)
        bad("its " + std::to_string(bytes) + " bytes at offset " + std::to_string(d.file_offset) +
            " run past the end of the file (" + std::to_string(file_size) + " bytes): truncated");
      break;
    case ReadPath::kFill:
      if (d.fill.size() != es) bad("its fill value has " + std::to_string(d.fill.size()) + " bytes, not " + std::to_string(es));
      break;
    case ReadPath::kChunks: {
      if (d.chunk.size() != d.info.shape.size() || d.fill.size() != es) return bad("its chunk layout is corrupt");
      uint64_t chunk_bytes = es, grid = 1;
      for (size_t k = 0; k < d.chunk.size(); ++k) {
        if (d.chunk[k] == 0 || d.chunk[k] > (uint64_t(1) << 32)) return bad("a chunk dimension of " + std::to_string(d.chunk[k]));
        if (chunk_bytes > (uint64_t(1) << 32) / d.chunk[k]) return bad("chunks of more than 4 GiB");
        chunk_bytes *= d.chunk[k];
        const uint64_t per = (d.info.shape[k] + d.chunk[k] - 1) / d.chunk[k];
        grid = per != 0 && grid > UINT64_MAX / per ? UINT64_MAX : grid * per;
      }
      // Deflate never grows data by more than ~0.1% plus a few bytes; fletcher32 adds 4.
      const uint64_t max_stored = chunk_bytes + chunk_bytes / 64 + 4096;
      uint64_t prev = 0;
      for (size_t i = 0; i < d.chunks.size(); ++i) {
        const ChunkRecord& c = d.chunks[i];
        if (c.linear >= grid || (i > 0 && c.linear <= prev))
          return bad("its chunk index is corrupt (chunk " + std::to_string(c.linear) + " of a grid of " + std::to_string(grid) + ")");
        if (c.size > max_stored)
          return bad("a stored chunk of " + std::to_string(c.size) + " bytes, more than its " +
                     std::to_string(chunk_bytes) + "-byte chunks can take: the chunk index is corrupt");
        if (c.addr > file_size || c.size > file_size - c.addr)
          return bad("a chunk at offset " + std::to_string(c.addr) + " runs past the end of the file (" +
                     std::to_string(file_size) + " bytes): truncated");
        prev = c.linear;
      }
      break;
    }
    case ReadPath::kHelper:
      break;
  }
}


}  // namespace tensordiff
