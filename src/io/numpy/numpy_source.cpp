// NumPy dumps: one array per .npy file (named by the file), or an .npz archive of them (named
// by member, in the archive's order: np.savez keeps the keyword order). Stored members are
// read in place with pread; np.savez_compressed's deflated members are streamed, never whole
// in memory. Fortran-order arrays are read in C order through their strides.
#include <unistd.h>

#include "io/formats.hpp"
#include "io/input_file.hpp"
#include "io/numpy/npy.hpp"
#include "io/raw_source.hpp"
#include "io/torch/zip_archive.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// Fortran order: the first index varies fastest.
std::vector<uint64_t> f_strides(const std::vector<uint64_t>& shape) {
  std::vector<uint64_t> s(shape.size(), 1);
  for (size_t d = 1; d < shape.size(); ++d) s[d] = s[d - 1] * shape[d - 1];
  return s;
}

RawTensor from_header(const NpyHeader& h, const std::string& name, const std::string& what) {
  RawTensor t;
  t.info.name = name;
  t.info.shape = h.shape;
  t.info.count = checked_count(h.shape, what);
  t.info.dtype = h.dtype;
  t.info.big_endian = h.big_endian && dtype_size(h.dtype) > 1;
  t.info.type_name = h.unsupported.empty() ? dtype_name(h.dtype) : h.descr;
  t.info.unsupported = h.unsupported;
  if (h.fortran_order && h.shape.size() > 1) t.strides = f_strides(h.shape);
  return t;
}

std::string stem(const std::string& path) {
  std::string s = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  if (s.size() > 4 && s.compare(s.size() - 4, 4, ".npy") == 0) s.resize(s.size() - 4);
  return s;
}

}  // namespace

RawTensor npy_tensor(const std::string& path, const std::string& name, size_t file) {
  InputFile f = open_input_file(path);
  std::vector<uint8_t> head(kNpyPrefix);
  const ssize_t got = ::pread(f.fd, head.data(), head.size(), 0);
  const uint64_t len = npy_header_length(head.data(), got < 0 ? 0 : static_cast<size_t>(got), path);
  head.resize(len);
  const bool ok = ::pread(f.fd, head.data(), len, 0) == static_cast<ssize_t>(len);
  ::close(f.fd);
  if (!ok) throw Error(ErrorCode::kCorrupt, path + ": .npy header is truncated");
  const NpyHeader h = parse_npy_header(head.data(), head.size(), path);
  RawTensor t = from_header(h, name, path);
  t.info.storage = "npy";
  t.file = file;
  t.offset = h.data_offset;
  return t;
}

std::unique_ptr<Source> open_npy(const std::string& path) {
  std::vector<RawTensor> t;
  t.push_back(npy_tensor(path, stem(path), 0));
  return raw_source(path, {path}, std::move(t));
}

std::unique_ptr<Source> open_npz(const std::string& path) {
  const std::vector<ZipMember> members = list_zip(path, kNpyPrefix + 4096);
  std::vector<RawTensor> tensors;
  for (const ZipMember& m : members) {
    const std::string what = path + ": member '" + m.name + "'";
    std::string name = m.name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    if (m.method != 0 && m.method != 8)
      throw Error(ErrorCode::kUnsupported, what + ": zip compression method " + std::to_string(m.method) +
                                               " (stored and deflated are read)");
    const uint64_t len = npy_header_length(m.head.data(), m.head.size(), what);
    if (len > m.head.size()) throw Error(ErrorCode::kCorrupt, what + ": .npy header longer than the member");
    const NpyHeader h = parse_npy_header(m.head.data(), m.head.size(), what);
    RawTensor t = from_header(h, name, what);
    const uint64_t bytes = t.info.count * dtype_size(t.info.dtype);
    if (t.info.unsupported.empty() && (h.data_offset > m.size || bytes != m.size - h.data_offset))
      t.error = "member holds " + std::to_string(m.size - std::min(m.size, h.data_offset)) +
                " bytes of data, its shape needs " + std::to_string(bytes);
    if (m.method == 0) {
      t.info.storage = "npz (stored)";
      t.offset = m.data_offset + h.data_offset;
    } else {
      t.info.storage = "npz (deflated)";
      if (!t.strides.empty() && t.error.empty() && t.info.unsupported.empty())
        t.error = "a Fortran-order array in a compressed .npz (save it in C order, or uncompressed)";
      const ZipMember copy = m;
      const uint64_t skip = h.data_offset;
      t.open_stream = [path, copy, skip] { return open_zip_member(path, copy, skip); };
    }
    tensors.push_back(std::move(t));
  }
  return raw_source(path, {path}, std::move(tensors));
}

}  // namespace tensordiff
