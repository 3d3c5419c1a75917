#include "engine/group.hpp"

#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

class Alone final : public Group {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::vector<std::vector<uint8_t>> gather(const std::vector<uint8_t>& mine) override { return {mine}; }
  std::vector<uint8_t> broadcast(const std::vector<uint8_t>& bytes) override { return bytes; }
  std::optional<std::string> agree(const std::optional<std::string>& mine, bool) override { return mine; }
};

Group* g_group = nullptr;

}  // namespace

Group& process_group() {
  static Alone alone;
  return g_group ? *g_group : alone;
}

bool start_process_group(int* argc, char*** argv) {
  g_group = start_mpi_group(argc, argv);
  return g_group != nullptr && g_group->size() > 1;
}

void finish_process_group() {
  if (g_group) finish_mpi_group();
  g_group = nullptr;
}

int process_rank() { return process_group().rank(); }
int process_count() { return process_group().size(); }

int group_exit_status(int mine) {
  Group& g = process_group();
  if (g.size() == 1) return mine;
  const std::vector<uint8_t> root = g.broadcast({static_cast<uint8_t>(mine)});
  end_dead_rank_watch();
  return root.empty() ? mine : root[0];
}

std::optional<std::string> group_agree(const std::optional<std::string>& mine) { return process_group().agree(mine); }

}  // namespace tensordiff
