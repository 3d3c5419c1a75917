#include "io/raw_source.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <optional>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

#include "core/decode.hpp"
#include "io/input_file.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

std::vector<uint64_t> c_strides(const std::vector<uint64_t>& shape) {
  std::vector<uint64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

uint64_t checked_count(const std::vector<uint64_t>& shape, const std::string& what) {
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (d != 0 && n > (uint64_t(1) << 60) / d)
      throw Error(ErrorCode::kCorrupt, what + ": a shape of more than 2^60 elements");
    n *= d;
  }
  return n;
}

namespace {

// The bits of `x` in a narrow float dtype when it holds x exactly (NaN: the canonical NaN).
std::optional<uint16_t> narrow_exact(float x, DType to) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (to == DType::kBF16) {
    if (x != x) return static_cast<uint16_t>(0x7fc0 | ((u >> 16) & 0x8000));
    if (u & 0xffff) return std::nullopt;
    return static_cast<uint16_t>(u >> 16);
  }
  // float8: the code whose value is x (256 codes, decoded once).
  static const auto table = [] {
    std::array<std::array<float, 256>, 2> v{};
    for (int c = 0; c < 256; ++c) {
      const uint8_t b = static_cast<uint8_t>(c);
      v[0][c] = static_cast<float>(decode::e4m3_to_double(b));
      v[1][c] = static_cast<float>(decode::e5m2_to_double(b));
    }
    return v;
  }();
  const auto& codes = table[to == DType::kF8E4M3 ? 0 : 1];
  for (int c = 0; c < 256; ++c) {
    const float v = codes[c];
    if ((v == x && std::signbit(v) == std::signbit(x)) || (v != v && x != x)) return static_cast<uint16_t>(c);
  }
  return std::nullopt;
}

// An open file: closed when the cache has let go of it and no read holds it.
struct OpenFile {
  InputFile f;
  void* map = nullptr;  // the whole file, read-only, mapped on the first strided read
  std::mutex map_m;
  ~OpenFile() {
    if (map) ::munmap(map, f.size);
    if (f.fd >= 0) ::close(f.fd);
  }
};

// A deflated member's reader, shared by the workers that read its chunks in order.
struct StreamState {
  std::mutex m;
  std::condition_variable cv;
  std::unique_ptr<ByteStream> stream;
  uint64_t pos = 0;  // bytes delivered so far
  std::string failed;
};

class RawSource final : public Source {
 public:
  RawSource(std::string label, std::vector<std::string> files, std::vector<RawTensor> tensors,
            std::vector<std::string> notes)
      : label_(std::move(label)), files_(std::move(files)), t_(std::move(tensors)), notes_(std::move(notes)),
        sizes_(files_.size(), UINT64_MAX), streams_(t_.size()) {
    for (size_t i = 0; i < t_.size(); ++i) {
      RawTensor& t = t_[i];
      t.info.order = i;
      if (t.info.type_name.empty()) t.info.type_name = dtype_name(t.info.dtype);
      infos_->push_back(t.info);
      if (t.error.empty() && t.info.unsupported.empty() && !t.open_stream) check_fits(t);
      if (t.open_stream) streams_[i] = std::make_unique<StreamState>();
    }
  }

  const std::string& path() const override { return label_; }
  const std::vector<TensorInfo>& tensors() const override { return *infos_; }
  std::shared_ptr<const std::vector<TensorInfo>> shared_tensors() const override { return infos_; }
  std::vector<std::string> notes() const override { return notes_; }
  std::optional<std::string> read_error(size_t index) const override {
    if (t_[index].error.empty()) return std::nullopt;
    return what(index) + ": " + t_[index].error;
  }
  bool sequential(size_t index) const override { return static_cast<bool>(t_[index].open_stream); }

  void read(size_t index, uint64_t first, uint64_t n, uint8_t* dst) override {
    const RawTensor& t = t_[index];
    if (n == 0) return;
    if (!t.error.empty()) throw Error(ErrorCode::kCorrupt, what(index) + ": " + t.error);
    if (t.widened_f32) return read_widened(index, first, n, dst);
    const size_t es = dtype_size(t.info.dtype);
    if (t.open_stream) return read_stream(index, first * es, n * es, dst);
    std::shared_ptr<OpenFile> f = file(t.file);
    if (t.strides.empty()) return pread_exact(*f, index, t.offset + first * es, n * es, dst);
    gather(*f, t, first, n, dst);
  }

 private:
  std::string what(size_t i) const {
    const RawTensor& t = t_[i];
    const std::string& f = files_.empty() ? label_ : files_[t.file];
    return (f == label_ ? label_ : label_ + " (" + f + ")") + ": tensor '" + t.info.name + "'";
  }

  uint64_t file_size(size_t k) {
    if (sizes_[k] == UINT64_MAX) {
      struct stat st;
      if (::stat(files_[k].c_str(), &st) != 0) return sizes_[k] = 0;
      sizes_[k] = static_cast<uint64_t>(st.st_size);
    }
    return sizes_[k];
  }

  // The bytes the tensor claims, within its file: else the tensor's error (never a read).
  void check_fits(RawTensor& t) {
    const size_t es = t.widened_f32 ? 4 : dtype_size(t.info.dtype);
    const uint64_t size = file_size(t.file);
    uint64_t last = 0;  // element offset of the last element
    if (t.info.count > 0) {
      const std::vector<uint64_t> st = t.strides.empty() ? c_strides(t.info.shape) : t.strides;
      for (size_t d = 0; d < t.info.shape.size(); ++d) {
        const uint64_t step = (t.info.shape[d] - 1);
        if (step != 0 && st[d] > (uint64_t(1) << 60) / step) {
          t.error = "its strides reach beyond 2^60 elements";
          return;
        }
        last += step * st[d];
      }
    }
    const uint64_t bytes = t.info.count == 0 ? 0 : (last + 1) * es;
    if (t.offset > size || bytes > size - t.offset)
      t.error = "its " + std::to_string(bytes) + " bytes at offset " + std::to_string(t.offset) +
                " run past the end of the file (" + std::to_string(size) + " bytes): truncated or corrupt";
  }

  std::shared_ptr<OpenFile> file(size_t k) {
    std::lock_guard<std::mutex> lock(cache_m_);
    auto it = open_.find(k);
    if (it != open_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
    auto f = std::make_shared<OpenFile>();
    f->f = open_input_file(files_[k]);
    // Dumps of 10^5 tensor files: a bounded number stay open.
    if (open_.size() >= kMaxOpen) {
      open_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(k);
    open_.emplace(k, std::make_pair(f, lru_.begin()));
    return f;
  }

  void pread_exact(OpenFile& f, size_t index, uint64_t off, uint64_t len, uint8_t* dst) const {
    while (len > 0) {
      const ssize_t r = ::pread(f.f.fd, dst, len, static_cast<off_t>(off));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0)
        throw Error(ErrorCode::kCorrupt, what(index) + ": cannot read bytes at offset " + std::to_string(off) +
                                             ": " + (r == 0 ? std::string("file is truncated") : std::strerror(errno)));
      dst += r;
      off += static_cast<uint64_t>(r);
      len -= static_cast<uint64_t>(r);
    }
  }

  // Elements [first, first + n) in C order of a strided view, from the file's mapping.
  void gather(OpenFile& f, const RawTensor& t, uint64_t first, uint64_t n, uint8_t* dst) {
    {
      std::lock_guard<std::mutex> lock(f.map_m);
      if (!f.map) {
        void* p = ::mmap(nullptr, f.f.size, PROT_READ, MAP_PRIVATE, f.f.fd, 0);
        if (p == MAP_FAILED)
          throw Error(ErrorCode::kIo, files_[t.file] + ": cannot map for a strided read: " + std::strerror(errno));
        f.map = p;
      }
    }
    const auto* base = static_cast<const uint8_t*>(f.map) + t.offset;
    const size_t es = dtype_size(t.info.dtype), r = t.info.shape.size();
    std::vector<uint64_t> idx = unravel_index(first, t.info.shape);
    uint64_t off = 0;
    for (size_t d = 0; d < r; ++d) off += idx[d] * t.strides[d];
    for (uint64_t i = 0; i < n; ++i) {
      std::memcpy(dst + i * es, base + off * es, es);
      for (size_t d = r; d-- > 0;) {  // the next index in C order
        off += t.strides[d];
        if (++idx[d] < t.info.shape[d]) break;
        off -= idx[d] * t.strides[d];
        idx[d] = 0;
      }
    }
  }

  // float32 copies back to bfloat16 / float8 bits, exactly.
  void read_widened(size_t index, uint64_t first, uint64_t n, uint8_t* dst) {
    const RawTensor& t = t_[index];
    std::vector<float> wide(n);
    std::shared_ptr<OpenFile> f = file(t.file);
    if (t.strides.empty()) {
      pread_exact(*f, index, t.offset + first * 4, n * 4, reinterpret_cast<uint8_t*>(wide.data()));
    } else {
      RawTensor as_f32 = t;
      as_f32.info.dtype = DType::kF32;
      gather(*f, as_f32, first, n, reinterpret_cast<uint8_t*>(wide.data()));
    }
    if (t.info.big_endian)
      for (auto& x : wide) {
        uint32_t u;
        std::memcpy(&u, &x, 4);
        u = __builtin_bswap32(u);
        std::memcpy(&x, &u, 4);
      }
    const DType to = t.info.dtype;
    for (uint64_t i = 0; i < n; ++i) {
      const auto bits = narrow_exact(wide[i], to);
      if (!bits)
        throw Error(ErrorCode::kCorrupt, what(index) + ": element " + std::to_string(first + i) + " (" +
                                             std::to_string(wide[i]) + ") is not a " + dtype_name(to) +
                                             " value, though the dump says the tensor is " + dtype_name(to));
      if (dtype_size(to) == 2) std::memcpy(dst + 2 * i, &*bits, 2);
      else dst[i] = static_cast<uint8_t>(*bits);
    }
  }

  // Chunks of a deflated member arrive from several workers; they are served in order (the
  // engine hands out a tensor's chunks in order, so the one waited for is being read).
  void read_stream(size_t index, uint64_t from, uint64_t len, uint8_t* dst) {
    StreamState& s = *streams_[index];
    std::unique_lock<std::mutex> lock(s.m);
    if (s.stream && from < s.pos) s.stream.reset();  // read again from the start
    if (!s.stream) {
      s.stream = t_[index].open_stream();
      s.pos = 0;
      s.failed.clear();
    }
    s.cv.wait(lock, [&] { return s.pos == from || !s.failed.empty(); });
    if (!s.failed.empty()) throw Error(ErrorCode::kCorrupt, s.failed);
    try {
      s.stream->read(dst, len);
    } catch (const Error& e) {
      s.failed = e.what();
      s.cv.notify_all();
      throw;
    }
    s.pos += len;
    s.cv.notify_all();
  }

  static constexpr size_t kMaxOpen = 128;
  std::string label_;
  std::vector<std::string> files_;
  std::vector<RawTensor> t_;
  std::vector<std::string> notes_;
  std::shared_ptr<std::vector<TensorInfo>> infos_ = std::make_shared<std::vector<TensorInfo>>();
  std::vector<uint64_t> sizes_;
  std::vector<std::unique_ptr<StreamState>> streams_;
  std::mutex cache_m_;
  std::list<size_t> lru_;
  std::unordered_map<size_t, std::pair<std::shared_ptr<OpenFile>, std::list<size_t>::iterator>> open_;
};

}  // namespace

std::unique_ptr<Source> raw_source(const std::string& label, const std::vector<std::string>& files,
                                   std::vector<RawTensor> tensors, std::vector<std::string> notes) {
  return std::make_unique<RawSource>(label, files, std::move(tensors), std::move(notes));
}

}  // namespace tensordiff
