// The helper process's side (hdf5_helper.hpp): the only code that calls libhdf5 on the files
// the engine compares. It lists every dataset of nested groups (execution order, dtypes,
// where the bytes are) and then serves H5Dread requests until the engine closes the socket.
#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <cstring>
#include <set>
#include <unordered_map>

#include "io/hdf5/hdf5_helper_child.hpp"
#include "io/hdf5/hdf5_types.hpp"
#include "io/natural_sort.hpp"
#include "io/flat_range.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// Chunk grids up to this size are indexed by looking every chunk up; sparser ones (a few
// written chunks in an enormous grid) by index, while the count of written ones stays small.
constexpr uint64_t kGridLookups = 4'000'000;
constexpr uint64_t kIndexedChunks = 20'000;

herr_t innermost_walk(unsigned n, const H5E_error2_t* err, void* data) {
  if (n == 0 && err->desc) *static_cast<std::string*>(data) = err->desc;
  return 0;
}

// The innermost message of HDF5's error stack, e.g. " (truncated file: eof = 4096, ...)".
std::string detail(bool verbose) {
  if (verbose) H5Eprint2(H5E_DEFAULT, stderr);
  std::string d;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_walk, &d);
  H5Eclear2(H5E_DEFAULT);
  return d.empty() ? "" : " (" + d + ")";
}

std::optional<std::string> read_string_attr(hid_t obj, const char* name) {
  if (H5Aexists(obj, name) <= 0) return std::nullopt;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return std::nullopt;
  std::optional<std::string> out;
  hid_t type = H5Aget_type(attr);
  hid_t space = H5Aget_space(attr);
  const bool single = space >= 0 && H5Sget_simple_extent_npoints(space) == 1;
  if (single && H5Tget_class(type) == H5T_STRING) {
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
      const size_t size = H5Tget_size(type);
      if (size > 0 && size < (1u << 20)) {
        std::string buf(size, '\0');
        if (H5Aread(attr, type, buf.data()) >= 0) out = std::string(buf.c_str());
      }
    }
  }
  if (space >= 0) H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  H5Eclear2(H5E_DEFAULT);
  return out;
}

std::optional<int64_t> read_order_attr(hid_t obj) {
  if (H5Aexists(obj, "order") <= 0) return std::nullopt;
  hid_t attr = H5Aopen(obj, "order", H5P_DEFAULT);
  if (attr < 0) return std::nullopt;
  std::optional<int64_t> out;
  hid_t type = H5Aget_type(attr);
  hid_t space = H5Aget_space(attr);
  const bool single = space >= 0 && H5Sget_simple_extent_npoints(space) == 1;
  if (single && H5Tget_class(type) == H5T_INTEGER) {
    int64_t v;
    if (H5Aread(attr, H5T_NATIVE_INT64, &v) >= 0) out = v;
  } else if (single && H5Tget_class(type) == H5T_FLOAT) {
    double v;
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0 && v == static_cast<double>(int64_t(v)))
      out = static_cast<int64_t>(v);
  }
  if (space >= 0) H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  H5Eclear2(H5E_DEFAULT);
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
    case 307: return "bzip2";
    case 32000: return "lzf";
    case 32001: return "blosc";
    case 32004: return "lz4";
    case 32015: return "zstd";
    default: return "filter " + std::to_string(id);
  }
}

std::vector<uint8_t> fill_element(hid_t dcpl, hid_t type) {
  std::vector<uint8_t> fill(H5Tget_size(type), 0);
  H5D_fill_value_t status;
  if (H5Pfill_value_defined(dcpl, &status) >= 0 && status != H5D_FILL_VALUE_UNDEFINED)
    H5Pget_fill_value(dcpl, type, fill.data());
  H5Eclear2(H5E_DEFAULT);
  return fill;
}

// An integer stored with fewer bits than its size, or at a bit offset (H5Tset_precision /
// H5Tset_offset, what the nbit filter packs): HDF5 must convert it.
bool packed_integer(hid_t type) {
  hid_t t = type;
  bool close = false;
  if (H5Tget_class(type) == H5T_ENUM) {
    t = H5Tget_super(type);
    close = true;
  }
  bool packed = false;
  if (H5Tget_class(t) == H5T_INTEGER)
    packed = H5Tget_offset(t) != 0 || H5Tget_precision(t) != 8 * H5Tget_size(t);
  if (close) H5Tclose(t);
  return packed;
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::kI8: return H5T_NATIVE_INT8;
    case DType::kI16: return H5T_NATIVE_INT16;
    case DType::kI32: return H5T_NATIVE_INT32;
    case DType::kI64: return H5T_NATIVE_INT64;
    case DType::kU8: case DType::kBool: return H5T_NATIVE_UINT8;
    case DType::kU16: return H5T_NATIVE_UINT16;
    case DType::kU32: return H5T_NATIVE_UINT32;
    case DType::kU64: return H5T_NATIVE_UINT64;
    case DType::kF32: return H5T_NATIVE_FLOAT;
    case DType::kF64: return H5T_NATIVE_DOUBLE;
    default: return -1;
  }
}

struct Open {
  hid_t dset = -1, mem_type = -1;
};

class Lister {
 public:
  // helper_reads: every read by H5Dread here (a family or multi-driver file, whose addresses
  // are not offsets in the file the engine opened).
  Lister(hid_t file, const std::string& path, const HelperOptions& o, bool helper_reads)
      : file_(file), path_(path), o_(o), helper_reads_(helper_reads) {}

  Hdf5Listing run(std::vector<Open>& opened) {
    walk_group(file_, "/", "");
    resolve_aliases();
    // docs/design.md §4: the `order` attribute first; then the walk (creation order where tracked,
    // natural order of names elsewhere). Datasets without the attribute follow those with it.
    std::vector<size_t> idx(list_.datasets.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) {
      const auto& a = list_.datasets[x].order_attr;
      const auto& b = list_.datasets[y].order_attr;
      if (a.has_value() != b.has_value()) return a.has_value();
      return a && *a < *b;
    });
    // Permuted in place, cycle by cycle (datasets[k] = old datasets[idx[k]]): a second vector
    // of the listing grown by push_back held 2.5 listings at its peak (a ListedDataset is ~750
    // bytes: 10^5 datasets peaked at ~190 MB in this process).
    auto& ds = list_.datasets;
    std::vector<bool> placed(idx.size(), false);
    for (size_t start = 0; start < idx.size(); ++start) {
      if (placed[start]) continue;
      ListedDataset first = std::move(ds[start]);
      for (size_t k = start;;) {
        placed[k] = true;
        const size_t from = idx[k];
        if (from == start) {
          ds[k] = std::move(first);
          break;
        }
        ds[k] = std::move(ds[from]);
        k = from;
      }
    }
    opened.reserve(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) {
      ds[k].info.order = k;
      opened.push_back(open_[idx[k]]);
    }
    Hdf5Listing sorted;
    sorted.skipped_links = std::move(list_.skipped_links);
    sorted.datasets = std::move(ds);
    return sorted;
  }

 private:
  // Each alias takes its target's listing (shape, dtype, where the bytes are, the helper's
  // handle: one dataset read under two names) and keeps its own name, order and source. A
  // target the file lacks, or one that is itself an alias, makes the alias's read fail with
  // that reason (a hostile or hand-edited file; the capture package never writes either).
  void resolve_aliases() {
    if (aliases_.empty()) return;
    std::unordered_map<std::string, size_t> by_name;
    std::set<size_t> alias_index;
    std::set<std::string> alias_names;
    for (const auto& [i, target] : aliases_) alias_index.insert(i), alias_names.insert(list_.datasets[i].info.name);
    for (size_t i = 0; i < list_.datasets.size(); ++i)
      if (!alias_index.count(i)) by_name.emplace(list_.datasets[i].info.name, i);
    for (const auto& [i, target] : aliases_) {
      ListedDataset& d = list_.datasets[i];
      const auto t = by_name.find(target);
      if (t == by_name.end()) {
        d.info.shape = {0};
        d.info.count = 0;
        d.info.type_name = "alias";
        d.error = "an alias of '" + target + "', " +
                  (alias_names.count(target) ? "itself an alias (an alias must name the dataset holding the data)"
                                             : "which the file does not hold as a dataset");
        continue;
      }
      ListedDataset copy = list_.datasets[t->second];
      copy.info.name = std::move(d.info.name);
      copy.info.source = std::move(d.info.source);
      copy.order_attr = d.order_attr;
      d = std::move(copy);
      open_[i] = open_[t->second];
    }
  }

  void walk_group(hid_t parent, const std::string& group_path, const std::string& prefix) {
    hid_t group = H5Gopen2(parent, group_path.c_str(), H5P_DEFAULT);
    if (group < 0)
      throw Error(ErrorCode::kCorrupt, path_ + ": cannot open group '" + group_path + "'" + detail(o_.verbose));
    H5_index_t index = H5_INDEX_NAME;
    hid_t gcpl = H5Gget_create_plist(group);
    unsigned crt_flags = 0;
    if (gcpl >= 0 && H5Pget_link_creation_order(gcpl, &crt_flags) >= 0 && (crt_flags & H5P_CRT_ORDER_INDEXED))
      index = H5_INDEX_CRT_ORDER;
    if (gcpl >= 0) H5Pclose(gcpl);
    struct Link {
      std::string name;
      H5L_type_t type;
    };
    std::vector<Link> links;
    auto collect = [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
      static_cast<std::vector<Link>*>(data)->push_back({name, info->type});
      return 0;
    };
    hsize_t idx = 0;
    if (H5Literate(group, index, H5_ITER_INC, &idx, collect, &links) < 0) {
      const std::string d = detail(o_.verbose);
      H5Gclose(group);
      throw Error(ErrorCode::kCorrupt, path_ + ": cannot list group '" + group_path + "'" + d);
    }
    H5Eclear2(H5E_DEFAULT);
    if (index == H5_INDEX_NAME)
      std::stable_sort(links.begin(), links.end(), [](const Link& x, const Link& y) { return natural_less(x.name, y.name); });
    for (const auto& link : links) {
      const std::string child = prefix + link.name;
      if (link.type != H5L_TYPE_HARD) {
        std::string target = link_target(group, link.name, link.type);
        if (!o_.follow_links) {
          list_.skipped_links.push_back({child, link.type == H5L_TYPE_SOFT ? "soft" : "external", target});
          continue;
        }
      }
      H5O_info_t oinfo;
      if (H5Oget_info_by_name2(group, link.name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        const std::string d = detail(o_.verbose);
        if (link.type != H5L_TYPE_HARD) {  // a dangling link: say so, do not fail the file
          list_.skipped_links.push_back({child, "dangling", link_target(group, link.name, link.type)});
          continue;
        }
        H5Gclose(group);
        throw Error(ErrorCode::kCorrupt, path_ + ": cannot inspect '" + child + "'" + d);
      }
      if (oinfo.type == H5O_TYPE_GROUP) {
        // Hard and soft links can make a group reachable twice or in a cycle: visit it once.
        const std::string key = std::to_string(oinfo.fileno) + ":" + std::to_string(oinfo.addr);
        if (!visited_.insert(key).second) continue;
        walk_group(group, link.name, child + "/");
      } else if (oinfo.type == H5O_TYPE_DATASET) {
        add_dataset(group, link.name, child);
      }
    }
    H5Gclose(group);
  }

  std::string link_target(hid_t group, const std::string& name, H5L_type_t type) {
    H5L_info_t info;
    if (H5Lget_info(group, name.c_str(), &info, H5P_DEFAULT) < 0 || info.u.val_size > (1u << 16)) {
      H5Eclear2(H5E_DEFAULT);
      return "";
    }
    std::vector<char> buf(info.u.val_size + 1, '\0');
    if (H5Lget_val(group, name.c_str(), buf.data(), buf.size(), H5P_DEFAULT) < 0) {
      H5Eclear2(H5E_DEFAULT);
      return "";
    }
    if (type == H5L_TYPE_EXTERNAL) {
      const char *file = nullptr, *obj = nullptr;
      unsigned flags = 0;
      if (H5Lunpack_elink_val(buf.data(), buf.size(), &flags, &file, &obj) >= 0 && file && obj)
        return std::string(file) + ":" + obj;
      H5Eclear2(H5E_DEFAULT);
      return "";
    }
    return std::string(buf.data());
  }

  void add_dataset(hid_t group, const std::string& name, const std::string& full) {
    ListedDataset d;
    d.info.name = full;
    Open o;
    o.dset = H5Dopen2(group, name.c_str(), H5P_DEFAULT);
    if (o.dset < 0) {
      // No shape is known: listed with no elements (count must be the shape's product).
      d.info.shape = {0};
      d.info.count = 0;
      d.info.unsupported = "cannot open" + detail(o_.verbose);
      d.info.type_name = "unreadable";
      push(std::move(d), o);
      return;
    }
    hid_t type = H5Dget_type(o.dset);
    hid_t space = H5Dget_space(o.dset);
    const H5S_class_t sclass = space >= 0 ? H5Sget_simple_extent_type(space) : H5S_NO_CLASS;
    // An alias record (docs/design.md §11: the capture package records a tensor whose data
    // equals one recorded before it once): no data, the attribute `alias_of` naming the dataset
    // that holds it, and its own order and source. Resolved after the walk. A value record: no
    // data, the attribute `value`.
    if (sclass == H5S_NULL) {
      const auto value = read_string_attr(o.dset, "value");
      const auto target = value ? std::nullopt : read_string_attr(o.dset, "alias_of");
      if (value || target) {
        // A record with no data of its own: its order and source are its own.
        d.order_attr = read_order_attr(o.dset);
        if (auto src = read_string_attr(o.dset, "source")) d.info.source = *src;
        if (value) {  // a value record (§11): a scalar argument or a module setting, as text
          d.info.value = value->size() > 4096 ? value->substr(0, 4096) + "..." : *value;
          d.info.type_name = d.info.value->substr(0, d.info.value->find(' '));
          d.info.count = 0;
          d.info.shape = {};
          d.path = ReadPath::kPread;  // no bytes: count 0
        } else {
          aliases_.push_back({list_.datasets.size(), target->rfind('/', 0) == 0 ? target->substr(1) : *target});
        }
        H5Sclose(space);
        H5Tclose(type);
        H5Dclose(o.dset);
        H5Eclear2(H5E_DEFAULT);
        push(std::move(d), Open{});
        return;
      }
    }
    bool overflow = false;
    if (sclass == H5S_SIMPLE) {
      const int rank = H5Sget_simple_extent_ndims(space);
      std::vector<hsize_t> dims(rank > 0 ? rank : 0), maxdims(dims.size());
      H5Sget_simple_extent_dims(space, dims.data(), maxdims.data());
      d.info.shape = std::vector<uint64_t>(dims.begin(), dims.end());
      // HDF5 never writes a size above its maximum: a corrupt dataspace (which would make
      // a 4 KB file claim petabytes of fill values).
      for (size_t k = 0; k < dims.size(); ++k)
        if (maxdims[k] != H5S_UNLIMITED && dims[k] > maxdims[k] && d.error.empty())
          d.error = "its dataspace is corrupt (dimension " + std::to_string(k) + " is " +
                    std::to_string(dims[k]) + ", above its maximum " + std::to_string(maxdims[k]) + ")";
      d.info.count = 1;
      for (auto x : dims) {
        if (x != 0 && d.info.count > (UINT64_MAX >> 4) / x) overflow = true;
        else d.info.count *= x;
      }
    } else if (sclass == H5S_SCALAR) {
      d.info.count = 1;
    } else {
      // H5S_NULL (an attribute-like dataset with no data), or a dataspace libhdf5 cannot
      // read: no elements. Listed as shape (0,) so that count stays the shape's product.
      d.info.count = 0;
      d.info.shape = {0};
      if (sclass != H5S_NULL) d.error = "its dataspace cannot be read" + detail(o_.verbose);
    }
    if (space >= 0) H5Sclose(space);
    d.order_attr = read_order_attr(o.dset);
    if (auto src = read_string_attr(o.dset, "source")) d.info.source = *src;
    const auto ct = classify_hdf5_type(type, read_string_attr(o.dset, "dtype"));
    d.info.type_name = ct.description;
    d.info.big_endian = ct.big_endian;
    if (ct.dtype) d.info.dtype = *ct.dtype;
    else d.info.unsupported = ct.description;
    if (overflow) {
      d.info.unsupported = "shape of more than 2^60 elements";
      d.info.count = 0;  // never read; the engine checks count against the shape otherwise
    }
    hid_t dcpl = H5Dget_create_plist(o.dset);
    d.info.storage = storage_of(dcpl);
    if (d.info.unsupported.empty()) choose_read_path(d, o, dcpl, type);
    H5Pclose(dcpl);
    H5Tclose(type);
    // Only what the helper itself reads keeps its handle: an open dataset costs libhdf5
    // ~10 KiB, and checkpoints hold 10^5 tensors.
    if (d.path != ReadPath::kHelper || !d.info.unsupported.empty()) {
      if (o.mem_type >= 0 && o.mem_type != native_type(d.info.dtype)) H5Tclose(o.mem_type);
      H5Dclose(o.dset);
      o = Open{};
    }
    H5Eclear2(H5E_DEFAULT);
    push(std::move(d), o);
  }

  void push(ListedDataset d, Open o) {
    list_.datasets.push_back(std::move(d));
    open_.push_back(o);
  }

  std::string storage_of(hid_t dcpl) {
    std::string s;
    switch (H5Pget_layout(dcpl)) {
      case H5D_CONTIGUOUS: s = H5Pget_external_count(dcpl) > 0 ? "external" : "contiguous"; break;
      case H5D_COMPACT: s = "compact"; break;
      case H5D_VIRTUAL: s = "virtual"; break;
      case H5D_CHUNKED: {
        s = "chunked";
        const int n = H5Pget_nfilters(dcpl);
        for (int i = 0; i < n && i < 32; ++i) {
          unsigned flags = 0, cd[8];
          size_t ncd = 8;
          s += "+" + filter_name(H5Pget_filter2(dcpl, i, &flags, &ncd, cd, 0, nullptr, nullptr));
        }
        break;
      }
      default: s = "unknown"; break;
    }
    H5Eclear2(H5E_DEFAULT);
    return s;
  }

  void choose_read_path(ListedDataset& d, Open& o, hid_t dcpl, hid_t type) {
    const size_t es = dtype_size(d.info.dtype);
    const bool packed = packed_integer(type);
    // A type HDF5 must convert (packed integers) is read by the helper with a native type.
    o.mem_type = packed ? native_type(d.info.dtype) : H5Tcopy(type);
    d.native_convert = packed;
    if (packed) d.info.big_endian = false;
    d.path = ReadPath::kHelper;
    const H5D_layout_t layout = H5Pget_layout(dcpl);
    if (packed || o_.hdf5_only || helper_reads_) return;
    if (layout == H5D_CONTIGUOUS && H5Pget_external_count(dcpl) == 0) {
      const haddr_t off = H5Dget_offset(o.dset);
      H5Eclear2(H5E_DEFAULT);
      if (off != HADDR_UNDEF) {
        d.path = ReadPath::kPread;
        d.file_offset = off;
        file_of(o.dset, d);
      } else {
        d.path = ReadPath::kFill;
        d.fill = fill_element(dcpl, type);
      }
    } else if (layout == H5D_COMPACT) {
      // HDF5 copies compact data by the stored size: a size that disagrees with the shape
      // reads past its buffer (a crash, or heap bytes as values). Check it here.
      const hsize_t stored = H5Dget_storage_size(o.dset);
      if (stored != d.info.count * es)
        d.error = "compact storage holds " + std::to_string(stored) + " bytes, but the shape needs " +
                  std::to_string(d.info.count * es) + ": the file is corrupt";
    } else if (layout == H5D_CHUNKED) {
      list_chunks(d, o, dcpl, type);
    }
  }

  // The base address of the file holding `obj`: the size of its user block (libhdf5 sets it to
  // where it found the superblock, 512, 1024, ...), 0 without one.
  static uint64_t base_address(hid_t obj) {
    uint64_t base = 0;
    hid_t f = H5Iget_file_id(obj);
    if (f >= 0) {
      hid_t fcpl = H5Fget_create_plist(f);
      hsize_t ub = 0;
      if (fcpl >= 0 && H5Pget_userblock(fcpl, &ub) >= 0) base = ub;
      if (fcpl >= 0) H5Pclose(fcpl);
      H5Fclose(f);
    }
    H5Eclear2(H5E_DEFAULT);
    return base;
  }

  // The file holding the dataset's bytes: an external link's target file when followed.
  void file_of(hid_t dset, ListedDataset& d) {
    hid_t f = H5Iget_file_id(dset);
    if (f < 0) return;
    const ssize_t n = H5Fget_name(f, nullptr, 0);
    if (n > 0 && n < (1 << 16)) {
      std::string name(static_cast<size_t>(n) + 1, '\0');
      H5Fget_name(f, name.data(), name.size());
      name.resize(static_cast<size_t>(n));
      if (name != path_) {
        d.file = name;
        d.info.storage += " in " + name;
      }
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
  }

  void list_chunks(ListedDataset& d, const Open& o, hid_t dcpl, hid_t type) {
    const int rank = H5Pget_chunk(dcpl, 0, nullptr);
    if (rank <= 0 || static_cast<size_t>(rank) != d.info.shape.size()) return;
    std::vector<hsize_t> cdims(rank);
    H5Pget_chunk(dcpl, rank, cdims.data());
    d.chunk = std::vector<uint64_t>(cdims.begin(), cdims.end());
    const int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf && i < 32; ++i) {
      unsigned flags = 0, cd[16];
      size_t ncd = 16;
      FilterStep f;
      f.id = H5Pget_filter2(dcpl, i, &flags, &ncd, cd, 0, nullptr, nullptr);
      f.cd.assign(cd, cd + std::min<size_t>(ncd, 16));
      d.filters.push_back(f);
    }
    if (!filters_supported(d.filters)) {
      // Plugins (blosc, lz4, zstd, bzip2, lzf), nbit, scaleoffset, szip: HDF5 decodes them in
      // the helper. A filter with no decoder is named now, not as libhdf5's innermost message.
      for (const auto& f : d.filters)
        if (H5Zfilter_avail(f.id) <= 0)
          d.error = "needs the HDF5 filter '" + filter_name(f.id) + "' (id " + std::to_string(f.id) +
                    "), which is not available: install its plugin (Debian: hdf5-filter-plugin) "
                    "or set HDF5_PLUGIN_PATH";
      H5Eclear2(H5E_DEFAULT);
      return;
    }
    // libhdf5 1.10's chunk queries (H5Dget_chunk_info, _by_coord) report the chunks of an
    // extensible-array index whose unlimited dimension is not the first at swizzled
    // coordinates (HDF5's tools test file h5fc_ext1_f.h5: chunks (0,3) and (2,0) swapped),
    // while H5Dread places them right: such datasets are read by H5Dread.
    H5D_chunk_index_t index_type;
    if (H5Dget_chunk_index_type(o.dset, &index_type) >= 0 && index_type == H5D_CHUNK_IDX_EARRAY) {
      hid_t sp = H5Dget_space(o.dset);
      std::vector<hsize_t> dims(rank), maxdims(rank);
      const bool got = sp >= 0 && H5Sget_simple_extent_dims(sp, dims.data(), maxdims.data()) == rank;
      if (sp >= 0) H5Sclose(sp);
      H5Eclear2(H5E_DEFAULT);
      if (!got) return;
      for (int k = 1; k < rank; ++k)
        if (maxdims[k] == H5S_UNLIMITED) return;
    }
    H5Eclear2(H5E_DEFAULT);
    // Chunk addresses are relative to the file's base address (after a user block);
    // H5Dget_offset already adds it, the chunk queries do not.
    const uint64_t base = base_address(o.dset);
    unsigned opts = 0;
    if (H5Pget_chunk_opts(dcpl, &opts) >= 0) d.unfiltered_edges = opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS;
    d.fill = fill_element(dcpl, type);
    uint64_t grid = 1;
    bool huge = false;
    std::vector<uint64_t> per_dim(rank);
    for (int k = 0; k < rank; ++k) {
      if (cdims[k] == 0) return;
      per_dim[k] = (d.info.shape[k] + cdims[k] - 1) / cdims[k];
      if (per_dim[k] != 0 && grid > UINT64_MAX / per_dim[k]) huge = true;
      else grid *= per_dim[k];
    }
    hsize_t written = 0;
    hid_t fspace = H5Dget_space(o.dset);
    if (fspace < 0 || H5Dget_num_chunks(o.dset, fspace, &written) < 0) {
      d.error = "cannot count its chunks" + detail(o_.verbose);
      if (fspace >= 0) H5Sclose(fspace);
      return;
    }
    std::vector<hsize_t> off(rank);
    auto record = [&](const hsize_t* offset, unsigned mask, haddr_t addr, hsize_t size) {
      if (addr == HADDR_UNDEF || size == 0) return;
      uint64_t linear = 0;
      for (int k = 0; k < rank; ++k) linear = linear * per_dim[k] + offset[k] / cdims[k];
      // An address near 2^64 wraps: validate_listed then finds it past the end of the file.
      d.chunks.push_back({linear, addr + base, size, mask});
    };
    if (!huge && grid <= kGridLookups) {
      for (uint64_t linear = 0; linear < grid && d.chunks.size() < written; ++linear) {
        uint64_t rest = linear;
        for (int k = rank; k-- > 0;) {
          off[k] = (rest % per_dim[k]) * cdims[k];
          rest /= per_dim[k];
        }
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(o.dset, off.data(), &mask, &addr, &size) >= 0) record(off.data(), mask, addr, size);
        H5Eclear2(H5E_DEFAULT);
      }
    } else if (written <= kIndexedChunks) {
      for (hsize_t i = 0; i < written; ++i) {
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info(o.dset, fspace, i, off.data(), &mask, &addr, &size) >= 0) record(off.data(), mask, addr, size);
        H5Eclear2(H5E_DEFAULT);
      }
      std::sort(d.chunks.begin(), d.chunks.end(),
                [](const ChunkRecord& x, const ChunkRecord& y) { return x.linear < y.linear; });
    } else {
      d.error = "its chunk index (" + std::to_string(written) + " chunks written in a grid of " +
                (huge ? std::string("more than 2^64") : std::to_string(grid)) + ") is too large to list";
      H5Sclose(fspace);
      return;
    }
    H5Sclose(fspace);
    d.path = ReadPath::kChunks;
    file_of(o.dset, d);
  }

  hid_t file_;
  std::string path_;
  HelperOptions o_;
  bool helper_reads_ = false;
  Hdf5Listing list_;
  std::vector<Open> open_;
  std::set<std::string> visited_;
  std::vector<std::pair<size_t, std::string>> aliases_;  // (index in list_, target's name)
};

void write_all(int fd, const std::vector<uint8_t>& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) _exit(3);  // the engine went away
    done += static_cast<size_t>(w);
  }
}

void send(int fd, const std::vector<uint8_t>& payload) {
  wire::Writer head;
  head.u64(payload.size());
  write_all(fd, head.data());
  write_all(fd, payload);
}

bool receive_exact(int fd, void* p, size_t n) {
  auto* b = static_cast<uint8_t*>(p);
  while (n > 0) {
    const ssize_t r = ::read(fd, b, n);
    if (r <= 0) return false;
    b += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

void send_error(int fd, int code, const std::string& text) {
  wire::Writer w;
  w.u8('E');
  w.u64(static_cast<uint64_t>(code));
  w.str(text);
  send(fd, w.data());
}

// Serves `R index first n` requests: H5Dread of the flat range into memory of the listed
// memory type; the answer is `D bytes` or `E text`.
void serve(int fd, const std::vector<Open>& opened, const Hdf5Listing& l, bool verbose) {
  for (;;) {
    uint8_t head[8];
    if (!receive_exact(fd, head, 8)) return;
    uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len |= uint64_t(head[i]) << (8 * i);
    if (len > 64) return;
    std::vector<uint8_t> msg(len);
    if (!receive_exact(fd, msg.data(), len)) return;
    wire::Reader r(msg.data(), msg.size());
    if (r.u8() != 'R') return;
    const uint64_t index = r.u64(), first = r.u64(), n = r.u64(), es = r.u64();
    if (index >= opened.size() || opened[index].dset < 0 || n > (uint64_t(1) << 34) / std::max<uint64_t>(es, 1)) {
      send_error(fd, static_cast<int>(ErrorCode::kCorrupt), "not readable");
      continue;
    }
    const ListedDataset& d = l.datasets[index];
    if (!d.error.empty()) {
      send_error(fd, static_cast<int>(ErrorCode::kCorrupt), d.error);
      continue;
    }
    std::vector<uint8_t> out(n * es);
    hid_t fspace = H5Dget_space(opened[index].dset);
    bool ok = fspace >= 0;
    if (ok && !d.info.shape.empty() && n > 0) {
      H5Sselect_none(fspace);
      for (const auto& b : flat_range_boxes(d.info.shape, first, n)) {
        std::vector<hsize_t> start(b.start.begin(), b.start.end()), count(b.count.begin(), b.count.end());
        ok = ok && H5Sselect_hyperslab(fspace, H5S_SELECT_OR, start.data(), nullptr, count.data(), nullptr) >= 0;
      }
    }
    const hsize_t mdim = n;
    hid_t mspace = d.info.shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &mdim, nullptr);
    ok = ok && (n == 0 || H5Dread(opened[index].dset, opened[index].mem_type, mspace, fspace, H5P_DEFAULT, out.data()) >= 0);
    const std::string why = ok ? "" : detail(verbose);
    H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (!ok) {
      send_error(fd, static_cast<int>(ErrorCode::kCorrupt),
                 "cannot read elements " + std::to_string(first) + ".." + std::to_string(first + n) + why);
      continue;
    }
    wire::Writer w;
    w.u8('D');
    w.bytes(out.data(), out.size());
    send(fd, w.data());
  }
}



// The driver named in the superblock's driver information block (superblock versions 0 and
// 1, which family and multi-driver files have): "NCSAfami" (family), "NCSAmult" (multi and
// split), or "" when there is none or it cannot be read. Bounded reads of the signature's
// superblock only.
std::string superblock_driver(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st;
  std::string id;
  if (::fstat(fd, &st) == 0) {
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    uint8_t sb[64];
    for (uint64_t off = 0; off + sizeof sb <= size; off = off == 0 ? 512 : off * 2) {
      if (::pread(fd, sb, sizeof sb, static_cast<off_t>(off)) != static_cast<ssize_t>(sizeof sb) ||
          std::memcmp(sb, "\x89HDF\r\n\x1a\n", 8) != 0)
        continue;
      const unsigned version = sb[8], so = sb[13];
      if (version > 1 || so != 8) break;  // 8-byte addresses: what every driver here writes
      const size_t pos = (version == 0 ? 24 : 28) + 3 * 8;  // base, free space, end of file
      uint64_t drv = 0;
      for (int i = 0; i < 8; ++i) drv |= uint64_t(sb[pos + i]) << (8 * i);
      if (drv == ~uint64_t(0) || drv > size) break;  // undefined: no driver block
      uint8_t block[16];
      if (off + drv <= size - sizeof block &&
          ::pread(fd, block, sizeof block, static_cast<off_t>(off + drv)) == static_cast<ssize_t>(sizeof block))
        id.assign(reinterpret_cast<const char*>(block + 8), 8);
      break;
    }
  }
  ::close(fd);
  return id;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A family's member name pattern from its member 0: the last run of digits in the file name
// (all zeros) becomes %0Nd, e.g. run00000.h5 -> run%05d.h5.
std::optional<std::string> family_pattern(const std::string& path) {
  const size_t start = path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1;
  const size_t dot = path.rfind('.');
  size_t end = dot != std::string::npos && dot > start ? dot : path.size();  // not the 5 of .h5
  while (end > start && !std::isdigit(static_cast<unsigned char>(path[end - 1]))) --end;
  size_t begin = end;
  while (begin > start && std::isdigit(static_cast<unsigned char>(path[begin - 1]))) --begin;
  if (begin == end || path.find_first_not_of('0', begin) < end) return std::nullopt;
  auto escape = [](const std::string& s) {
    std::string e;
    for (char c : s) e += c == '%' ? std::string("%%") : std::string(1, c);
    return e;
  };
  const size_t n = end - begin;
  return escape(path.substr(0, begin)) + (n > 1 ? "%0" + std::to_string(n) + "d" : "%d") + escape(path.substr(end));
}

struct Opened {
  hid_t file = -1;
  std::string driver;  // "" (sec2), "family" or "multi": the latter read by H5Dread only
  std::string error;   // when file < 0
};

// Opens `path` read-only. A family or multi-driver file cannot be opened alone: its superblock
// names the driver, and the member names follow from the given one (member 0 of a family;
// PREFIX-s.h5 of a multi file, PREFIX-m.h5 of a split one, h5dump's conventions).
Opened open_file(const std::string& path, bool verbose) {
  Opened r;
  r.file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (r.file >= 0) return r;
  const std::string first_detail = detail(verbose);
  const std::string id = superblock_driver(path);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  std::string name;
  // Family files written before HDF5 1.8 have no driver block: a name like member 0's and a
  // file shorter than its superblock says (the default open's complaint) are the signs.
  const auto pattern = family_pattern(path);
  const bool old_family = id.empty() && pattern && first_detail.find("truncated file") != std::string::npos;
  if (id == "NCSAfami" || old_family) {
    r.driver = "family";
    if (!pattern) {
      r.error = path + ": an HDF5 family-driver file whose name does not end in member 0's number "
                       "(e.g. data00000.h5): cannot name its other members";
    } else {
      name = *pattern;
      H5Pset_fapl_family(fapl, 0, H5P_DEFAULT);  // 0: the size the file records
    }
  } else if (id == "NCSAmult") {
    r.driver = "multi";
    if (ends_with(path, "-s.h5")) {
      name = path.substr(0, path.size() - 5);
      H5Pset_fapl_multi(fapl, nullptr, nullptr, nullptr, nullptr, 1);
    } else if (ends_with(path, "-m.h5")) {
      name = path.substr(0, path.size() - 5);
      H5Pset_fapl_split(fapl, "-m.h5", H5P_DEFAULT, "-r.h5", H5P_DEFAULT);
    } else {
      r.error = path + ": an HDF5 multi-driver file whose name ends neither in -s.h5 (multi) nor in "
                       "-m.h5 (split): cannot name its other members";
    }
  }
  if (!name.empty()) {
    r.file = H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl);
    if (r.file < 0 && old_family)
      r.error = path + ": cannot open HDF5 file, truncated or corrupt" + first_detail;
    else if (r.file < 0)
      r.error = path + ": cannot open HDF5 " + r.driver + "-driver file '" + name + "' (its members)" + detail(verbose);
  } else if (r.error.empty()) {
    r.error = path + ": cannot open HDF5 file, truncated or corrupt" + first_detail;
  }
  H5Pclose(fapl);
  H5Eclear2(H5E_DEFAULT);
  return r;
}

}  // namespace

void run_hdf5_helper(int fd, const std::string& path, const HelperOptions& o, bool send_listing) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const htri_t is = H5Fis_hdf5(path.c_str());
  if (is <= 0 && superblock_driver(path).empty()) {
    H5Eclear2(H5E_DEFAULT);
    send_error(fd, static_cast<int>(ErrorCode::kNotHdf5), path + ": not an HDF5 file");
    return;
  }
  H5Eclear2(H5E_DEFAULT);
  const Opened opened_file = open_file(path, o.verbose);
  if (opened_file.file < 0) {
    send_error(fd, static_cast<int>(ErrorCode::kCorrupt), opened_file.error);
    return;
  }
  const hid_t file = opened_file.file;
  std::vector<Open> opened;
  Hdf5Listing l;
  try {
    l = Lister(file, path, o, !opened_file.driver.empty()).run(opened);
  } catch (const Error& e) {
    send_error(fd, static_cast<int>(e.code()), e.what());
    return;
  }
  if (!opened_file.driver.empty())
    for (auto& d : l.datasets) d.info.storage += " (" + opened_file.driver + " driver)";
  if (send_listing) {
    // In parts, measured first: the message's length leads it, and the listing encoded whole
    // (a vector grown by doubling) took this process from ~500 to 930 MiB at 10^6 datasets.
    constexpr size_t kPart = 1 << 20;
    uint64_t size = 1;  // the kind, 'L'
    encode_parts(l, kPart, [&size](const std::vector<uint8_t>& part) { size += part.size(); });
    wire::Writer head;
    head.u64(size);
    head.u8('L');
    write_all(fd, head.data());
    encode_parts(l, kPart, [fd](const std::vector<uint8_t>& part) { write_all(fd, part); });
  }
  serve(fd, opened, l, o.verbose);
}

}  // namespace tensordiff
