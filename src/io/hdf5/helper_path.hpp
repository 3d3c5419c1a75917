// Where the HDF5 helper executable is (hdf5_helper.hpp): the engine starts it with
// posix_spawn, so that the helper is a fresh process (no locks inherited from the engine's
// threads, no copy of a large training process) rather than a fork of the engine.
#pragma once
#include <optional>
#include <string>

namespace tensordiff {

// The helper's file name, installed beside the `tensordiff` executable and beside the Python
// module, or in ../libexec of the library.
constexpr const char* kHelperName = "tensordiff-hdf5-helper";

// $TENSORDIFF_HDF5_HELPER (a path, or "fork" for the fork fallback), else the first that
// exists of: beside the running executable, beside the shared object holding this code, its
// ../libexec, the install prefix's libexec, the build tree's. nullopt: none found, fork the
// engine instead. Cached.
std::optional<std::string> helper_executable();

}  // namespace tensordiff
