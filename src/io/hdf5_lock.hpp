#pragma once
#include <mutex>

namespace tensordiff {
// Every HDF5 call goes through this lock: Debian's serial libhdf5 is not thread-safe, and the
// thread-safe build serialises all calls behind one global lock anyway (DESIGN.md §6).
std::mutex& hdf5_mutex();
}  // namespace tensordiff
