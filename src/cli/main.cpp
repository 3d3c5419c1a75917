// The command line: argument parsing and exit codes only; all work is in the library.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <new>

#include "cli/exit_status.hpp"
#include "cli/options_parse.hpp"
#include "tensordiff/tensordiff.hpp"

using namespace tensordiff;

namespace {

using cli::kExitError;
using cli::kExitMatch;

bool use_color(cli::Color c) {
  if (c == cli::Color::kAlways) return true;
  if (c == cli::Color::kNever) return false;
  return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

void warn(const std::string& line) { std::cerr << "tensordiff: " << line << "\n"; }

int run_compare(const cli::CliArgs& args) {
  std::unique_ptr<AtomicFile> json;
  if (args.json_path) json = std::make_unique<AtomicFile>(*args.json_path, args.files);
  const Report rep = compare(args.files[0], args.files[1], args.compare);
  if (!rep.backend_note.empty()) warn(rep.backend_note);
  for (const auto& note : rep.notes) warn(note);
  if (json) json->commit_stream([&](const TextSink& sink) { write_json(rep, sink); });
  if (!args.quiet) std::cout << format_table(rep, {use_color(args.color), args.name_width});
  // Pairs that could not be compared get a line on stderr even with -q.
  for (const auto& t : rep.tensors) {
    if (t.status != Status::kIncompatible) continue;
    const bool side_a = t.info_a && !t.info_a->unsupported.empty();
    const bool unsupported = side_a || (t.info_b && !t.info_b->unsupported.empty());
    if (unsupported)
      warn((side_a ? args.files[0] : args.files[1]) + ": tensor '" + (side_a ? t.name : t.name_b) +
           "': " + (side_a ? t.info_a->unsupported : t.info_b->unsupported) +
           "; not compared (--exclude it to skip)");
    else
      warn("tensor '" + t.name + "': " + t.reason + "; not compared");
  }
  for (const auto& t : rep.tensors)
    if (t.status == Status::kError) warn(t.reason);
  return cli::compare_exit_status(rep);
}

// One pair in detail: compares only that tensor (its name in A; B's after --map).
int run_show(const cli::CliArgs& args) {
  CompareOptions o = args.compare;
  o.tensors = {args.show_name};
  Report rep = compare(args.files[0], args.files[1], o);
  if (!rep.backend_note.empty()) warn(rep.backend_note);
  const PairReport* pair = nullptr;
  for (const auto& t : rep.tensors)
    if (t.name == args.show_name) pair = &t;
  if (!pair)
    throw Error(ErrorCode::kUsage, "show: no tensor named '" + args.show_name + "' in " +
                                       args.files[0] + " or " + args.files[1]);
  // Growth is relative to the tensors before it, which show does not read.
  PairReport p = *pair;
  p.growth.reset();
  if (!args.quiet) std::cout << format_detail(p);
  if (p.status == Status::kError) warn(p.reason);
  return cli::show_exit_status(p);
}

int run_stats(const cli::CliArgs& args) {
  std::unique_ptr<AtomicFile> json;
  if (args.json_path) json = std::make_unique<AtomicFile>(*args.json_path, args.files);
  const StatsReport rep = stats(args.files[0], args.compare.engine, args.compare.tensors);
  if (!rep.backend_note.empty()) warn(rep.backend_note);
  for (const auto& note : rep.notes) warn(note);
  if (json) json->commit_stream([&](const TextSink& sink) { write_json(rep, sink); });
  if (!args.quiet) std::cout << format_stats_table(rep, {use_color(args.color), args.name_width});
  for (const auto& t : rep.tensors)
    if (!t.stats) warn(!t.error.empty() ? t.error : args.files[0] + ": tensor '" + t.info.name + "': " + t.info.unsupported);
  return cli::stats_exit_status(rep);
}

}  // namespace

// SIGINT/SIGTERM while a report is being written: remove its temporary file, then die of the
// signal as the shell expects.
extern "C" void on_terminate(int sig) {
  const char* tmp = pending_report_temp();
  if (tmp[0] != '\0') ::unlink(tmp);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// A full disk or a closed pipe on stdout is an error (exit 2), not a silent success.
int checked_exit(int code) {
  std::cout.flush();
  if (!std::cout || std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::cerr << "tensordiff: cannot write to standard output: " << std::strerror(errno ? errno : EIO) << "\n";
    return kExitError;
  }
  return code;
}

int main(int argc, char** argv) {
  std::signal(SIGINT, on_terminate);
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error we report, not a kill
  try {
    cli::CliArgs args = cli::parse_args(argc, argv);
    // JSON on stdout: the table would mix into it.
    if (args.json_path && *args.json_path == "-") args.quiet = true;
    switch (args.command) {
      case cli::Command::kHelp: std::cout << args.help; return checked_exit(kExitMatch);
      case cli::Command::kVersion: std::cout << build_info(args.compare.engine.simd); return checked_exit(kExitMatch);
      default: break;
    }
    if (args.verbose) {
      args.compare.engine.log = [](const std::string& s) { std::cerr << "tensordiff: " << s << "\n"; };
    }
    if (args.command == cli::Command::kShow) return checked_exit(run_show(args));
    return checked_exit(args.command == cli::Command::kStats ? run_stats(args) : run_compare(args));
  } catch (const Error& e) {
    warn(e.what());
    return kExitError;
  } catch (const std::bad_alloc&) {
    warn("out of memory; lower --chunk-mib, --memory-mib or --threads");
    return kExitError;
  } catch (const std::exception& e) {
    warn(std::string("internal error: ") + e.what());
    return kExitError;
  }
}
