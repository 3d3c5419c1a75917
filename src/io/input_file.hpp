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

// A whole small file (a JSON listing: msprobe's dump.json and stack.json, a summary), through
// open_input_file: at most `max_bytes` (else Error(kCorrupt) naming it and the limit), and never
// more than the size the file had when opened (a file that grows is not followed).
std::string read_input_text(const std::string& path, uint64_t max_bytes);

// A file that a source opens inside a dump folder (msprobe's dump.json, stack.json and tensor
// files) must lie inside that folder once links are resolved: a link that leads out of it
// (to another user's file, to /dev/zero) is refused with Error(kIo) naming the link, where it
// leads and the folder. A path that does not exist (or a link to nothing) passes: the reader
// reports it missing. docs/design.md §7.
void check_inside_folder(const std::string& folder, const std::string& path);

}  // namespace tensordiff
