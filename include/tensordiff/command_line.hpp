// The command line's options as a library type: one parser, used by the `tensordiff` command
// and by the Python module (whose keywords are these options' names), and the exit statuses of
// docs/design.md §7 (the Python module's reports carry the status the command would exit with).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/options.hpp"
#include "tensordiff/report.hpp"

namespace tensordiff {

enum class Command { kCompare, kStats, kShow, kHelp, kVersion };
enum class Color { kAuto, kAlways, kNever };

// Everything one invocation says: the command, its inputs, the comparison's options, the
// reports to write and how the table looks.
struct CommandLine {
  Command command = Command::kCompare;
  std::vector<std::string> files;  // A B (compare, show) or A (stats)
  std::string show_name;           // show: the tensor (A's name)
  CompareOptions compare;
  std::optional<std::string> json_path, csv_path, html_path;
  // The table: --width (0: the terminal's when stdout is one), --only-diff, --top N [--top-by],
  // --all (no collapsing of long runs of matching rows on a terminal).
  size_t width = 0;
  bool width_given = false, only_diff = false, all_rows = false, top_by_growth = false;
  size_t top = 0;
  bool quiet = false, verbose = false;
  Color color = Color::kAuto;
  size_t name_width = 40;
  bool name_width_given = false;
  std::string help;
};

// Parses argv (argv[0] is the program); throws tensordiff::Error(kUsage) with a one-line
// message on bad usage.
CommandLine parse_command_line(int argc, char** argv);
// The same for the arguments after the program name.
CommandLine parse_command_line(const std::vector<std::string>& args);

// One long option ("rtol", "stop-at-first", ...): whether it takes a value and whether it may
// be repeated. The Python module's keywords are these, checked before anything is parsed.
struct OptionName {
  std::string name;
  bool takes_value = false, repeatable = false;
};
std::vector<OptionName> option_names();

// docs/design.md §7. 3: nothing differs, but some pairs agree only as summaries (not proven equal).
constexpr int kExitMatch = 0, kExitDiffer = 1, kExitError = 2, kExitConsistent = 3;

int exit_status(const Report& rep);
int exit_status(const StatsReport& rep);
int exit_status(const PairReport& p);  // show

}  // namespace tensordiff
