// The helper process's entry (hdf5_helper.hpp): lists `path` (sending the listing when asked)
// and serves reads on `fd` until the engine closes it. Runs in the forked child only.
#pragma once
#include <string>

#include "io/hdf5/hdf5_helper.hpp"

namespace tensordiff {

void run_hdf5_helper(int fd, const std::string& path, const HelperOptions& options, bool send_listing);

}  // namespace tensordiff
