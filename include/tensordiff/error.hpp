// One error type with a stable code (the simdjson rule): the library never prints and never
// exits; the CLI turns an Error into one stderr line and exit code 2.
#pragma once
#include <stdexcept>
#include <string>

namespace tensordiff {

enum class ErrorCode {
  kUsage = 1,        // bad option or argument
  kIo = 2,           // missing/unreadable file, failed write
  kNotHdf5 = 3,      // the file is not an HDF5 file
  kCorrupt = 4,      // truncated or corrupt file, unreadable dataset
  kUnsupported = 5,  // a datatype or layout we do not decode
  kOutOfMemory = 6,
  kNoBackend = 7,    // the requested backend (e.g. CUDA) is not available
  kInternal = 8,
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace tensordiff
