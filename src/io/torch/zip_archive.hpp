// Zip archives (.npz, PyTorch's .pt) through Debian's minizip: the members, where a stored
// member's bytes are in the file (so the engine reads them with pread), and a front-to-back
// reader for deflated members.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/raw_source.hpp"

namespace tensordiff {

struct ZipMember {
  std::string name;
  int method = 0;              // 0 stored, 8 deflated
  uint64_t size = 0;           // uncompressed
  uint64_t compressed = 0;
  uint64_t data_offset = 0;    // where its (compressed) bytes start in the archive
  uint64_t pos_in_dir = 0, num_of_file = 0;  // minizip's position, to find it again in O(1)
  std::vector<uint8_t> head;   // its first bytes, uncompressed (up to `head_bytes` of list_zip)
};

bool is_zip(const uint8_t* p, size_t n);

// Every member, with the first `head_bytes` of each (inflated if need be). Throws
// Error(kCorrupt) naming `path`: not a zip, a corrupt directory, an encrypted member.
std::vector<ZipMember> list_zip(const std::string& path, size_t head_bytes);

// Member `m`'s uncompressed bytes from offset `skip` on, front to back.
std::unique_ptr<ByteStream> open_zip_member(const std::string& path, const ZipMember& m, uint64_t skip);

}  // namespace tensordiff
