#pragma once
#include <hdf5.h>

#include <optional>
#include <string>

#include "tensordiff/dtype.hpp"

namespace tensordiff {

struct ClassifiedType {
  std::optional<DType> dtype;  // empty: unsupported, see `description`
  bool big_endian = false;
  std::string description;     // dtype name, or what the unsupported type is
};

// Maps an HDF5 file datatype (plus the dataset's `dtype` string attribute, if any) to one of
// our dtypes: IEEE floats, h5py float16, the three bfloat16 spellings, float8, ints, h5py bool.
// Caller holds the HDF5 lock.
ClassifiedType classify_hdf5_type(hid_t type, const std::optional<std::string>& dtype_attr);

}  // namespace tensordiff
