// HDF5 source: lists every dataset of nested groups in execution order and reads flat element
// ranges with the file's own datatype as the memory type (no HDF5 conversion: we decode).
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "io/natural_sort.hpp"
#include "io/chunk_reader.hpp"
#include "io/flat_range.hpp"
#include "io/hdf5_lock.hpp"
#include "io/hdf5_types.hpp"
#include "io/source.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

namespace {

// HDF5 prints its error stack on every failed call unless told not to; we turn failures into
// one line of our own and keep HDF5's innermost message as detail. With --verbose (a log
// function is given) HDF5's own stack goes to stderr as well.
void set_hdf5_error_printing(bool on) {
  if (on) H5Eset_auto2(H5E_DEFAULT, reinterpret_cast<H5E_auto2_t>(H5Eprint2), stderr);
  else H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

herr_t innermost_walk(unsigned n, const H5E_error2_t* err, void* data) {
  if (n == 0 && err->desc) *static_cast<std::string*>(data) = err->desc;
  return 0;
}

// The innermost message of HDF5's current error stack, e.g. "truncated file: eof = 4096, ...".
std::string hdf5_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_walk, &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail.empty() ? "" : " (" + detail + ")";
}

std::optional<std::string> read_string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return std::nullopt;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return std::nullopt;
  std::optional<std::string> out;
  hid_t type = H5Aget_type(attr);
  if (H5Tget_class(type) == H5T_STRING) {
    if (H5Tis_variable_str(type) > 0) {
      hid_t mem = H5Tcopy(H5T_C_S1);
      H5Tset_size(mem, H5T_VARIABLE);
      // h5py writes str attributes as UTF-8: the memory type must say so, or HDF5 refuses
      // to convert and the attribute reads as absent.
      H5Tset_cset(mem, H5Tget_cset(type));
      char* s = nullptr;
      if (H5Aread(attr, mem, &s) >= 0 && s) {
        out = std::string(s);
        H5free_memory(s);
      }
      H5Tclose(mem);
    } else {
      std::string buf(H5Tget_size(type), '\0');
      if (H5Aread(attr, type, buf.data()) >= 0) out = std::string(buf.c_str());
    }
  }
  H5Tclose(type);
  H5Aclose(attr);
  return out;
}

std::optional<int64_t> read_order_attr(hid_t obj) {
  if (H5Aexists(obj, "order") <= 0) return std::nullopt;
  hid_t attr = H5Aopen(obj, "order", H5P_DEFAULT);
  if (attr < 0) return std::nullopt;
  std::optional<int64_t> out;
  hid_t type = H5Aget_type(attr);
  hid_t space = H5Aget_space(attr);
  const bool single = H5Sget_simple_extent_npoints(space) == 1;
  if (single && H5Tget_class(type) == H5T_INTEGER) {
    int64_t v;
    if (H5Aread(attr, H5T_NATIVE_INT64, &v) >= 0) out = v;
  } else if (single && H5Tget_class(type) == H5T_FLOAT) {
    double v;
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0 && v == static_cast<double>(int64_t(v)))
      out = static_cast<int64_t>(v);
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return out;
}

std::string filter_name(H5Z_filter_t id) {
  switch (id) {
    case H5Z_FILTER_DEFLATE: return "deflate";
    case H5Z_FILTER_SHUFFLE: return "shuffle";
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    case 32000: return "lzf";
    default: return "filter" + std::to_string(id);
  }
}

std::string storage_of(hid_t dcpl) {
  std::string s;
  switch (H5Pget_layout(dcpl)) {
    case H5D_CONTIGUOUS: s = "contiguous"; break;
    case H5D_COMPACT: s = "compact"; break;
    case H5D_VIRTUAL: s = "virtual"; break;
    case H5D_CHUNKED: {
      s = "chunked";
      const int n = H5Pget_nfilters(dcpl);
      for (int i = 0; i < n; ++i) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;
        char name[64];
        H5Z_filter_t id = H5Pget_filter2(dcpl, i, &flags, &ncd, cd, sizeof name, name, nullptr);
        s += "+" + filter_name(id);
      }
      break;
    }
    default: s = "unknown"; break;
  }
  return s;
}

// How a dataset's bytes are read (DESIGN.md §6). Only kHdf5 holds the HDF5 lock for the copy.
enum class ReadPath {
  kPread,   // contiguous: parallel pread at the dataset's file offset, outside the lock
  kChunks,  // chunked with filters we undo: raw chunks under the lock, unfiltered outside it
  kFill,    // contiguous storage never allocated: every element is the fill value
  kHdf5,    // anything else (compact, virtual, external, other filters): H5Dread of a hyperslab
};

struct Entry {
  TensorInfo info;
  hid_t dset = -1;
  hid_t type = -1;  // the file datatype, used as the memory type
  std::optional<int64_t> order_attr;
  uint64_t walk_index = 0;
  ReadPath path = ReadPath::kHdf5;
  uint64_t file_offset = 0;
  ChunkedLayout chunked;  // shape/chunk/filters for kChunks; fill element for kChunks/kFill
};

// The fill value of a dataset, one element in the file's type (zeros when undefined).
std::vector<uint8_t> fill_element(hid_t dcpl, hid_t type) {
  std::vector<uint8_t> fill(H5Tget_size(type), 0);
  H5D_fill_value_t status;
  if (H5Pfill_value_defined(dcpl, &status) >= 0 && status != H5D_FILL_VALUE_UNDEFINED)
    H5Pget_fill_value(dcpl, type, fill.data());
  return fill;
}

class Hdf5Source final : public Source {
 public:
  Hdf5Source(const std::string& path, const LogFn& log, ReadMode mode)
      : path_(path), log_(log), mode_(mode) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      throw Error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::kIo, path + ": is a directory");
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
    // Tensors are read front to back: ask the kernel for aggressive readahead.
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    set_hdf5_error_printing(static_cast<bool>(log));
    const htri_t is = H5Fis_hdf5(path.c_str());
    if (is <= 0) {
      H5Eclear2(H5E_DEFAULT);
      throw Error(ErrorCode::kNotHdf5, path + ": not an HDF5 file");
    }
    file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file_ < 0)
      throw Error(ErrorCode::kCorrupt,
                  path + ": cannot open HDF5 file, truncated or corrupt" + hdf5_detail());
    try {
      walk_group("/", "");
      sort_by_execution_order();
    } catch (...) {
      close_all();
      throw;
    }
  }

  ~Hdf5Source() override {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    close_all();
  }

  const std::string& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }

  void read(size_t index, uint64_t first, uint64_t n, uint8_t* dst) override {
    const Entry& e = entries_[index];
    if (n == 0) return;
    switch (e.path) {
      case ReadPath::kPread: return read_pread(e, first, n, dst);
      case ReadPath::kChunks: return read_chunks(e, first, n, dst);
      case ReadPath::kFill: return fill(e.chunked.fill, n, dst);
      case ReadPath::kHdf5: return read_hdf5(e, first, n, dst);
    }
  }

 private:
  static void fill(const std::vector<uint8_t>& elem, uint64_t n, uint8_t* dst) {
    for (uint64_t i = 0; i < n; ++i) std::memcpy(dst + i * elem.size(), elem.data(), elem.size());
  }

  std::string what(const Entry& e) const { return path_ + ": tensor '" + e.info.name + "'"; }

  void read_pread(const Entry& e, uint64_t first, uint64_t n, uint8_t* dst) const {
    const size_t es = dtype_size(e.info.dtype);
    uint64_t off = e.file_offset + first * es, left = n * es;
    while (left > 0) {
      const ssize_t r = ::pread(fd_, dst, left, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0)
        throw Error(ErrorCode::kCorrupt,
                    what(e) + ": cannot read bytes at offset " + std::to_string(off) + ": " +
                        (r == 0 ? std::string("file is truncated") : std::strerror(errno)));
      dst += r;
      off += static_cast<uint64_t>(r);
      left -= static_cast<uint64_t>(r);
    }
  }

  void read_chunks(const Entry& e, uint64_t first, uint64_t n, uint8_t* dst) {
    const FetchChunk fetch = [&](const std::vector<uint64_t>& offset, std::vector<uint8_t>& raw,
                                 unsigned& mask) {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      std::vector<hsize_t> off(offset.begin(), offset.end());
      hsize_t nbytes = 0;
      if (H5Dget_chunk_storage_size(e.dset, off.data(), &nbytes) < 0 || nbytes == 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;  // never written
      }
      raw.resize(nbytes);
      uint32_t filter_mask = 0;
      if (H5Dread_chunk(e.dset, H5P_DEFAULT, off.data(), &filter_mask, raw.data()) < 0)
        throw Error(ErrorCode::kCorrupt, what(e) + ": cannot read a raw chunk" + hdf5_detail());
      mask = filter_mask;
      return true;
    };
    read_chunked_range(e.chunked, first, n, dst, fetch, what(e));
  }

  void read_hdf5(const Entry& e, uint64_t first, uint64_t n, uint8_t* dst) {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    hid_t fspace = H5Dget_space(e.dset);
    bool ok = fspace >= 0;
    if (ok && !e.info.shape.empty()) {
      const auto boxes = flat_range_boxes(e.info.shape, first, n);
      H5Sselect_none(fspace);
      for (const auto& b : boxes) {
        std::vector<hsize_t> start(b.start.begin(), b.start.end());
        std::vector<hsize_t> count(b.count.begin(), b.count.end());
        ok = ok && H5Sselect_hyperslab(fspace, H5S_SELECT_OR, start.data(), nullptr,
                                       count.data(), nullptr) >= 0;
      }
    }
    const hsize_t mdim = n;
    hid_t mspace = e.info.shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &mdim, nullptr);
    ok = ok && H5Dread(e.dset, e.type, mspace, fspace, H5P_DEFAULT, dst) >= 0;
    const std::string detail = ok ? "" : hdf5_detail();
    H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (!ok)
      throw Error(ErrorCode::kCorrupt, path_ + ": tensor '" + e.info.name +
                                           "': cannot read elements " + std::to_string(first) +
                                           ".." + std::to_string(first + n) + detail);
  }

  // Depth-first walk: children in creation order where the group indexes it (h5py
  // track_order=True), else in natural order of their names.
  void walk_group(const std::string& group_path, const std::string& prefix) {
    hid_t group = H5Gopen2(file_, group_path.c_str(), H5P_DEFAULT);
    if (group < 0)
      throw Error(ErrorCode::kCorrupt, path_ + ": cannot open group '" + group_path + "'" +
                                           hdf5_detail());
    H5_index_t index = H5_INDEX_NAME;
    hid_t gcpl = H5Gget_create_plist(group);
    unsigned crt_flags = 0;
    if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &crt_flags) >= 0 &&
        (crt_flags & H5P_CRT_ORDER_INDEXED))
      index = H5_INDEX_CRT_ORDER;
    if (gcpl >= 0) H5Pclose(gcpl);

    std::vector<std::string> names;
    auto collect = [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
      if (info->type == H5L_TYPE_HARD) static_cast<std::vector<std::string>*>(data)->push_back(name);
      return 0;
    };
    hsize_t idx = 0;
    if (H5Literate(group, index, H5_ITER_INC, &idx, collect, &names) < 0) {
      const std::string d = hdf5_detail();
      H5Gclose(group);
      throw Error(ErrorCode::kCorrupt, path_ + ": cannot list group '" + group_path + "'" + d);
    }
    if (index == H5_INDEX_NAME)
      std::stable_sort(names.begin(), names.end(), natural_less);

    for (const auto& name : names) {
      const std::string child = prefix + name;
      H5O_info_t oinfo;
#if H5_VERSION_GE(1, 12, 0)
      const herr_t st = H5Oget_info_by_name3(group, name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT);
#else
      const herr_t st = H5Oget_info_by_name2(group, name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
      if (st < 0) {
        const std::string d = hdf5_detail();
        H5Gclose(group);
        throw Error(ErrorCode::kCorrupt, path_ + ": cannot inspect '" + child + "'" + d);
      }
      if (oinfo.type == H5O_TYPE_GROUP) {
#if H5_VERSION_GE(1, 12, 0)
        // Hard links can make a group reachable twice (or in a cycle): visit it once.
        char* tok = nullptr;
        H5Otoken_to_str(group, &oinfo.token, &tok);
        std::string key = tok ? tok : child;
        H5free_memory(tok);
#else
        std::string key = std::to_string(oinfo.addr);
#endif
        if (!visited_groups_.insert(key).second) continue;
        walk_group(group_path == "/" ? "/" + name : group_path + "/" + name, child + "/");
      } else if (oinfo.type == H5O_TYPE_DATASET) {
        add_dataset(group, name, child);
      }
    }
    H5Gclose(group);
  }

  void add_dataset(hid_t group, const std::string& name, const std::string& full) {
    Entry e;
    e.info.name = full;
    e.walk_index = entries_.size();
    e.dset = H5Dopen2(group, name.c_str(), H5P_DEFAULT);
    if (e.dset < 0)
      throw Error(ErrorCode::kCorrupt, path_ + ": tensor '" + full + "': cannot open" + hdf5_detail());
    e.type = H5Dget_type(e.dset);
    hid_t space = H5Dget_space(e.dset);
    const H5S_class_t sclass = H5Sget_simple_extent_type(space);
    if (sclass == H5S_SIMPLE) {
      const int rank = H5Sget_simple_extent_ndims(space);
      std::vector<hsize_t> dims(rank > 0 ? rank : 0);
      H5Sget_simple_extent_dims(space, dims.data(), nullptr);
      e.info.shape.assign(dims.begin(), dims.end());
      e.info.count = 1;
      for (auto d : dims) e.info.count *= d;
    } else if (sclass == H5S_SCALAR) {
      e.info.count = 1;
    } else {  // H5S_NULL: a dataset with no elements and no shape
      e.info.count = 0;
      e.info.shape = {0};
    }
    H5Sclose(space);
    e.order_attr = read_order_attr(e.dset);
    // Where the capture package recorded it (file:line), for the report and the detail view.
    if (auto src = read_string_attr(e.dset, "source")) e.info.source = *src;
    const auto ct = classify_hdf5_type(e.type, read_string_attr(e.dset, "dtype"));
    e.info.type_name = ct.description;
    e.info.big_endian = ct.big_endian;
    if (ct.dtype) e.info.dtype = *ct.dtype;
    else e.info.unsupported = ct.description;
    hid_t dcpl = H5Dget_create_plist(e.dset);
    e.info.storage = storage_of(dcpl);
    if (e.info.unsupported.empty()) choose_read_path(e, dcpl);
    H5Pclose(dcpl);
    // pread and fill reads need no HDF5 handle: close it now, as an open dataset costs ~24 KiB
    // of HDF5 memory and checkpoints hold thousands of tensors.
    if (e.path == ReadPath::kPread || e.path == ReadPath::kFill) {
      H5Tclose(e.type);
      H5Dclose(e.dset);
      e.type = e.dset = -1;
    }
    H5Eclear2(H5E_DEFAULT);
    entries_.push_back(std::move(e));
  }

  void choose_read_path(Entry& e, hid_t dcpl) {
    e.path = ReadPath::kHdf5;
    if (mode_ == ReadMode::kHdf5Only) return;
    const H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout == H5D_CONTIGUOUS && H5Pget_external_count(dcpl) == 0) {
      const haddr_t off = H5Dget_offset(e.dset);
      if (off != HADDR_UNDEF) {
        e.path = ReadPath::kPread;
        e.file_offset = off;
      } else {
        e.path = ReadPath::kFill;
        e.chunked.fill = fill_element(dcpl, e.type);
      }
    } else if (layout == H5D_CHUNKED) {
      ChunkedLayout& L = e.chunked;
      L.id = new_layout_id();
      const int rank = H5Pget_chunk(dcpl, 0, nullptr);
      std::vector<hsize_t> cdims(rank > 0 ? rank : 0);
      H5Pget_chunk(dcpl, rank, cdims.data());
      L.shape = e.info.shape;
      L.chunk.assign(cdims.begin(), cdims.end());
      L.elem_size = dtype_size(e.info.dtype);
      const int nf = H5Pget_nfilters(dcpl);
      for (int i = 0; i < nf; ++i) {
        unsigned flags = 0, cd[16];
        size_t ncd = 16;
        FilterStep f;
        f.id = H5Pget_filter2(dcpl, i, &flags, &ncd, cd, 0, nullptr, nullptr);
        f.cd.assign(cd, cd + std::min<size_t>(ncd, 16));
        L.filters.push_back(f);
      }
      L.fill = fill_element(dcpl, e.type);
      if (L.chunk.size() == L.shape.size() && !L.shape.empty() && filters_supported(L.filters))
        e.path = ReadPath::kChunks;
      else if (log_)
        log_(path_ + ": tensor '" + e.info.name + "' (" + e.info.storage +
             "): filters decoded by HDF5 (slower, serial)");
    }
  }

  // DESIGN.md §4: the `order` attribute first; then the walk (creation order where tracked,
  // natural order of names elsewhere). Datasets without the attribute follow those with it.
  void sort_by_execution_order() {
    std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& x, const Entry& y) {
      if (x.order_attr.has_value() != y.order_attr.has_value()) return x.order_attr.has_value();
      if (x.order_attr && *x.order_attr != *y.order_attr) return *x.order_attr < *y.order_attr;
      return x.walk_index < y.walk_index;
    });
    infos_.reserve(entries_.size());
    for (size_t i = 0; i < entries_.size(); ++i) {
      entries_[i].info.order = i;
      infos_.push_back(entries_[i].info);
    }
    if (log_)
      log_(path_ + ": " + std::to_string(infos_.size()) + " datasets");
  }

  void close_all() {
    for (auto& e : entries_) {
      if (e.type >= 0) H5Tclose(e.type);
      if (e.dset >= 0) H5Dclose(e.dset);
    }
    entries_.clear();
    if (file_ >= 0) H5Fclose(file_);
    file_ = -1;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string path_;
  LogFn log_;
  ReadMode mode_;
  hid_t file_ = -1;
  int fd_ = -1;  // our own descriptor for pread, independent of HDF5's
  std::vector<Entry> entries_;
  std::vector<TensorInfo> infos_;
  std::set<std::string> visited_groups_;
};

}  // namespace

std::unique_ptr<Source> open_hdf5(const std::string& path, const LogFn& log, ReadMode mode) {
  return std::make_unique<Hdf5Source>(path, log, mode);
}

}  // namespace tensordiff
