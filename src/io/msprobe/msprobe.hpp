// msprobe dumps (msprobe_source.cpp): the tensors dump.json lists, in its order, with the
// statistics msprobe recorded; read as data (task "tensor") or as a summary (task "statistics").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "io/summary/summary_source.hpp"

namespace tensordiff {

struct MsprobeTensor {
  std::string name;    // ENTRY.CATEGORY.INDEX..., e.g. Functional.linear.0.forward.input.0
  std::string dtype;   // as dump.json says: "torch.bfloat16", "BFloat16"
  std::vector<uint64_t> shape;
  std::optional<std::string> data_name;  // its file in dump_tensor_data/
  std::optional<double> max, min, mean, norm;
  std::optional<std::string> crc32;      // summary_mode md5
  std::string source;  // the user's file:line, from stack.json
  // A non-tensor argument ({"type": "float", "value": 0.001}): "float 0.001" (TensorInfo::value).
  std::optional<std::string> value;
};

struct MsprobeDump {
  std::string dir;     // the folder holding dump.json
  std::string task, framework;
  std::vector<MsprobeTensor> tensors;
};

// `path`: the dump folder or its dump.json. Throws Error naming the file.
MsprobeDump read_msprobe(const std::string& path);
bool msprobe_has_data(const MsprobeDump& d);

// A statistics dump as a summary (min, max, mean and L2 of each tensor; no counts).
SummaryDump msprobe_summary(const std::string& path);

}  // namespace tensordiff
