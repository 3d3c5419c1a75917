// A restricted unpickler for PyTorch checkpoints (torch.save's data.pkl): it understands only
// what state dicts of tensors are made of and runs nothing. Containers (dict, OrderedDict,
// list, tuple), numbers, strings, and tensors rebuilt from storages; any other global
// (os.system, numpy scalars, custom classes) is refused with its name.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensordiff/dtype.hpp"

namespace tensordiff {

struct PyValue;
// Values live in the Pickle's arena: a hostile pickle can make containers that hold
// themselves, which owning pointers would leak.
using PyRef = PyValue*;

struct TorchStorage {
  std::string key;           // its file in the archive: data/<key>
  std::string type;          // "FloatStorage", ...
  std::optional<DType> dtype;
  uint64_t numel = 0;
};

struct TorchTensor {
  std::shared_ptr<TorchStorage> storage;
  uint64_t offset = 0;  // elements
  std::vector<uint64_t> shape, strides;
};

struct PyValue {
  enum Kind { kNone, kBool, kInt, kFloat, kStr, kBytes, kTuple, kList, kDict, kGlobal, kStorage, kTensor } kind = kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;               // str, bytes; a global's "module.name"
  std::vector<PyRef> items;    // tuple, list
  std::vector<std::pair<PyRef, PyRef>> dict;  // in insertion order
  std::shared_ptr<TorchStorage> storage;
  std::shared_ptr<TorchTensor> tensor;
};

struct Pickle {
  std::vector<std::unique_ptr<PyValue>> arena;
  PyRef root = nullptr;
};

// Runs the pickle in `data`. Throws Error(kCorrupt) naming `what` for a malformed pickle and
// Error(kUnsupported) for a global or opcode outside what state dicts use.
Pickle unpickle_state_dict(const std::vector<uint8_t>& data, const std::string& what);

}  // namespace tensordiff
