// Streams jobs (one tensor, or one tensor pair) through a bounded pipeline of chunk reads and
// backend reductions, merging partials in chunk order.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/backend.hpp"
#include "core/partial.hpp"
#include "io/source.hpp"

namespace tensordiff {

struct Job {
  Source* a = nullptr;
  size_t ia = 0;
  Source* b = nullptr;  // null: a single-side job (stats)
  size_t ib = 0;
  uint64_t count = 0;   // elements per side
  PairParams params;    // type_a/type_b also name the single side's dtype

  // Both sides (or the single side) never written: one element each, computed without reads.
  const std::optional<std::vector<uint8_t>>& uniform_a() const { return rare ? rare->uniform_a : kNoValue; }
  const std::optional<std::vector<uint8_t>>& uniform_b() const { return rare ? rare->uniform_b : kNoValue; }
  // Either side's Source::read_error: the job fails with it and reads nothing.
  const std::optional<std::string>& error() const { return rare ? rare->error : kNoError; }
  // Sets the three (held only when one is set: 10^5 jobs of tiny tensors carried 10 MB of
  // empty optionals through the reads).
  void set_rare(std::optional<std::vector<uint8_t>> ua, std::optional<std::vector<uint8_t>> ub,
                std::optional<std::string> err) {
    if (!ua && !ub && !err) return rare.reset();
    rare = std::make_shared<Rare>(Rare{std::move(ua), std::move(ub), std::move(err)});
  }

 private:
  struct Rare {
    std::optional<std::vector<uint8_t>> uniform_a, uniform_b;
    std::optional<std::string> error;
  };
  static inline const std::optional<std::vector<uint8_t>> kNoValue{};
  static inline const std::optional<std::string> kNoError{};
  std::shared_ptr<const Rare> rare;
};

// The bytes a job reads for n elements per side (both sides, or the single one).
inline uint64_t side_bytes(const Job& j, uint64_t n) {
  return n * (dtype_size(j.params.type_a) + (j.b ? dtype_size(j.params.type_b) : 0));
}

// The read error of a job over tensor ia of a (and ib of b, when b is set), if known up front.
std::optional<std::string> known_read_error(const Source& a, size_t ia, const Source* b, size_t ib);

// More workers than this only cost memory (each holds two chunk buffers) and thread limits.
constexpr unsigned kMaxThreads = 1024;

struct RunPlan {
  unsigned threads = 1;
  uint64_t chunk_bytes = 0;   // per side and worker, after the memory budget
  std::function<void(uint64_t done, uint64_t total, const std::string& tensor)> progress;  // EngineOptions'
  LogFn log;                  // --verbose: an MPI rank's range, times and bytes
};

// Threads and chunk bytes from the options: chunk_bytes shrinks (to a power of two) until
// the readers' buffers (2 sides × threads) fit in memory_bytes.
// `backend` chooses the chunk size when the options leave it 0.
RunPlan plan_run(const EngineOptions& o, const ComputeBackend& backend);

// Elements per chunk for a job: a power-of-two multiple of kBlockElems (docs/design.md §4).
uint64_t chunk_elements(uint64_t chunk_bytes, size_t elem_size);

// Called once per job in job order with the merged partial, or with `error` set (the partial
// then means nothing) when a read of the job failed; returning false stops further jobs.
using DoneFn = std::function<bool(size_t job, Partial& merged, const std::string* error)>;

// Runs the jobs with bounded memory whatever their sizes (chunks are planned on the fly), alone
// or as this rank's share of an MPI group: the steps are in runner.cpp's comment.
void run_pipeline(const std::vector<Job>& jobs, const RunPlan& plan, ComputeBackend& backend,
              const DoneFn& on_done);

// glibc keeps the pages of freed memory in its arenas until asked to give them back: asked
// between a run's phases and batches, where it pays (each call takes a few ms); elsewhere,
// nothing to do.
void release_free_memory();

// Jobs 0..count-1, each made by make(j) only when its batch comes (10^6 tiny tensors' jobs held
// 100 MB through the reads, issue 26): run_pipeline a batch of kJobBatch jobs at a time, with
// progress counted over them all, and the pages a batch's reads freed given back before the
// next (the workers' partials and buffers, interleaved with the reports' new reasons, held
// ~100 MB at 10^6 pairs); on_done gets a job's number and the job. In an MPI group
// every rank runs the same batches, and rank 0 tells them whether a next one is wanted.
constexpr size_t kJobBatch = size_t(1) << 16;
using MadeDoneFn = std::function<bool(size_t job, const Job& made, Partial& merged, const std::string* error)>;
void run_jobs(size_t count, const std::function<Job(size_t)>& make, const RunPlan& plan, ComputeBackend& backend,
              const MadeDoneFn& on_done, size_t batch = kJobBatch);

}  // namespace tensordiff
