#include "io/formats.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "io/input_file.hpp"
#include "io/numpy/npy.hpp"
#include "io/torch/zip_archive.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

constexpr char kHdf5Magic[] = "\x89HDF\r\n\x1a\n";

const char* kFormats =
    "HDF5, safetensors (or a sharded checkpoint's index), .npy, .npz, a PyTorch .pt/.pth, an msprobe "
    "dump folder, a folder of such dumps, or a tensordiff summary";

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The folder that holds `path` ("A/dump_tensor_data/" → "A", "x" → ".").
std::string parent_of(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  const std::string last = slash == std::string::npos ? path : path.substr(slash + 1);
  if (last == "." || last == "..") return path + "/..";
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Format detect_folder(const std::string& path) {
  if (::access((path + "/dump.json").c_str(), F_OK) == 0) return Format::kMsprobe;
  // A folder inside an msprobe dump (its dump_tensor_data/ of files named ENTRY.input.0.pt):
  // read as a folder of dumps it would pair files by name and order them by name, and name a
  // wrong first divergence. The dump is the folder that holds dump.json.
  const std::string parent = parent_of(path);
  if (struct stat st; ::stat((parent + "/dump.json").c_str(), &st) == 0)
    throw Error(ErrorCode::kUsage, path + ": a folder inside the msprobe dump " + parent +
                                       " (its dump.json is there): give " + parent);
  if (DIR* d = ::opendir(path.c_str())) {
    bool index = false;
    while (const dirent* e = ::readdir(d)) index = index || has_suffix(e->d_name, ".safetensors.index.json");
    ::closedir(d);
    if (index) return Format::kSafetensorsIndex;
  }
  return Format::kFolder;
}

// The HDF5 signature sits at 0, or after a user block of 512, 1024, 2048, ... bytes.
bool is_hdf5(int fd, uint64_t size) {
  char b[8];
  for (uint64_t off = 0; off + 8 <= size; off = off == 0 ? 512 : off * 2)
    if (::pread(fd, b, 8, static_cast<off_t>(off)) == 8 && std::memcmp(b, kHdf5Magic, 8) == 0) return true;
  return false;
}

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

// What a file that is no dump may be (issue 20): a netCDF-3 file (not HDF5-based, unlike
// netCDF-4), or a member of a family or multi-driver HDF5 file other than the one that holds
// the superblock.
std::string not_a_dump_hint(const std::string& path, const uint8_t* b, size_t n) {
  if (n >= 4 && b[0] == 'C' && b[1] == 'D' && b[2] == 'F' && (b[3] == 1 || b[3] == 2 || b[3] == 5))
    return "; it is a netCDF-3 (classic) file, which is not HDF5-based: convert it with "
           "'nccopy -k nc4 IN OUT' (netCDF-4 files are HDF5 and read)";
  const size_t start = path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1;
  for (const char* m : {"-b.h5", "-r.h5", "-g.h5", "-l.h5", "-o.h5"})
    if (has_suffix(path, m)) {
      const std::string prefix = path.substr(0, path.size() - 5);
      for (const char* super : {"-s.h5", "-m.h5"})
        if (exists(prefix + super))
          return "; it looks like a member of a multi-file HDF5 file: give " + prefix + super;
    }
  const size_t dot = path.rfind('.');
  size_t end = dot != std::string::npos && dot > start ? dot : path.size();
  while (end > start && !std::isdigit(static_cast<unsigned char>(path[end - 1]))) --end;
  size_t begin = end;
  while (begin > start && std::isdigit(static_cast<unsigned char>(path[begin - 1]))) --begin;
  if (begin < end && path.find_first_not_of('0', begin) < end) {
    const std::string first = path.substr(0, begin) + std::string(end - begin, '0') + path.substr(end);
    if (exists(first)) return "; it looks like a member of an HDF5 family: give its member 0, " + first;
  }
  return "";
}

}  // namespace

const char* format_name(Format f) {
  switch (f) {
    case Format::kHdf5: return "HDF5";
    case Format::kSummary: return "summary";
    case Format::kSafetensors: return "safetensors";
    case Format::kSafetensorsIndex: return "safetensors index";
    case Format::kNpy: return "npy";
    case Format::kNpz: return "npz";
    case Format::kTorch: return "PyTorch";
    case Format::kTorchLegacy: return "PyTorch (legacy)";
    case Format::kMsprobe: return "msprobe";
    case Format::kMsprobeConfig: return "msprobe config";
    case Format::kFolder: return "folder";
  }
  return "?";
}

Format detect_format(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return detect_folder(path);
  InputFile f = open_input_file(path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{f.fd};
  uint8_t b[4096];
  const ssize_t r = ::pread(f.fd, b, sizeof b, 0);
  const size_t n = r > 0 ? static_cast<size_t>(r) : 0;
  if (is_hdf5(f.fd, f.size)) return Format::kHdf5;
  if (is_npy(b, n)) return Format::kNpy;
  if (is_zip(b, n)) {
    bool pkl = false, npy = true;
    for (const auto& m : list_zip(path, 0)) {
      pkl = pkl || m.name == "data.pkl" || has_suffix(m.name, "/data.pkl");
      npy = npy && has_suffix(m.name, ".npy");
    }
    if (pkl) return Format::kTorch;
    if (npy) return Format::kNpz;
    throw Error(ErrorCode::kNotHdf5, path + ": a zip archive that is neither an .npz nor a torch.save checkpoint");
  }
  if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) return Format::kTorchLegacy;
  if (n >= 9) {
    uint64_t len = 0;
    for (int i = 0; i < 8; ++i) len |= uint64_t(b[i]) << (8 * i);
    if (len >= 2 && b[8] == '{') return Format::kSafetensors;  // the reader checks len
  }
  size_t i = 0;
  while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) ++i;
  if (i < n && b[i] == '{') {
    const std::string head(reinterpret_cast<const char*>(b), n);
    if (head.find("\"weight_map\"") != std::string::npos) return Format::kSafetensorsIndex;
    if (head.find("\"dump_data_dir\"") != std::string::npos ||
        (head.find("\"task\"") != std::string::npos && head.find("\"data\"") != std::string::npos &&
         head.find("\"kind\"") == std::string::npos))
      return Format::kMsprobe;
    // msprobe's config.json ({"task": ..., "dump_path": ..., "level": ...}; L2's
    // kernel_config.json {"dump": {"dump_path": ...}}), often kept beside the dumps.
    if (head.find("\"dump_path\"") != std::string::npos && head.find("\"tensors\"") == std::string::npos &&
        head.find("\"name\"") == std::string::npos)
      return Format::kMsprobeConfig;
    return Format::kSummary;
  }
  throw Error(ErrorCode::kNotHdf5, path + ": not a dump tensordiff reads (" + kFormats + ")" + not_a_dump_hint(path, b, n));
}

std::unique_ptr<Source> open_source(const std::string& path, const EngineOptions& o) {
  switch (detect_format(path)) {
    case Format::kHdf5:
      return open_hdf5(path, o.log, o.direct_reads ? ReadMode::kDirect : ReadMode::kHdf5Only, o.follow_links,
                       o.listing_book.get());
    case Format::kSafetensors:
    case Format::kSafetensorsIndex: return open_safetensors(path);
    case Format::kNpy: return open_npy(path);
    case Format::kNpz: return open_npz(path);
    case Format::kTorch: return open_torch(path);
    case Format::kMsprobe: return open_msprobe(path);
    case Format::kFolder: return open_folder(path, o);
    case Format::kTorchLegacy:
      throw Error(ErrorCode::kUnsupported, path + ": PyTorch's legacy format (before torch 1.6), which only "
                                                  "unpickling can read; load it and torch.save it again");
    case Format::kSummary:
      throw Error(ErrorCode::kUsage, path + ": a summary holds no data here");
    case Format::kMsprobeConfig:
      throw Error(ErrorCode::kUsage, path + ": msprobe's configuration (task, dump_path, level), not a dump: "
                                            "give the dump folder (the one holding dump.json, or the dump_path root)");
  }
  throw Error(ErrorCode::kInternal, path + ": unknown format");
}

}  // namespace tensordiff
