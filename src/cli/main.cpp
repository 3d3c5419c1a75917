// The command line: argument parsing and exit codes only; all work is in the library.
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <new>

#include "tensordiff/command_line.hpp"
#include "tensordiff/tensordiff.hpp"

using namespace tensordiff;

namespace {

bool use_color(Color c) {
  if (c == Color::kAlways) return true;
  if (c == Color::kNever) return false;
  return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr;
}

void warn(const std::string& line) { std::cerr << "tensordiff: " << line << "\n"; }

// The table's width: --width, else the terminal's (stdout), else unlimited (a pipe or file
// gets every column, for grep and scripts).
TableStyle table_style(const CommandLine& a) {
  TableStyle st;
  st.color = use_color(a.color);
  const bool tty = ::isatty(STDOUT_FILENO);
  // A pipe or file gets whole names (for grep and scripts) unless --name-width says otherwise.
  st.name_width = a.name_width_given || tty || a.width_given ? a.name_width : static_cast<size_t>(-1);
  if (a.width_given) {
    st.width = a.width;
  } else if (tty) {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) st.width = ws.ws_col;
    else if (const char* c = std::getenv("COLUMNS")) st.width = std::strtoul(c, nullptr, 10);
  }
  st.only_diff = a.only_diff;
  st.top = a.top;
  st.top_by_growth = a.top_by_growth;
  st.collapse = tty && !a.all_rows ? 20 : 0;  // a terminal folds long runs of matches
  return st;
}

// A progress line on stderr when it is a terminal and the run takes more than a second:
// bytes done of the total, speed, time left, the tensor being merged.
class Progress {
 public:
  explicit Progress(bool on) : on_(on && ::isatty(STDERR_FILENO)), t0_(std::chrono::steady_clock::now()) {
    // $TENSORDIFF_PROGRESS_AFTER_MS: when the line appears (1000 ms; the tests use 0).
    if (const char* e = std::getenv("TENSORDIFF_PROGRESS_AFTER_MS")) after_s_ = std::atof(e) / 1000;
  }
  ~Progress() { clear(); }
  void install(EngineOptions& e) {
    if (!on_) return;
    e.progress = [this](uint64_t done, uint64_t total, const std::string& tensor) { show(done, total, tensor); };
  }
  void clear() {
    if (shown_) std::cerr << "\r\033[K" << std::flush;
    shown_ = false;
  }

 private:
  void show(uint64_t done, uint64_t total, const std::string& tensor) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (secs < after_s_ || done >= total) return;
    const double rate = done / secs;
    char line[160];
    std::snprintf(line, sizeof line, "  %.2f/%.2f GB  %.2f GB/s  ETA %.0f s  ", done / 1e9, total / 1e9, rate / 1e9,
                  rate > 0 ? (total - done) / rate : 0.0);
    std::string text = line + tensor;
    winsize ws{};
    const size_t cols = ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col - 1 : 79;
    if (text.size() > cols) text.resize(cols);
    std::cerr << "\r\033[K" << text << std::flush;
    shown_ = true;
  }
  bool on_;
  bool shown_ = false;
  double after_s_ = 1.0;
  std::chrono::steady_clock::time_point t0_;
};

struct Outputs {
  std::unique_ptr<AtomicFile> json, csv, html;
  Outputs(const CommandLine& a) {
    // Every target is checked before the work starts: a bad path fails in a moment.
    if (a.json_path) json = std::make_unique<AtomicFile>(*a.json_path, a.files);
    if (a.csv_path) csv = std::make_unique<AtomicFile>(*a.csv_path, a.files);
    if (a.html_path) html = std::make_unique<AtomicFile>(*a.html_path, a.files);
  }
};

// Where a run streams its pairs' details (EngineOptions::details_dir): beside the first report
// file (whose folder takes a file of their size, ~1 KB a pair, anyway), else $TMPDIR or /tmp.
std::string details_dir(const CommandLine& a) {
  for (const auto& p : {a.json_path, a.html_path}) {
    if (!p || *p == "-") continue;
    struct stat st;
    if (::stat(p->c_str(), &st) == 0 && !S_ISREG(st.st_mode)) continue;  // a pipe, a device
    const size_t slash = p->find_last_of('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : p->substr(0, slash);
  }
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

int run_compare(const CommandLine& args) {
  Outputs out(args);
  Progress progress(!args.quiet);
  CommandLine a = args;
  progress.install(a.compare.engine);
  // Histograms, worst elements and first nonzeros are shown by the table (p99|d|), the JSON
  // and the HTML page only: under -q without those they are not kept (issue 26).
  a.compare.engine.keep_details = !args.quiet || args.json_path || args.html_path;
  // Streamed as each pair finishes, read back as the reports are written (issue 26).
  if (a.compare.engine.keep_details) a.compare.engine.details_dir = details_dir(args);
  const Report rep = compare(a.files[0], a.files[1], a.compare);
  progress.clear();
  if (!args.quiet) {
    if (!rep.backend_note.empty()) warn(rep.backend_note);
    for (const auto& note : rep.notes) warn(note);
    for (const auto& w : rep.warnings) warn("warning: " + w);
  }
  if (out.json) out.json->commit_stream([&](const TextSink& sink) { write_json(rep, sink); });
  if (out.csv) out.csv->commit_stream([&](const TextSink& sink) { write_csv(rep, sink); });
  if (out.html) out.html->commit_stream([&](const TextSink& sink) { write_html(rep, sink); });
  if (!args.quiet) std::cout << format_table(rep, table_style(args));
  // Pairs of a type we cannot read (exit 2) get a line on stderr even with -q; pairs of
  // different shapes (a difference, exit 1) only without it.
  for (const auto& t : rep.tensors) {
    if (t.status != Status::kIncompatible) continue;
    const bool side_a = t.info_a && !t.info_a->unsupported.empty();
    const bool unsupported = side_a || (t.info_b && !t.info_b->unsupported.empty());
    if (unsupported)
      warn((side_a ? args.files[0] : args.files[1]) + ": tensor '" + (side_a ? t.name : t.name_b) +
           "': " + (side_a ? t.info_a->unsupported : t.info_b->unsupported) +
           "; not compared (--exclude it to skip)");
    else if (!args.quiet)
      warn("tensor '" + t.name + "': " + t.reason + "; not compared");
  }
  for (const auto& t : rep.tensors)
    if (t.status == Status::kError) warn(t.reason);
  return exit_status(rep);
}

// One pair in detail: compares only that tensor (its name in A; B's after --map).
int run_show(const CommandLine& args) {
  CompareOptions o = args.compare;
  o.tensors = {args.show_name};
  Report rep = compare(args.files[0], args.files[1], o);
  if (!args.quiet) {
    if (!rep.backend_note.empty()) warn(rep.backend_note);
    for (const auto& w : rep.warnings) warn("warning: " + w);
  }
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
  return exit_status(p);
}

int run_stats(const CommandLine& args) {
  if (args.html_path) throw Error(ErrorCode::kUsage, "--html is a compare report (tensordiff A B --html FILE)");
  Outputs out(args);
  Progress progress(!args.quiet);
  CommandLine a = args;
  progress.install(a.compare.engine);
  a.compare.engine.keep_details = a.json_path.has_value();  // the table shows no histogram
  if (a.compare.engine.keep_details) a.compare.engine.details_dir = details_dir(args);
  const StatsReport rep = stats(a.files[0], a.compare.engine, a.compare.tensors);
  progress.clear();
  if (!args.quiet) {
    if (!rep.backend_note.empty()) warn(rep.backend_note);
    for (const auto& note : rep.notes) warn(note);
  }
  if (out.json) out.json->commit_stream([&](const TextSink& sink) { write_json(rep, sink); });
  if (out.csv) out.csv->commit_stream([&](const TextSink& sink) { write_csv(rep, sink); });
  if (!args.quiet) std::cout << format_stats_table(rep, table_style(args));
  for (const auto& t : rep.tensors)
    if (!t.stats) warn(!t.error.empty() ? t.error : args.files[0] + ": tensor '" + t.info.name + "': " + t.info.unsupported);
  return exit_status(rep);
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

// The command, on one process or as rank R of an MPI group: there every rank computes its
// share, rank 0 alone prints and writes the reports, and every rank exits with its status.
int run(int argc, char** argv) {
  const bool root = process_rank() == 0;
  try {
    CommandLine args = parse_command_line(argc, argv);
    // A report on stdout: the table would mix into it.
    for (const auto* p : {&args.json_path, &args.csv_path, &args.html_path})
      if (*p && **p == "-") args.quiet = true;
    switch (args.command) {
      case Command::kHelp: if (root) std::cout << args.help; return checked_exit(kExitMatch);
      case Command::kVersion:
        if (root) std::cout << build_info(args.compare.engine.simd);
        return checked_exit(kExitMatch);
      default: break;
    }
    if (args.verbose && root) {
      args.compare.engine.log = [](const std::string& s) { std::cerr << "tensordiff: " << s << "\n"; };
    }
    if (!root) {  // the other ranks compute their share and say nothing
      args.quiet = true;
      args.json_path.reset();
      args.csv_path.reset();
      args.html_path.reset();
      if (args.command == Command::kStats) stats(args.files[0], args.compare.engine, args.compare.tensors);
      else if (args.command == Command::kCompare) compare(args.files[0], args.files[1], args.compare);
      else run_show(args);
      return kExitMatch;
    }
    if (args.command == Command::kShow) return checked_exit(run_show(args));
    return checked_exit(args.command == Command::kStats ? run_stats(args) : run_compare(args));
  } catch (const Error& e) {
    if (root) warn(e.what());
    return kExitError;
  } catch (const std::bad_alloc&) {
    if (root) warn("out of memory; lower --chunk-mib, --memory-mib or --threads");
    return kExitError;
  } catch (const std::exception& e) {
    if (root) warn(std::string("internal error: ") + e.what());
    return kExitError;
  }
}

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // glibc's mmap threshold is dynamic: after a large block is freed it rises towards 32 MiB and
  // the trim threshold to twice it, and the heaps keep what the reads free between the
  // engine's malloc_trim calls. On 10^6 tiny tensors that held 1.1 GB more (3.47 GB peak, 2.34
  // with the threshold fixed) and cost 8-12 s; at 10^5 the fixed 32 MiB gives the dynamic
  // peak (bench/results/2026-12-05-many-tensors.md). Fixing it makes glibc stop adjusting both.
  if (!mallopt(M_MMAP_THRESHOLD, 32 << 20)) mallopt(M_MMAP_THRESHOLD, 16 << 20);  // 32-bit glibc: at most 16 MiB
#endif
  std::signal(SIGINT, on_terminate);
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error we report, not a kill
  start_process_group(&argc, &argv);
  const int code = group_exit_status(run(argc, argv));
  finish_process_group();
  return code;
}
