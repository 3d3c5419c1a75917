// The public API: compare two dumps, summarise one, render reports. Host C++ only.
#pragma once
#include <functional>
#include <memory>
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

// A run that checks itself (the Python Recorder's reference mode): tensors of run B, as they
// are produced, each compared with the reference dump's tensor of the same name (after
// --map), with compare()'s verdicts and diagnosis. The reference is opened once.
class ReferenceSession {
 public:
  // Throws Error for a reference that cannot be read (or is a summary: it has no data).
  ReferenceSession(const std::string& reference, const CompareOptions& options);
  ~ReferenceSession();
  ReferenceSession(const ReferenceSession&) = delete;
  ReferenceSession& operator=(const ReferenceSession&) = delete;
  // `b`'s row, as compare() would report it: status only_in_b when the reference has no
  // tensor of that name, error when reading the reference's fails. Thread-safe (serialised).
  // Throws Error(kUsage) when nothing has matched yet and the reference holds the same name
  // under another prefix with no number in it ("net." for ""): the runs were named unlike.
  PairReport check(const ArrayView& b);
  // Every row so far, in the order they were checked, diagnosed (growth, first divergence,
  // first jump) as compare()'s report is. Throws Error(kUsage) when nothing was compared.
  Report report() const;
  // Tensors checked so far (selected or not), and how many of them the reference holds.
  uint64_t checked() const;
  uint64_t matched() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// MPI (a build with TENSORDIFF_MPI, started by mpirun/srun): the process joins its group and
// compare()/stats() split the work by bytes across the ranks; rank 0's report is the single
// process's, bit for bit. Call start_process_group first in main (false: running alone) and
// finish_process_group last. group_exit_status: rank 0's status, on every rank.
bool start_process_group(int* argc, char*** argv);
void finish_process_group();
int process_rank();
int process_count();
int group_exit_status(int mine);

// What this build and machine run: the version, the CPU SIMD target that `simd` selects
// (EngineOptions::simd rules: empty means $TENSORDIFF_SIMD, else the best) among those this
// CPU runs, and whether the CUDA backend is compiled in. For --version and bug reports.
// Throws Error(kUsage) for a target this CPU cannot run.
std::string build_info(const std::string& simd = "");

// The diagnosis' peer key of a record (docs/design.md §4): its name with every all-digit path
// component as '#', and the class its source names ("file:line (LayerNorm)"); empty for a
// name without a layer number. Module replay ranks own errors among peers by it too.
std::string peer_key(const std::string& name, const std::string& source);

// The checksum of docs/design.md §4 of `bytes` bytes in memory (the `checksum` field of a
// tensor holding them; as an integer, the reports write 16 hex digits).
uint64_t checksum_bytes(const void* data, size_t bytes);

std::string to_json(const Report& report);       // docs/design.md §8
std::string to_json(const StatsReport& report);
// The same JSON, produced a tensor at a time into `sink` (reports of 10^5 tensors never exist
// as one document in memory).
using TextSink = std::function<void(const std::string&)>;
void write_json(const Report& report, const TextSink& sink);
void write_json(const StatsReport& report, const TextSink& sink);
// One row per pair (per tensor for stats) of scalar fields; csv_columns() is the pair header's
// first columns (then a_*, b_* per side: count, nonzero, nan, pos_inf, neg_inf, min, max,
// mean, std, l2, checksum).
const char* csv_columns();
void write_csv(const Report& report, const TextSink& sink);
void write_csv(const StatsReport& report, const TextSink& sink);
// A self-contained page: summary, plot of rel L2 and growth, the table, per-pair histograms.
void write_html(const Report& report, const TextSink& sink);

struct TableStyle {
  bool color = false;
  size_t name_width = 40;  // longer names are shortened, keeping their numbers and last parts
  size_t width = 0;        // the terminal's columns: columns drop to fit (0: unlimited)
  bool only_diff = false;  // rows that are not matches (the first divergence and jump always)
  size_t top = 0;          // the N pairs of largest rel L2 (or growth), largest first (0: all)
  bool top_by_growth = false;
  size_t collapse = 0;     // runs of more matching rows than this become one line (0: never)
};
std::string format_table(const Report& report, const TableStyle& style);
// The lines under the table: counts, first divergence, first jump, suggested maps, speed.
std::string format_summary(const Report& report, const TableStyle& style);
std::string format_stats_table(const StatsReport& report, const TableStyle& style);
// One pair for a person (`tensordiff show`): sides, every metric, worst elements, histograms.
// From a report whose details were streamed (EngineOptions::details_dir), pass
// report.detailed(i, scratch), not report.tensors[i], which holds the scalars only.
std::string format_detail(const PairReport& pair);

// Where a report goes. "-" is stdout. An existing path that is not a regular file (a device, a
// FIFO, /dev/stdout) is written to directly and never replaced. Otherwise the report appears at
// `path` only when commit() succeeds: it is written to a temporary file in the same directory,
// created at commit, and renamed over `path`. The constructor checks up front that the
// directory is writable and that `path` is none of `inputs`, so a bad --json fails before any
// work and never touches an existing file.
class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path, const std::vector<std::string>& inputs = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void commit(const std::string& contents);
  // The report produced piece by piece into the temporary file (or the target itself when it
  // is written directly), then renamed into place.
  void commit_stream(const std::function<void(const TextSink&)>& produce);

 private:
  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
};

// The temporary file a commit is writing right now ("" when none), for a SIGINT/SIGTERM handler
// to remove: a static buffer, safe to read from a signal handler.
const char* pending_report_temp();

}  // namespace tensordiff
