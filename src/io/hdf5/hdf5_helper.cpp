#include "io/hdf5/hdf5_helper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "io/hdf5/hdf5_helper_child.hpp"
#include "io/hdf5/helper_path.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

using Clock = std::chrono::steady_clock;

// A message from the helper: [u64 length][payload]; listings of 10^6 datasets stay far below.
constexpr uint64_t kMaxMessage = uint64_t(1) << 34;

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGKILL: return "SIGKILL";
    default: return "a signal";
  }
}

// Every helper is started by one thread that lives as long as the process, and asks for
// SIGKILL when its parent goes (PR_SET_PDEATHSIG): a helper stuck in libhdf5 (an endless loop
// on corrupt metadata) must not outlive an engine that was killed. The death signal follows
// the thread that started the helper, so pool threads, which come and go, must not start it.
class Starter {
 public:
  static Starter& get() {
    static Starter* s = new Starter;  // never destroyed: its thread runs until the process ends
    return *s;
  }
  // Runs `start` (posix_spawn or fork; returns the pid, or -1 with err set) on the thread.
  pid_t run(const std::function<pid_t(int&)>& start, int& err) {
    std::unique_lock<std::mutex> lock(m_);
    Request r{&start};
    queue_.push_back(&r);
    cv_.notify_all();
    cv_.wait(lock, [&] { return r.done; });
    err = r.err;
    return r.pid;
  }

 private:
  struct Request {
    const std::function<pid_t(int&)>* start;
    pid_t pid = -1;
    int err = 0;
    bool done = false;
  };
  Starter() { std::thread([this] { loop(); }).detach(); }
  void loop() {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty(); });
      Request* r = queue_.front();
      queue_.pop_front();
      r->pid = (*r->start)(r->err);
      r->done = true;
      cv_.notify_all();
    }
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Request*> queue_;
};

// The helper executable with its socket as fd 3 and nothing else of the engine's open.
pid_t spawn_helper(const std::string& exe, int child_fd, const std::string& path,
                   const HelperOptions& o, bool list, int& err) {
  int fd = child_fd;
  if (fd == 3) {  // dup2(3, 3) would keep close-on-exec
    fd = ::fcntl(child_fd, F_DUPFD_CLOEXEC, 4);
    if (fd < 0) {
      err = errno;
      return -1;
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 3);
  posix_spawn_file_actions_addclosefrom_np(&fa, 4);
  const std::string engine = std::to_string(::getpid());
  auto flag = [](bool b) { return b ? "1" : "0"; };
  const char* argv[] = {kHelperName, "3", engine.c_str(), flag(list), flag(o.verbose),
                        flag(o.follow_links), flag(o.hdf5_only), path.c_str(), nullptr};
  pid_t pid = -1;
  err = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (fd != child_fd) ::close(fd);
  return err == 0 ? pid : -1;
}

// Without a helper executable (a program that links the library but does not install it):
// a fork of the engine runs the helper. glibc makes malloc safe in the child of a threaded
// process; sanitizer runtimes before LLVM 18 do not, hence the executable first.
pid_t fork_helper(int child_fd, const std::string& path, const HelperOptions& o, bool list, int& err) {
  const pid_t engine = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != engine) ::_exit(0);  // the engine died before prctl
    // Only its own socket stays open: a helper must not hold the sockets of other helpers
    // (their engine side would never see them close), nor the engine's files.
    ::close_range(3, static_cast<unsigned>(child_fd) - 1, 0);
    ::close_range(static_cast<unsigned>(child_fd) + 1, ~0u, 0);
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGINT, SIG_IGN);  // the engine decides what an interrupt means
    try {
      run_hdf5_helper(child_fd, path, o, list);
    } catch (...) {
    }
    ::_exit(0);  // no atexit handlers of the engine
  }
  err = pid < 0 ? errno : 0;
  return pid;
}

}  // namespace

double default_helper_timeout() {
  const char* env = std::getenv("TENSORDIFF_HDF5_TIMEOUT");
  if (env && *env) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end && *end == '\0' && v > 0) return v;
  }
  return 120;
}

Hdf5Helper::Hdf5Helper(const std::string& path, const HelperOptions& options)
    : path_(path), options_(options) {
  spawn(true);
  std::vector<uint8_t> msg = receive("listing");
  wire::Reader r(msg.data(), msg.size());
  try {
    const uint8_t kind = r.u8();
    if (kind == 'E') {
      const auto code = static_cast<ErrorCode>(r.u64());
      const std::string text = r.str();
      stop();
      throw Error(code, text);
    }
    if (kind != 'L') throw wire::WireError("unexpected message");
  } catch (const wire::WireError& e) {
    stop();
    throw Error(ErrorCode::kInternal, path_ + ": the HDF5 helper sent a bad listing (" + e.what() + ")");
  }
  listing_ = std::move(msg);  // the kind byte, then the listing
}

Hdf5Helper::Hdf5Helper(const std::string& path, const HelperOptions& options, Deferred)
    : path_(path), options_(options) {}

void Hdf5Helper::take_listing(const std::function<void(uint64_t)>& count,
                              const std::function<void(ListedDataset&)>& each, std::vector<ListedLink>& links) {
  const std::vector<uint8_t> bytes = std::move(listing_);
  listing_ = {};
  if (bytes.empty()) throw Error(ErrorCode::kInternal, path_ + ": no listing from the HDF5 helper");
  wire::Reader r(bytes.data() + 1, bytes.size() - 1);
  try {
    decode_listing(r, count, each, links);
  } catch (const wire::WireError& e) {
    stop();
    throw Error(ErrorCode::kInternal, path_ + ": the HDF5 helper sent a bad listing (" + e.what() + ")");
  }
}

Hdf5Helper::~Hdf5Helper() { stop(); }

void Hdf5Helper::release() {
  std::lock_guard<std::mutex> lock(m_);
  stop();
}

void Hdf5Helper::spawn(bool list) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw Error(ErrorCode::kIo, path_ + ": cannot start the HDF5 helper: " + std::strerror(errno));
  const std::optional<std::string> exe = helper_executable();
  const std::function<pid_t(int&)> start = [&](int& err) {
    return exe ? spawn_helper(*exe, sv[1], path_, options_, list, err)
               : fork_helper(sv[1], path_, options_, list, err);
  };
  int err = 0;
  const pid_t pid = Starter::get().run(start, err);
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw Error(ErrorCode::kIo, path_ + ": cannot start the HDF5 helper" + (exe ? " " + *exe : "") +
                                    ": " + std::strerror(err));
  }
  ::close(sv[1]);
  pid_ = pid;
  fd_ = sv[0];
}

void Hdf5Helper::stop() {
  if (fd_ >= 0) ::close(fd_);  // the helper sees EOF and exits
  fd_ = -1;
  if (pid_ > 0) {
    int status = 0;
    // Give it a moment to exit on its own, then make sure.
    for (int i = 0; i < 50; ++i) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        pid_ = -1;
        return;
      }
      ::usleep(2000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

void Hdf5Helper::fail(const std::string& what, int code) {
  (void)code;
  // Why did the helper go away? A signal means libhdf5 crashed on this file.
  std::string why = "the HDF5 helper ended without an answer";
  if (pid_ > 0) {
    int status = 0;
    ::kill(pid_, SIGKILL);  // no effect if it has already exited
    if (::waitpid(pid_, &status, 0) == pid_ && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
      why = std::string("libhdf5 crashed (") + signal_name(WTERMSIG(status)) + ")";
    pid_ = -1;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  throw Error(ErrorCode::kCorrupt, path_ + ": " + what + ": " + why + "; the file is corrupt or hostile");
}

std::vector<uint8_t> Hdf5Helper::receive(const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(options_.timeout_s);
  auto read_exact = [&](uint8_t* p, size_t n) {
    while (n > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        ::close(fd_);
        fd_ = -1;
        throw Error(ErrorCode::kCorrupt, path_ + ": " + what + ": libhdf5 did not answer within " +
                                             std::to_string(static_cast<int>(options_.timeout_s)) +
                                             " s (TENSORDIFF_HDF5_TIMEOUT); the file is corrupt or hostile");
      }
      pollfd pfd{fd_, POLLIN, 0};
      const int pr = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) continue;
      const ssize_t r = ::read(fd_, p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) fail(what, 0);
      p += r;
      n -= static_cast<size_t>(r);
    }
  };
  uint8_t head[8];
  read_exact(head, 8);
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= uint64_t(head[i]) << (8 * i);
  if (len == 0 || len > kMaxMessage) fail(what, 0);
  std::vector<uint8_t> msg(len);
  read_exact(msg.data(), len);
  return msg;
}

void Hdf5Helper::read(size_t index, const std::string& tensor, uint64_t first, uint64_t n,
                      size_t elem_size, uint8_t* dst) {
  std::lock_guard<std::mutex> lock(m_);
  const std::string what = "tensor '" + tensor + "'";
  if (fd_ < 0) spawn(false);  // the last read crashed it: a fresh one for this tensor
  wire::Writer w;
  w.u8('R');
  w.u64(index);
  w.u64(first);
  w.u64(n);
  w.u64(elem_size);
  wire::Writer head;
  head.u64(w.data().size());
  for (const std::vector<uint8_t>* part : {&head.data(), &w.data()}) {
    size_t done = 0;
    while (done < part->size()) {
      const ssize_t r = ::send(fd_, part->data() + done, part->size() - done, MSG_NOSIGNAL);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) fail(what, 0);
      done += static_cast<size_t>(r);
    }
  }
  const std::vector<uint8_t> msg = receive(what);
  wire::Reader r(msg.data(), msg.size());
  try {
    const uint8_t kind = r.u8();
    if (kind == 'E') {
      const auto code = static_cast<ErrorCode>(r.u64());
      throw Error(code, path_ + ": " + what + ": " + r.str());
    }
    const std::vector<uint8_t> data = r.bytes();
    if (kind != 'D' || data.size() != n * elem_size) throw wire::WireError("wrong size");
    std::memcpy(dst, data.data(), data.size());
  } catch (const wire::WireError& e) {
    throw Error(ErrorCode::kInternal, path_ + ": " + what + ": bad answer from the HDF5 helper (" + e.what() + ")");
  }
}

}  // namespace tensordiff
