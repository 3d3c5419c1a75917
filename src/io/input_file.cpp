#include "io/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {
std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO (pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}
}  // namespace

void check_input_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw Error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::kIo, path + ": is " + kind_of(st.st_mode) + ", not a file");
}

InputFile open_input_file(const std::string& path) {
  check_input_file(path);
  // O_NONBLOCK: should the path have become a FIFO since the check, the open does not block;
  // fstat on the descriptor then tells what was opened.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error(ErrorCode::kIo, path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kIo, path + ": is not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return {fd, static_cast<uint64_t>(st.st_size)};
}

std::string read_input_text(const std::string& path, uint64_t max_bytes) {
  InputFile f = open_input_file(path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{f.fd};
  if (f.size > max_bytes)
    throw Error(ErrorCode::kCorrupt, path + ": " + std::to_string(f.size) + " bytes, more than the " +
                                         std::to_string(max_bytes) + " such a file may hold");
  std::string text(f.size, '\0');
  uint64_t done = 0;
  while (done < f.size) {
    const ssize_t r = ::pread(f.fd, text.data() + done, f.size - done, static_cast<off_t>(done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(ErrorCode::kIo, path + ": cannot read: " + std::strerror(errno));
    if (r == 0) break;  // shrunk since it was opened: what is there
    done += static_cast<uint64_t>(r);
  }
  text.resize(done);
  return text;
}

namespace {
std::string real_path(const std::string& p) {
  std::unique_ptr<char, decltype(&std::free)> r(::realpath(p.c_str(), nullptr), &std::free);
  return r ? std::string(r.get()) : std::string();
}
}  // namespace

void check_inside_folder(const std::string& folder, const std::string& path) {
  const std::string target = real_path(path);
  if (target.empty()) return;  // missing (or a link to nothing): the reader says so
  const std::string root = real_path(folder);
  if (root.empty()) throw Error(ErrorCode::kIo, folder + ": cannot open: " + std::strerror(errno));
  if (root == "/" || target.compare(0, root.size() + 1, root + "/") == 0) return;
  throw Error(ErrorCode::kIo, path + ": leads through a link to " + target + ", outside the dump folder " +
                                  folder + ": refused (copy the file into the folder)");
}

}  // namespace tensordiff
