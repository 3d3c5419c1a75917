#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tensordiff {

// kGpuEmu: the CUDA kernels' algorithm executed on the host in the device's order (tests).
enum class Backend { kAuto, kCpu, kCuda, kGpuEmu };

// The precision of a run (docs/design.md §4 Diagnosis): the least precise floating dtype among the
// compared tensors of either dump unless the user names it. tf32 computes with float16's
// 10-bit mantissa and stores float32; fp8 is float8_e4m3fn's precision.
enum class Precision { kAuto, kFp64, kFp32, kTf32, kFp16, kBf16, kFp8 };

// What decides a pair's verdict: every element close (torch.testing's rule), or the whole
// tensor's relative L2 error, or its cosine similarity, against thresholds of the precision.
enum class Criterion { kElementwise, kRelL2, kCosine };

// How tensors of A and B are paired: by name (after --map), or also, for the names left
// unmatched, by execution order where shape and dtype class agree unambiguously.
enum class Align { kName, kOrder };

// Receives lines meant for --verbose (the library never prints).
using LogFn = std::function<void(const std::string&)>;

struct Tolerance {
  double rtol = 0, atol = 0;
};

// --tol 'GLOB:rtol=X,atol=Y': the last rule whose glob matches a tensor's name wins; a field a
// rule leaves out keeps the value it had before that rule.
struct ToleranceRule {
  std::string glob;
  std::optional<double> rtol, atol;
};

// Knobs of the streaming engine shared by `compare` and `stats`.
// --device local: the node-local MPI rank (OMPI_COMM_WORLD_LOCAL_RANK, SLURM_LOCALID, ...)
// modulo the node's GPU count, so that ranks on a node take one GPU each.
constexpr int kDeviceLocal = -1;

struct ListingBook;  // io/listing_book.hpp: listings shared in an MPI group (set by the engine)

struct EngineOptions {
  unsigned threads = 0;                    // 0: all cores
  // Rounded down to a power of two elements. 2 MiB measured fastest on the 2-core dev machine
  // (bench/results/2026-11-25-readers-and-kernel.md): 2.2x faster than 64 MiB, whose buffers
  // fall out of cache between the read and the kernel.
  uint64_t chunk_bytes = 0;                // per side; 0: the backend's (2 MiB CPU, 32 MiB GPU)
  uint64_t memory_bytes = 1024ull << 20;   // budget for the reader buffers
  Backend backend = Backend::kAuto;
  int device = 0;                          // CUDA device index (--device), or kDeviceLocal
  // The CPU backend's SIMD target ("avx2", "sse4", ...; case-insensitive). Empty: the
  // environment's TENSORDIFF_SIMD, else the best target this CPU runs.
  std::string simd;
  int first_k = 5;                         // first_nonzero entries per side
  int worst_k = 5;                         // worst elements (largest |b - a|) per pair
  // false: every read through H5Dread under HDF5's lock (the slow reference path that the
  // parallel pread / raw-chunk readers are tested against; no CLI flag).
  bool direct_reads = true;
  bool follow_links = false;               // --follow-links: soft and external links listed
  // false: a pair's histograms, worst elements and first nonzeros (and a stats entry's) are
  // dropped once its verdict is made. The command line sets it where nothing shows them (-q
  // without --json or --html): with 10^5 tiny tensors they are a fifth of the memory.
  bool keep_details = true;
  // Non-empty (with keep_details): each pair's details are written to an unlinked temporary
  // file in this folder as the pair finishes, and read back one pair at a time by the writers
  // (Report::detailed), instead of held in the report until it is written: 10^6 tiny tensors
  // hold ~1.1 GB of them (issue 26). Where no file can be made there they are held as before.
  std::string details_dir;
  // In an MPI group the engine sets it: rank 0 records each HDF5 file's listing, the other
  // ranks open the files from it (one walk of the metadata for the group). Null: list alone.
  std::shared_ptr<ListingBook> listing_book;
  LogFn log;
  // Called from the merging thread as chunks complete (at most every few ms): bytes read so
  // far of `total` (both sides), and the tensor being merged. For a progress line.
  std::function<void(uint64_t done, uint64_t total, const std::string& tensor)> progress;
};

struct CompareOptions {
  EngineOptions engine;
  std::vector<std::string> tensors;    // positional names or globs; empty: all
  std::vector<std::string> include;    // globs on A's names
  std::vector<std::string> exclude;
  std::vector<std::pair<std::string, std::string>> maps;  // REGEX, REPL applied to B's names
  std::optional<double> rtol, atol;    // override the dtype defaults for every tensor
  std::vector<ToleranceRule> tol_rules;
  bool equal_nan = true;
  bool exact = false;                  // bitwise: same-dtype pairs must have identical bits
  std::optional<double> min_cosine, max_rel_l2;
  bool allow_reshape = false;          // compare equal-count tensors of different shapes
  bool stop_at_first = false;
  // --strict: a rule that matches nothing (--include, --exclude, --map, --tol) is an error,
  // not a warning.
  bool strict = false;
  Precision precision = Precision::kAuto;
  Criterion criterion = Criterion::kElementwise;
  Align align = Align::kName;
};

}  // namespace tensordiff
