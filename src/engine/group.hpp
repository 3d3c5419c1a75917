// The processes that share one run: the process alone, or an MPI group under mpirun/srun
// (engine/mpi_group.cpp, built with TENSORDIFF_MPI). Everything else is the same code: the
// runner splits the chunks by bytes across ranks and rank 0 merges their partials in the
// canonical order (docs/design.md §2), so the report is bit-identical whatever the rank count.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tensordiff {

class Group {
 public:
  virtual ~Group() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank's `mine`, at rank 0 in rank order; empty on the other ranks.
  virtual std::vector<std::vector<uint8_t>> gather(const std::vector<uint8_t>& mine) = 0;
  // Rank 0's `bytes` on every rank.
  virtual std::vector<uint8_t> broadcast(const std::vector<uint8_t>& bytes) = 0;
  // The first failing rank's error on every rank (nullopt when all are fine): the point where
  // an error on any rank ends every rank, with that one message, instead of a hang. A rank
  // other than 0 is named in it ("rank 2: ...") unless name_rank is false (an error about an
  // input, the same whichever rank met it).
  virtual std::optional<std::string> agree(const std::optional<std::string>& mine, bool name_rank = true) = 0;
};

// The group of this process: MPI's when start_process_group joined one, else alone.
Group& process_group();

// process_group().agree(mine).
std::optional<std::string> group_agree(const std::optional<std::string>& mine);

// The MPI group, or nullptr in a build without MPI or a process not started by mpirun.
// A rank killed mid-run is named by a live rank of its node when the launcher's SIGTERM comes
// (mpi_group.cpp); end_dead_rank_watch ends that once every rank has its final status.
Group* start_mpi_group(int* argc, char*** argv);
void end_dead_rank_watch();
void finish_mpi_group();

}  // namespace tensordiff
