// Summary dumps: per-tensor summaries without the data, as written by `tensordiff stats --json`
// (one JSON document) or by the Python recorder's summary mode (JSON lines: a header, then one
// tensor per line). `tensordiff A B` compares them like dumps.
#pragma once
#include <string>
#include <vector>

#include "tensordiff/metrics.hpp"
#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

struct SummaryDump {
  std::vector<TensorInfo> tensors;  // execution order (TensorInfo::order == position)
  std::vector<SideStats> stats;     // parallel to tensors
};

// Whether the file is a JSON summary (its first non-blank byte is '{') rather than HDF5.
bool is_summary_file(const std::string& path);

// Throws Error(kIo, kCorrupt) naming the file (and line) on bad input.
SummaryDump load_summary(const std::string& path);

// The same from text already in memory; `path` only names it in errors (and the fuzz target).
SummaryDump parse_summary(const std::string& text, const std::string& path);

}  // namespace tensordiff
