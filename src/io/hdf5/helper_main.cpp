// tensordiff-hdf5-helper: the process in which libhdf5 reads a file for the engine
// (io/hdf5/hdf5_helper.hpp). Started by the engine only:
//   tensordiff-hdf5-helper FD ENGINE_PID LIST VERBOSE FOLLOW_LINKS HDF5_ONLY PATH
// FD is its end of the engine's socket; it dies with the engine (PR_SET_PDEATHSIG).
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/hdf5/hdf5_helper_child.hpp"

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "tensordiff-hdf5-helper: started by tensordiff only\n");
    return 2;
  }
  const int fd = std::atoi(argv[1]);
  const pid_t engine = static_cast<pid_t>(std::atol(argv[2]));
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != engine) return 0;  // the engine died before prctl
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGINT, SIG_IGN);  // the engine decides what an interrupt means
  tensordiff::HelperOptions o;
  o.verbose = argv[4][0] == '1';
  o.follow_links = argv[5][0] == '1';
  o.hdf5_only = argv[6][0] == '1';
  try {
    tensordiff::run_hdf5_helper(fd, argv[7], o, argv[3][0] == '1');
  } catch (...) {
  }
  ::_exit(0);
}
