// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
// "__metadata__": {...}}, then the data; offsets are relative to the data's start. A sharded
// checkpoint's index {"weight_map": {"name": "model-00001-of-00002.safetensors"}} makes one
// dump of its shards. Tensors are listed in natural name order (the file keeps no other).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "io/formats.hpp"
#include "io/input_file.hpp"
#include "io/natural_sort.hpp"
#include "io/raw_source.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

using nlohmann::json;

// The format's own limit on the header (safetensors refuses larger ones too).
constexpr uint64_t kMaxHeader = 100'000'000;

json parse_json(const std::string& text, const std::string& what) {
  // Nothing in these headers nests deeper; a deeper one is refused before it costs stack.
  const json::parser_callback_t limit = [&](int depth, json::parse_event_t, json&) {
    if (depth > 8) throw Error(ErrorCode::kCorrupt, what + ": JSON nested deeper than 8 levels");
    return true;
  };
  json j = json::parse(text, limit, false);
  if (j.is_discarded() || !j.is_object()) throw Error(ErrorCode::kCorrupt, what + ": header is not a JSON object");
  return j;
}

std::optional<DType> st_dtype(const std::string& s) {
  static const std::map<std::string, DType> kTypes = {
      {"F64", DType::kF64}, {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16},
      {"F8_E4M3", DType::kF8E4M3}, {"F8_E5M2", DType::kF8E5M2}, {"I8", DType::kI8}, {"I16", DType::kI16},
      {"I32", DType::kI32}, {"I64", DType::kI64}, {"U8", DType::kU8}, {"U16", DType::kU16},
      {"U32", DType::kU32}, {"U64", DType::kU64}, {"BOOL", DType::kBool}};
  const auto it = kTypes.find(s);
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

uint64_t pread_u64(int fd, uint64_t off, const std::string& what) {
  uint8_t b[8];
  if (::pread(fd, b, 8, static_cast<off_t>(off)) != 8) throw Error(ErrorCode::kCorrupt, what + ": truncated");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(b[i]) << (8 * i);
  return v;
}

// One file's tensors (file index k of the dump).
void list_file(const std::string& path, size_t k, std::vector<RawTensor>& out) {
  InputFile f = open_input_file(path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{f.fd};
  if (f.size < 8) throw Error(ErrorCode::kCorrupt, path + ": not a safetensors file (shorter than 8 bytes)");
  const uint64_t n = pread_u64(f.fd, 0, path);
  if (n > kMaxHeader) throw Error(ErrorCode::kCorrupt, path + ": safetensors header of " + std::to_string(n) +
                                                         " bytes (the format allows 100 MB)");
  if (n > f.size - 8) throw Error(ErrorCode::kCorrupt, path + ": safetensors header runs past the end of the file");
  std::string text(n, '\0');
  if (::pread(f.fd, text.data(), n, 8) != static_cast<ssize_t>(n)) throw Error(ErrorCode::kCorrupt, path + ": truncated");
  const json h = parse_json(text, path);
  const uint64_t data_start = 8 + n, data_size = f.size - data_start;
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") continue;
    RawTensor t;
    t.info.name = name;
    t.info.storage = "safetensors";
    t.file = k;
    const std::string what = "tensor '" + name + "'";
    auto bad = [&](const std::string& why) { throw Error(ErrorCode::kCorrupt, path + ": " + what + ": " + why); };
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      bad("needs dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) bad("dtype must be a string");
    const std::string dt = e["dtype"].get<std::string>();
    if (!e["shape"].is_array() || e["shape"].size() > 64) bad("shape must be an array of at most 64 sizes");
    std::vector<uint64_t> shape;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) bad("shape must hold non-negative integers");
      shape.push_back(d.get<uint64_t>());
    }
    t.info.shape = shape;
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("data_offsets must be [begin, end]");
    const uint64_t b = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    t.info.count = checked_count(t.info.shape, path + ": " + what);
    if (const auto d = st_dtype(dt)) {
      t.info.dtype = *d;
      t.info.type_name = dtype_name(*d);
      const uint64_t bytes = t.info.count * dtype_size(*d);
      if (b > end || end - b != bytes)
        t.error = "data_offsets [" + std::to_string(b) + ", " + std::to_string(end) + "] hold " +
                  std::to_string(end >= b ? end - b : 0) + " bytes, its shape needs " + std::to_string(bytes);
      else if (end > data_size)
        t.error = "data_offsets end at " + std::to_string(end) + ", past the data (" + std::to_string(data_size) +
                  " bytes): truncated or corrupt";
    } else {
      t.info.type_name = dt;
      t.info.unsupported = "safetensors dtype '" + dt + "'";
    }
    t.offset = data_start + b;
    out.push_back(std::move(t));
  }
}

// The one *.safetensors.index.json of a folder ("" when there is none or several).
std::string find_index(const std::string& dir) {
  std::string found;
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      const std::string suffix = ".safetensors.index.json";
      if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        found = dir + "/" + name;
        ++n;
      }
    }
    ::closedir(d);
  }
  return n == 1 ? found : "";
}

std::string dir_of(const std::string& p) {
  const auto s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}

}  // namespace

std::unique_ptr<Source> open_safetensors(const std::string& path) {
  struct stat st;
  std::string index;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    index = find_index(path);
    if (index.empty()) throw Error(ErrorCode::kIo, path + ": a folder without a *.safetensors.index.json");
  } else if (detect_format(path) == Format::kSafetensorsIndex) {
    index = path;
  }
  std::vector<std::string> files;
  std::vector<RawTensor> tensors;
  if (index.empty()) {
    files.push_back(path);
    list_file(path, 0, tensors);
  } else {
    InputFile f = open_input_file(index);
    std::string text(f.size, '\0');
    const bool ok = f.size <= kMaxHeader && ::pread(f.fd, text.data(), f.size, 0) == static_cast<ssize_t>(f.size);
    ::close(f.fd);
    if (!ok) throw Error(ErrorCode::kCorrupt, index + ": unreadable or larger than 100 MB");
    const json j = parse_json(text, index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(ErrorCode::kCorrupt, index + ": no weight_map");
    std::map<std::string, size_t> file_of;  // shard file -> index
    std::map<std::string, std::string> expect;  // tensor -> shard
    for (const auto& [name, shard] : j["weight_map"].items()) {
      if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos)
        throw Error(ErrorCode::kCorrupt, index + ": weight_map['" + name + "'] must name a file beside the index");
      expect[name] = shard.get<std::string>();
      file_of.emplace(shard.get<std::string>(), 0);
    }
    for (auto& [shard, k] : file_of) {
      k = files.size();
      files.push_back(dir_of(index) + "/" + shard);
      std::vector<RawTensor> part;
      list_file(files.back(), k, part);
      for (auto& t : part) {
        const auto it = expect.find(t.info.name);
        if (it == expect.end() || it->second != shard) continue;  // the index decides
        tensors.push_back(std::move(t));
      }
    }
    if (tensors.size() != expect.size())
      for (const auto& entry : expect) {
        const std::string& name = entry.first;
        if (std::none_of(tensors.begin(), tensors.end(), [&](const RawTensor& t) { return t.info.name == name; }))
          throw Error(ErrorCode::kCorrupt, index + ": tensor '" + name + "' is not in " + entry.second);
      }
  }
  std::sort(tensors.begin(), tensors.end(),
            [](const RawTensor& a, const RawTensor& b) { return natural_less(a.info.name, b.info.name); });
  for (size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].info.name == tensors[i - 1].info.name)
      throw Error(ErrorCode::kCorrupt, path + ": two tensors named '" + tensors[i].info.name + "'");
  return raw_source(path, files, std::move(tensors));
}

}  // namespace tensordiff
