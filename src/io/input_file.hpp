// Opening an input for reading: read-only, and only a regular file. A FIFO would block the
// open (and then the whole run) until a writer appears, and a device has no length to check
// sizes against: both are refused with one clear line.
#pragma once
#include <cstdint>
#include <string>

namespace tensordiff {

struct InputFile {
  int fd = -1;
  uint64_t size = 0;
};

// Throws Error(kIo) naming the path: missing, unreadable, a directory, not a regular file.
InputFile open_input_file(const std::string& path);

// The same checks without keeping the file open.
void check_input_file(const std::string& path);

}  // namespace tensordiff
