// Every dump format tensordiff reads, told apart by content (magic bytes, not the extension),
// and the sources that read them. Any two may be compared with each other.
#pragma once
#include <memory>
#include <string>

#include <vector>

#include "io/raw_source.hpp"
#include "io/source.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

enum class Format {
  kHdf5,
  kSummary,           // `tensordiff stats --json`, or the recorder's summary JSON lines
  kSafetensors,
  kSafetensorsIndex,  // a sharded checkpoint's *.safetensors.index.json (or a folder with one)
  kNpy,
  kNpz,
  kTorch,             // torch.save's zip format (torch >= 1.6)
  kTorchLegacy,       // torch.save's older pickle format: refused with a clear message
  kMsprobe,           // an msprobe dump folder (dump.json and its tensor files), or its dump.json
  kMsprobeConfig,     // msprobe's config.json (its settings: task, dump_path, level): no dump
  kFolder,            // a folder of dumps (per-rank files): "RELATIVE/PATH:tensor"
};

const char* format_name(Format f);

// Throws Error naming the path when it is missing or is none of the formats (the message
// lists those that are read), and when it is a folder inside an msprobe dump (its
// dump_tensor_data/): the message names the dump folder to give instead.
Format detect_format(const std::string& path);

// The dump at `path`, whatever its format (summaries excepted: engine/summary_compare.hpp).
std::unique_ptr<Source> open_source(const std::string& path, const EngineOptions& o);

std::unique_ptr<Source> open_safetensors(const std::string& path);  // a file, an index, a folder
std::unique_ptr<Source> open_npy(const std::string& path);
std::unique_ptr<Source> open_npz(const std::string& path);
std::unique_ptr<Source> open_torch(const std::string& path);
std::unique_ptr<Source> open_msprobe(const std::string& path);      // the folder or its dump.json
std::unique_ptr<Source> open_folder(const std::string& path, const EngineOptions& o);
// A folder of dumps' parts, relative paths in natural order: files, and msprobe dump folders
// (those holding dump.json); links are not followed.
std::vector<std::string> folder_parts(const std::string& root);
// The training step a part's relative path names: its last component "step<N>" or
// "step<N>.<ext>" (step0/rank0, rank0/step3.h5); -1 when none does. Parts order by it first.
int64_t step_of(const std::string& rel);

// Building blocks. The tensors of a torch.save file (file index `file` of a raw source); a
// lone tensor is named `root_name`. Notes say what was skipped.
std::vector<RawTensor> torch_tensors(const std::string& path, size_t file, const std::string& root_name,
                                     std::vector<std::string>& notes);

}  // namespace tensordiff
