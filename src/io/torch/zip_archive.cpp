#include "io/torch/zip_archive.hpp"

#include <minizip/unzip.h>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>

#include "io/input_file.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

// minizip's own open is fopen, which blocks on a FIFO and reads a device: the archive is
// opened through open_input_file (a regular file only, never blocking) and handed to minizip's
// stdio functions as a FILE*. The callback runs inside C code: its error is kept, not thrown.
struct Unz {
  unzFile f = nullptr;
  std::string open_error;
  explicit Unz(const std::string& path) {
    zlib_filefunc64_def io;
    fill_fopen64_filefunc(&io);
    io.zopen64_file = &open_checked;
    io.opaque = this;
    f = unzOpen2_64(path.c_str(), &io);
    if (!f && !open_error.empty()) throw Error(ErrorCode::kIo, open_error);
  }
  ~Unz() {
    if (f) unzClose(f);
  }
  Unz(const Unz&) = delete;
  Unz& operator=(const Unz&) = delete;

 private:
  static voidpf ZCALLBACK open_checked(voidpf opaque, const void* filename, int) {
    Unz* self = static_cast<Unz*>(opaque);
    try {
      const InputFile in = open_input_file(static_cast<const char*>(filename));
      FILE* fp = ::fdopen(in.fd, "rb");
      if (!fp) ::close(in.fd);
      return fp;
    } catch (const Error& e) {
      self->open_error = e.what();
      return nullptr;
    } catch (...) {
      return nullptr;
    }
  }
};

void read_current(unzFile f, uint8_t* dst, uint64_t n, const std::string& what) {
  while (n > 0) {
    const unsigned want = static_cast<unsigned>(std::min<uint64_t>(n, INT_MAX / 2));
    const int r = unzReadCurrentFile(f, dst, want);
    if (r <= 0) throw Error(ErrorCode::kCorrupt, what + (r == 0 ? ": member is truncated" : ": corrupt deflate data"));
    dst += r;
    n -= static_cast<uint64_t>(r);
  }
}

class MemberStream final : public ByteStream {
 public:
  MemberStream(const std::string& path, const ZipMember& m, uint64_t skip)
      : unz_(path), what_(path + ": member '" + m.name + "'"), left_(m.size) {
    unz64_file_pos pos{m.pos_in_dir, m.num_of_file};
    if (!unz_.f || unzGoToFilePos64(unz_.f, &pos) != UNZ_OK || unzOpenCurrentFile(unz_.f) != UNZ_OK)
      throw Error(ErrorCode::kCorrupt, what_ + ": cannot be opened again");
    open_ = true;
    std::vector<uint8_t> sink(std::min<uint64_t>(skip, 1 << 16));
    for (uint64_t k = skip; k > 0;) {
      const uint64_t n = std::min<uint64_t>(k, sink.size());
      take(sink.data(), n);
      k -= n;
    }
  }
  ~MemberStream() override {
    if (open_) unzCloseCurrentFile(unz_.f);
  }
  void read(uint8_t* dst, uint64_t n) override { take(dst, n); }

 private:
  void take(uint8_t* dst, uint64_t n) {
    if (n > left_) throw Error(ErrorCode::kCorrupt, what_ + ": shorter than its tensor");
    read_current(unz_.f, dst, n, what_);
    left_ -= n;
    if (left_ == 0) {  // the end: the member's CRC-32 is checked now
      open_ = false;
      if (unzCloseCurrentFile(unz_.f) == UNZ_CRCERROR)
        throw Error(ErrorCode::kCorrupt, what_ + ": CRC-32 mismatch");
    }
  }
  Unz unz_;
  std::string what_;
  uint64_t left_;
  bool open_ = false;
};

}  // namespace

bool is_zip(const uint8_t* p, size_t n) {
  return n >= 4 && p[0] == 'P' && p[1] == 'K' && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

std::vector<ZipMember> list_zip(const std::string& path, size_t head_bytes) {
  Unz z(path);
  if (!z.f) throw Error(ErrorCode::kCorrupt, path + ": not a readable zip archive (corrupt central directory)");
  std::vector<ZipMember> out;
  int r = unzGoToFirstFile(z.f);
  if (r == UNZ_END_OF_LIST_OF_FILE) return out;
  for (; r == UNZ_OK; r = unzGoToNextFile(z.f)) {
    unz_file_info64 info;
    char name[4096];
    if (unzGetCurrentFileInfo64(z.f, &info, name, sizeof name, nullptr, 0, nullptr, 0) != UNZ_OK)
      throw Error(ErrorCode::kCorrupt, path + ": corrupt zip directory entry");
    ZipMember m;
    m.name = name;
    m.method = static_cast<int>(info.compression_method);
    m.size = info.uncompressed_size;
    m.compressed = info.compressed_size;
    const std::string what = path + ": member '" + m.name + "'";
    if (info.flag & 1) throw Error(ErrorCode::kUnsupported, what + " is encrypted");
    unz64_file_pos pos;
    unzGetFilePos64(z.f, &pos);
    m.pos_in_dir = pos.pos_in_zip_directory;
    m.num_of_file = pos.num_of_file;
    if (m.method != 0 && m.method != 8) {
      out.push_back(std::move(m));  // the reader says which method when it is used
      continue;
    }
    if (unzOpenCurrentFile(z.f) != UNZ_OK) throw Error(ErrorCode::kCorrupt, what + ": corrupt local header");
    m.data_offset = unzGetCurrentFileZStreamPos64(z.f);
    m.head.resize(std::min<uint64_t>(head_bytes, m.size));
    try {
      read_current(z.f, m.head.data(), m.head.size(), what);
    } catch (...) {
      unzCloseCurrentFile(z.f);
      throw;
    }
    unzCloseCurrentFile(z.f);  // before the end: no CRC check yet (it comes with the data)
    if (m.method == 0 && m.compressed != m.size)
      throw Error(ErrorCode::kCorrupt, what + ": stored with sizes that disagree");
    out.push_back(std::move(m));
  }
  if (r != UNZ_END_OF_LIST_OF_FILE) throw Error(ErrorCode::kCorrupt, path + ": corrupt zip directory");
  return out;
}

std::unique_ptr<ByteStream> open_zip_member(const std::string& path, const ZipMember& m, uint64_t skip) {
  return std::make_unique<MemberStream>(path, m, skip);
}

}  // namespace tensordiff
