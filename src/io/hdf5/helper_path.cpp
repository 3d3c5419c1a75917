#include "io/hdf5/helper_path.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

namespace tensordiff {

namespace {

bool executable(const std::string& p) { return !p.empty() && ::access(p.c_str(), X_OK) == 0; }

std::string dir_of(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

std::optional<std::string> find() {
  if (const char* env = std::getenv("TENSORDIFF_HDF5_HELPER"); env && *env) {
    if (std::string(env) == "fork") return std::nullopt;
    return std::string(env);  // spawning it fails with a clear error if it is wrong
  }
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    const std::string p = dir_of(std::string(buf, n)) + "/" + kHelperName;
    if (executable(p)) return p;
  }
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&helper_executable), &info) && info.dli_fname) {
    const std::string dir = dir_of(info.dli_fname);
    for (const std::string& p : {dir + "/" + kHelperName, dir + "/../libexec/" + kHelperName})
      if (executable(p)) return p;
  }
#ifdef TENSORDIFF_HELPER_INSTALL_PATH
  if (executable(TENSORDIFF_HELPER_INSTALL_PATH)) return std::string(TENSORDIFF_HELPER_INSTALL_PATH);
#endif
#ifdef TENSORDIFF_HELPER_BUILD_PATH
  if (executable(TENSORDIFF_HELPER_BUILD_PATH)) return std::string(TENSORDIFF_HELPER_BUILD_PATH);
#endif
  return std::nullopt;
}

}  // namespace

std::optional<std::string> helper_executable() {
  static std::once_flag once;
  static std::optional<std::string> path;
  std::call_once(once, [] { path = find(); });
  return path;
}

}  // namespace tensordiff
