// The MPI group (TENSORDIFF_MPI): joined only when the process was started by mpirun/srun
// (their environment says so); a plain run never initialises MPI. Every call is a collective
// that all ranks make in the same order.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <string>
#include <thread>

#include "engine/group.hpp"

#ifdef TENSORDIFF_HAVE_MPI
#include <mpi.h>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

class MpiGroup final : public Group {
 public:
  MpiGroup() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<std::vector<uint8_t>> gather(const std::vector<uint8_t>& mine) override {
    // Sizes first (64-bit: a rank's share of 10^6 tensors can pass 2 GiB in 32-bit counts,
    // so the bytes travel in pieces of at most 1 GiB).
    const uint64_t n = mine.size();
    std::vector<uint64_t> sizes(rank_ == 0 ? size_ : 0);
    MPI_Gather(&n, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    std::vector<std::vector<uint8_t>> out;
    if (rank_ == 0) {
      out.resize(size_);
      out[0] = mine;
      for (int r = 1; r < size_; ++r) {
        out[r].resize(sizes[r]);
        recv_all(out[r].data(), sizes[r], r);
      }
    } else {
      send_all(mine.data(), n, 0);
    }
    return out;
  }

  std::vector<uint8_t> broadcast(const std::vector<uint8_t>& bytes) override {
    uint64_t n = bytes.size();
    bcast(&n, 1, MPI_UINT64_T, 0);
    std::vector<uint8_t> out = rank_ == 0 ? bytes : std::vector<uint8_t>(n);
    for (uint64_t off = 0; off < n; off += kPiece)
      bcast(out.data() + off, static_cast<int>(std::min<uint64_t>(kPiece, n - off)), MPI_BYTE, 0);
    return out;
  }

  std::optional<std::string> agree(const std::optional<std::string>& mine, bool name_rank) override {
    // The lowest failing rank speaks for all.
    int failed = mine ? rank_ : size_;
    int first = size_;
    MPI_Request req;
    MPI_Iallreduce(&failed, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    wait(req);
    if (first == size_) return std::nullopt;
    std::string msg = rank_ == first ? *mine : std::string();
    uint64_t n = msg.size();
    bcast(&n, 1, MPI_UINT64_T, first);
    msg.resize(n);
    bcast(msg.data(), static_cast<int>(n), MPI_CHAR, first);
    return first == 0 || !name_rank ? msg : "rank " + std::to_string(first) + ": " + msg;
  }

 private:
  static constexpr uint64_t kPiece = uint64_t(1) << 30;
  // A rank waiting in a collective (for rank 0's listing, for the verdict) sleeps between
  // polls: Open MPI's blocking calls spin, and a spinning rank takes a core from the ranks
  // (and helper processes) that are working (a 2-core node listed 10^5 tensors 2.3x slower).
  static void wait(MPI_Request& req) {
    int done = 0;
    for (long us = 20;; us = std::min(us * 2, 2000L)) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) return;
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
  }
  static void bcast(void* p, int n, MPI_Datatype type, int root) {
    MPI_Request req;
    MPI_Ibcast(p, n, type, root, MPI_COMM_WORLD, &req);
    wait(req);
  }
  void send_all(const uint8_t* p, uint64_t n, int to) {
    for (uint64_t off = 0; off < n; off += kPiece)
      MPI_Send(p + off, static_cast<int>(std::min<uint64_t>(kPiece, n - off)), MPI_BYTE, to, 7, MPI_COMM_WORLD);
  }
  void recv_all(uint8_t* p, uint64_t n, int from) {
    for (uint64_t off = 0; off < n; off += kPiece)
      MPI_Recv(p + off, static_cast<int>(std::min<uint64_t>(kPiece, n - off)), MPI_BYTE, from, 7, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
  }
  int rank_ = 0, size_ = 1;
};

MpiGroup* g_mpi = nullptr;

// A rank that dies (killed by a signal, out of memory) leaves the others nothing to say: the
// launcher ends them and mpirun exits with the dead rank's status, silently under --quiet. So
// each rank knows its node's other ranks by pid, and the lowest live rank of the node names
// the dead ones in one line and exits 2. When: Open MPI 4.1's launcher, having reaped the dead
// rank, sends the others SIGCONT, waits a second, then SIGTERM and SIGKILL about 2 ms apart
// (traced with strace on mpirun): on a loaded node a SIGTERM handler often never runs before
// the SIGKILL (4 runs in 10, and 2 in 30 in a longer series, under 3 busy processes on 2 cores
// printed nothing). So the decision is made at the SIGCONT, while every live rank is still
// alive (a rank that has already printed and exited must not read as dead to a slower one). A
// SIGCONT that finds every local peer alive (job control, or a rank on another node died)
// decides nothing, but a SIGTERM within seconds of it trusts that scan instead of making a new
// one (by then a faster local rank may have exited). One decision per process, claimed
// atomically (the two signals may reach two threads at once). Ranks on other nodes cannot be
// checked from here: rank 0 then says that a rank elsewhere ended (or the job was cancelled).
// All async-signal-safe.
struct LocalPeer {
  int rank = 0;
  pid_t pid = 0;
};
constexpr int kMaxLocalPeers = 512;
LocalPeer g_local[kMaxLocalPeers];
int g_local_count = 0;
int g_rank = 0;
struct sigaction g_previous {};  // the program's own (the command line removes a half-written report)
struct sigaction g_previous_cont {};
volatile sig_atomic_t g_watching = 0;
int g_decided = 0;  // claimed once (atomically): this rank has named (or left to another) the dead
// When a SIGCONT last found every local peer alive (CLOCK_MONOTONIC seconds; 0: never).
volatile double g_all_alive_at = 0;
constexpr double kTrustAliveScan = 5;  // seconds a SIGTERM trusts that scan

size_t put(char* p, const char* s) {
  size_t n = 0;
  while (s[n]) p[n] = s[n], ++n;
  return n;
}
size_t put_int(char* p, long v) {
  char d[24];
  size_t n = 0;
  do d[n++] = static_cast<char>('0' + v % 10), v /= 10; while (v > 0);
  for (size_t i = 0; i < n; ++i) p[i] = d[n - 1 - i];
  return n;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// Names the node's dead ranks if this is the lowest live one; at SIGTERM with none dead here,
// rank 0 says the launcher stopped the group. Returns whether any local peer is dead.
double monotonic_seconds() {
  struct timespec t {};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

bool name_dead_peers(bool terminating) {
  char line[1024];
  size_t n = put(line, "tensordiff: ");
  int dead = 0, lowest_live = g_rank;
  // A SIGCONT just before found every local peer alive: a peer gone since has exited on its
  // own SIGTERM, it did not die first.
  const bool trust_scan = terminating && g_all_alive_at > 0 && monotonic_seconds() - g_all_alive_at < kTrustAliveScan;
  for (int i = 0; i < g_local_count && !trust_scan; ++i) {
    const bool up = alive(g_local[i].pid);
    if (up && g_local[i].rank < lowest_live) lowest_live = g_local[i].rank;
    // Room for one more entry (34 characters at most) and the closing text (about 110).
    if (up || n > sizeof line - 160) continue;
    n += put(line + n, dead++ ? ", rank " : "rank ");
    n += put_int(line + n, g_local[i].rank);
    n += put(line + n, " (pid ");
    n += put_int(line + n, g_local[i].pid);
    n += put(line + n, ")");
  }
  if (dead == 0 && !terminating) {
    g_all_alive_at = monotonic_seconds();
    return false;
  }
  if (__atomic_exchange_n(&g_decided, 1, __ATOMIC_SEQ_CST)) return dead > 0;  // another thread decided
  if (dead > 0 && lowest_live == g_rank) {
    n += put(line + n, " ended without finishing (killed by a signal, or out of memory): the group stopped, no report written\n");
    (void)!::write(2, line, n);
  } else if (dead == 0 && g_rank == 0) {
    n += put(line + n, "stopped by the launcher (SIGTERM): a rank on another node ended, or the job was cancelled; no report written\n");
    (void)!::write(2, line, n);
  }
  return dead > 0;
}

void on_continue(int) {
  const int saved = errno;
  if (g_watching && !__atomic_load_n(&g_decided, __ATOMIC_SEQ_CST)) name_dead_peers(false);
  errno = saved;
}

void on_terminate(int) {
  if (!__atomic_load_n(&g_decided, __ATOMIC_SEQ_CST)) name_dead_peers(true);
  // The program's handler cleans up (a report's temporary file) and re-raises; exit 2 instead,
  // the status of a run that could not finish (mpirun reports the dead rank's own, though).
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) g_previous.sa_handler(SIGTERM);
  ::_exit(2);
}

// Every rank's pid and node; the node's other ranks kept for on_terminate.
void know_local_peers(int rank, int size) {
  struct Id {
    int64_t pid;
    char host[64];
  } mine{};
  mine.pid = ::getpid();
  ::gethostname(mine.host, sizeof mine.host - 1);
  std::vector<Id> all(size);
  MPI_Allgather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, MPI_COMM_WORLD);
  g_rank = rank;
  for (int r = 0; r < size && g_local_count < kMaxLocalPeers; ++r)
    if (r != rank && std::strncmp(all[r].host, mine.host, sizeof mine.host) == 0)
      g_local[g_local_count++] = {r, static_cast<pid_t>(all[r].pid)};
  // Each handler blocks the other: one decision, one line.
  struct sigaction sa{};
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGCONT);
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = on_continue;
  ::sigaction(SIGCONT, &sa, &g_previous_cont);
  sa.sa_flags = 0;
  sa.sa_handler = on_terminate;
  ::sigaction(SIGTERM, &sa, &g_previous);
  g_watching = 1;
}

// Started by a launcher: Open MPI, MPICH/Hydra, Slurm's PMI2/PMIx.
bool under_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace

Group* start_mpi_group(int* argc, char*** argv) {
  if (!under_launcher()) return nullptr;
  int provided = 0;
  // Only the main thread calls MPI (the workers compute, the main thread exchanges).
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  g_mpi = new MpiGroup();
  if (g_mpi->size() > 1) know_local_peers(g_mpi->rank(), g_mpi->size());
  return g_mpi;
}

void end_dead_rank_watch() {
  // Every rank has its final status: from here a rank may exit (mpirun then ends the others
  // with SIGTERM when the status is not 0), and a peer gone is no longer news.
  g_watching = 0;
  ::sigaction(SIGTERM, &g_previous, nullptr);
  ::sigaction(SIGCONT, &g_previous_cont, nullptr);
}

void finish_mpi_group() {
  if (!g_mpi) return;
  MPI_Finalize();
  delete g_mpi;
  g_mpi = nullptr;
}

}  // namespace tensordiff

#else

namespace tensordiff {
Group* start_mpi_group(int*, char***) { return nullptr; }
void end_dead_rank_watch() {}
void finish_mpi_group() {}
}  // namespace tensordiff

#endif
