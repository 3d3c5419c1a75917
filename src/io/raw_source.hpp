// Tensors stored as raw elements at known places in one or more files (safetensors, .npy,
// stored .npz members, PyTorch storages, msprobe's tensor files): a Source that reads them
// with pread where they are contiguous, gathers strided views (PyTorch, Fortran-order .npy)
// from a read-only mapping, and streams deflated members (.npz) in order.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/source.hpp"

namespace tensordiff {

// A deflated member read front to back (io/torch/zip_archive.hpp): read(dst, n) gives the next
// n bytes.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual void read(uint8_t* dst, uint64_t n) = 0;  // throws Error(kCorrupt) naming the member
};

struct RawTensor {
  TensorInfo info;              // name, shape, count, dtype, big_endian, type_name, storage, source
  size_t file = 0;              // index into the source's files
  uint64_t offset = 0;          // bytes: where element [0, ..., 0] of the tensor is
  // Element strides of a view (PyTorch), or empty for C order. May be those of Fortran order.
  std::vector<uint64_t> strides;
  std::string error;            // non-empty: every read fails with this (a corrupt listing)
  // The file holds float32 copies of a narrower dtype (info.dtype: bfloat16 or a float8), as
  // msprobe saves MindSpore's: read back to the narrow bits, exactly (a value the narrow
  // dtype cannot hold is a read error).
  bool widened_f32 = false;
  // A deflated member, opened when first read (bytes of the tensor only, C order).
  std::function<std::unique_ptr<ByteStream>()> open_stream;
};

// `label` names the dump in messages (a file or a directory). Tensors are in execution order
// (their info.order is set here). Sizes are checked against the files: a tensor that does not
// fit gets its error.
std::unique_ptr<Source> raw_source(const std::string& label, const std::vector<std::string>& files,
                                   std::vector<RawTensor> tensors, std::vector<std::string> notes = {});

// Element strides of C order for `shape`.
std::vector<uint64_t> c_strides(const std::vector<uint64_t>& shape);

// Shape's element count; throws Error(kCorrupt, `what` ...) above 2^60 elements.
uint64_t checked_count(const std::vector<uint64_t>& shape, const std::string& what);

}  // namespace tensordiff
