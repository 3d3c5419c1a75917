// One error type with a stable code (the simdjson rule): the library never prints and never
// exits; the CLI turns an Error into one stderr line and exit code 2.
#pragma once
#include <stdexcept>
#include <string>

namespace tensordiff {

enum class ErrorCode {
  kUsage = 1,        // bad option or argument
  kIo = 2,           // missing/unreadable file, failed write
  kNotHdf5 = 3,      // the file is none of the formats read
  kCorrupt = 4,      // truncated or corrupt file, unreadable dataset
  kUnsupported = 5,  // a datatype or layout we do not decode
  kOutOfMemory = 6,
  kNoBackend = 7,    // the requested backend (e.g. CUDA) is not available
  kInternal = 8,
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  // Messages quote names and text from input files; control characters in them are escaped
  // (\n, \x1b, ...) so that an error is always one line and never a terminal escape.
  Error(ErrorCode code, const std::string& message) : std::runtime_error(one_line(message)), code_(code) {}
  ErrorCode code() const { return code_; }

  static std::string one_line(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u != 0x7f) {
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        static const char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
    }
    return out;
  }

 private:
  ErrorCode code_;
};

}  // namespace tensordiff
