// The exit statuses of docs/design.md §7, shared by the command line and the Python module (whose
// reports carry the status the same command would have exited with).
#pragma once
#include "tensordiff/report.hpp"

namespace tensordiff::cli {

// 3: nothing differs, but some pairs agree only as summaries (not proven equal).
constexpr int kExitMatch = 0, kExitDiffer = 1, kExitError = 2, kExitConsistent = 3;

int compare_exit_status(const Report& rep);
int stats_exit_status(const StatsReport& rep);
int show_exit_status(const PairReport& p);

}  // namespace tensordiff::cli
