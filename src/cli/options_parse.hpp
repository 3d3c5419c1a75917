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
  std::optional<std::string> json_path;
  bool quiet = false, verbose = false;
  Color color = Color::kAuto;
  size_t name_width = 40;
  std::string help;
};

// Parses argv; throws tensordiff::Error(kUsage) with a one-line message on bad usage.
CliArgs parse_args(int argc, char** argv);

}  // namespace tensordiff::cli
