#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/options.hpp"

namespace tensordiff::cli {

enum class Command { kCompare, kStats, kShow, kHelp, kVersion };
enum class Color { kAuto, kAlways, kNever };

struct CliArgs {
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

// Parses argv; throws tensordiff::Error(kUsage) with a one-line message on bad usage.
CliArgs parse_args(int argc, char** argv);

// Every long option: its name ("rtol", "stop-at-first", ...), whether it takes a value and
// whether it may be repeated: what the Python module accepts as keywords, checked before
// anything is parsed.
struct OptionName {
  std::string name;
  bool takes_value = false, repeatable = false;
};
std::vector<OptionName> option_names();

}  // namespace tensordiff::cli
