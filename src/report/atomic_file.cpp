// Reports are written so that nothing of the user's is ever lost or half-written
// (docs/design.md §7, issue 11): a regular file via a temporary file renamed into place,
// created only when the report is ready; anything else (stdout, a device, a FIFO) is written to
// directly and never replaced; an input is never a report's target.
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

// The temporary file being written, readable from a signal handler (a plain static buffer).
char g_pending[4096];

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::string dir_of(const std::string& path) {
  std::vector<char> copy(path.begin(), path.end());
  copy.push_back('\0');
  return ::dirname(copy.data());
}

void write_all(int fd, const std::string& what, const std::string& contents) {
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(ErrorCode::kIo, what + ": cannot write report: " + std::strerror(w < 0 ? errno : ENOSPC));
    p += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace

const char* pending_report_temp() { return g_pending; }

AtomicFile::AtomicFile(const std::string& path, const std::vector<std::string>& inputs) : path_(path) {
  if (path == "-") {
    direct_ = true;
    fd_ = STDOUT_FILENO;
    return;
  }
  struct stat st;
  const bool exists = ::stat(path.c_str(), &st) == 0;
  for (const auto& in : inputs) {
    struct stat si;
    if (exists && ::stat(in.c_str(), &si) == 0 && same_file(st, si))
      throw Error(ErrorCode::kUsage, path + ": the report would overwrite input " + in);
  }
  if (exists && S_ISDIR(st.st_mode)) throw Error(ErrorCode::kIo, path + ": cannot write report: is a directory");
  if (exists && !S_ISREG(st.st_mode)) {
    // A device, a FIFO, /dev/stdout: written to as it is, never replaced by a regular file.
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error(ErrorCode::kIo, path + ": cannot write report: " + std::strerror(errno));
    direct_ = true;
    return;
  }
  // Fail before any work if the report could not be written there.
  const std::string dir = dir_of(path);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(ErrorCode::kIo, path + ": cannot write report: " + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (direct_ && fd_ > STDERR_FILENO) ::close(fd_);
}

void AtomicFile::commit(const std::string& contents) {
  commit_stream([&](const TextSink& write) { write(contents); });
}

void AtomicFile::commit_stream(const std::function<void(const TextSink&)>& produce) {
  if (direct_) {
    produce([&](const std::string& piece) { write_all(fd_, path_, piece); });
    return;
  }
  std::vector<char> tmpl(path_.begin(), path_.end());
  const std::string suffix = ".tmp.XXXXXX";
  tmpl.insert(tmpl.end(), suffix.begin(), suffix.end());
  tmpl.push_back('\0');
  if (tmpl.size() >= sizeof g_pending)
    throw Error(ErrorCode::kIo, path_ + ": cannot write report: path too long");
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + std::strerror(errno));
  std::memcpy(g_pending, tmpl.data(), tmpl.size());
  std::atomic_signal_fence(std::memory_order_seq_cst);
  auto give_up = [&](const std::string& why) {
    ::close(fd);
    ::unlink(tmpl.data());
    g_pending[0] = '\0';
    throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + why);
  };
  // Pieces are buffered to ~1 MiB so that small tensors do not cost a write each.
  std::string buffer;
  auto flush = [&] {
    write_all(fd, path_, buffer);
    buffer.clear();
  };
  try {
    produce([&](const std::string& piece) {
      buffer += piece;
      if (buffer.size() >= (1u << 20)) flush();
    });
    flush();
  } catch (const Error& e) {
    give_up(e.what());
  } catch (...) {
    ::close(fd);
    ::unlink(tmpl.data());
    g_pending[0] = '\0';
    throw;
  }
  // mkstemp creates 0600; a report should be as readable as any file the user writes.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::fsync(fd) != 0) give_up(std::strerror(errno));
  if (::close(fd) != 0) {
    ::unlink(tmpl.data());
    g_pending[0] = '\0';
    throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + std::strerror(errno));
  }
  if (::rename(tmpl.data(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.data());
    g_pending[0] = '\0';
    throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + std::strerror(err));
  }
  g_pending[0] = '\0';
}

}  // namespace tensordiff
