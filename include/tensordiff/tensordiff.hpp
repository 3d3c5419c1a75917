// The public API: compare two dumps, summarise one, render reports. Host C++ only.
#pragma once
#include <string>

#include "tensordiff/error.hpp"
#include "tensordiff/options.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

// Compares dump `a` (reference) with dump `b` (candidate). Throws Error for bad input.
Report compare(const std::string& a, const std::string& b, const CompareOptions& options);

// One dump's per-tensor summary. `names` filters like compare's positional tensors.
StatsReport stats(const std::string& path, const EngineOptions& options,
                  const std::vector<std::string>& names = {});

// A tensor in the caller's memory: `data` holds the elements of `shape` in C order and
// little-endian byte order (bfloat16 and float8 as their raw bits) and stays valid during the
// call. The engine reads it in bounded chunks: no copy of the whole tensor is made.
struct ArrayView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;  // empty: a scalar
  const void* data = nullptr;
  std::string source;           // file:line that produced it, if known
};

// compare() and stats() for tensors in memory: the same engine, matching and report.
Report compare_arrays(const std::vector<ArrayView>& a, const std::vector<ArrayView>& b,
                      const CompareOptions& options);
StatsReport stats_arrays(const std::vector<ArrayView>& arrays, const EngineOptions& options);

// What this build and machine run: the version, the CPU SIMD target that `simd` selects
// (EngineOptions::simd rules: empty means $TENSORDIFF_SIMD, else the best) among those this
// CPU runs, and whether the CUDA backend is compiled in. For --version and bug reports.
// Throws Error(kUsage) for a target this CPU cannot run.
std::string build_info(const std::string& simd = "");

std::string to_json(const Report& report);       // DESIGN.md §8
std::string to_json(const StatsReport& report);

struct TableStyle {
  bool color = false;
  size_t name_width = 40;  // longer names are shortened in the middle
};
std::string format_table(const Report& report, const TableStyle& style);
std::string format_stats_table(const StatsReport& report, const TableStyle& style);
// One pair for a person (`tensordiff show`): sides, every metric, worst elements, histograms.
std::string format_detail(const PairReport& pair);

// A file that appears at `path` only when commit() succeeds: the data goes to a temporary file
// in the same directory, renamed over `path` at commit. Creating it checks writability up front,
// so a bad --json path fails before any work and never touches an existing file.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void commit(const std::string& contents);

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

}  // namespace tensordiff
