// The .npy header (NumPy's format, versions 1-3): a magic string, a length, and a Python dict
// literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. Used by .npy files,
// .npz members and msprobe's MindSpore dumps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/raw_source.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff {

struct NpyHeader {
  DType dtype = DType::kF32;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  uint64_t data_offset = 0;  // bytes from the start of the .npy to the first element
  std::string descr;
  std::string unsupported;   // non-empty: a dtype we do not read, and why
};

constexpr size_t kNpyPrefix = 12;            // magic, version, and a length of up to 4 bytes
constexpr uint64_t kNpyMaxHeader = 1 << 20;  // numpy writes a few hundred bytes

bool is_npy(const uint8_t* p, size_t n);

// The header's total length (data_offset) from the first kNpyPrefix bytes; throws
// Error(kCorrupt) naming `what`.
uint64_t npy_header_length(const uint8_t* p, size_t n, const std::string& what);

// Parses a whole header (`n` >= its data_offset). Throws Error(kCorrupt) naming `what`.
NpyHeader parse_npy_header(const uint8_t* p, size_t n, const std::string& what);

// The tensor of a .npy file (file index `file` of a raw source), named `name`.
RawTensor npy_tensor(const std::string& path, const std::string& name, size_t file);

}  // namespace tensordiff
