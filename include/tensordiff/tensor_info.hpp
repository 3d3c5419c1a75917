#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/compact.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff {

// One dataset of a dump, as listed by a source (before any data is read).
struct TensorInfo {
  SharedString name;             // full path without the leading '/', e.g. "encoder/layers.2/act"
  Shape shape;                   // empty for a scalar (compact.hpp: shared by equal shapes)
  uint64_t count = 0;            // number of elements (1 for a scalar, 0 for a zero-size dataset)
  DType dtype = DType::kF32;     // meaningful only when unsupported is empty
  bool big_endian = false;       // stored byte order
  InternedString type_name;      // dtype_name(dtype), or a description of an unsupported type
  InternedString storage;        // "contiguous", "compact", "chunked", "chunked+deflate+shuffle"
  InternedString unsupported;    // non-empty: why this tensor cannot be compared
  uint64_t order = 0;            // rank in the dump's execution order (0 = first)
  InternedString source;         // the `source` attribute (file:line that produced it), if any
  // A recorded non-tensor value (a scalar argument, a module setting): its type and value as
  // text, "float 0.001", "str \"tanh\"", "torch.Size [2, 3]"; such a record has no data
  // (count 0) and is compared as a value (docs/design.md §4 Values).
  HeapOptional<std::string> value;
};

// Multi-index of a flat (row-major) element index.
std::vector<uint64_t> unravel_index(uint64_t flat, const std::vector<uint64_t>& shape);

}  // namespace tensordiff
