#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(ErrorCode::kIo, path + ": cannot write report: is a directory");
  std::vector<char> tmpl(path.begin(), path.end());
  const std::string suffix = ".tmp.XXXXXX";
  tmpl.insert(tmpl.end(), suffix.begin(), suffix.end());
  tmpl.push_back('\0');
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0) throw Error(ErrorCode::kIo, path + ": cannot write report: " + std::strerror(errno));
  tmp_ = tmpl.data();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::commit(const std::string& contents) {
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t w = ::write(fd_, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + std::strerror(errno));
    p += w;
    left -= static_cast<size_t>(w);
  }
  // mkstemp creates 0600; a report should be as readable as any file the user writes.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd_, 0666 & ~mask);
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw Error(ErrorCode::kIo, path_ + ": cannot write report: " + std::strerror(errno));
  tmp_.clear();
}

}  // namespace tensordiff
