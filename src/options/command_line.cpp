// The one parser of the command line's options (cxxopts), for the command and the Python module.
#include "tensordiff/command_line.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
// Repeated options are repeated flags, never split at a delimiter: '--tol "x*:rtol=1,atol=2"'
// and globs such as '{a,b}' keep their commas.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>

#include "engine/precision.hpp"
#include "engine/tolerance.hpp"
#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

constexpr const char* kUsage =
    "  tensordiff [options] A.h5 B.h5 [TENSOR...]   compare two dumps (A: reference)\n"
    "  tensordiff stats [options] A.h5 [TENSOR...]  summarise one dump\n"
    "  tensordiff show [options] A.h5 B.h5 NAME     one pair in detail\n\n"
    "Exit status: 0 all tensors match, 1 some differ or exist on one side only, 2 error,\n"
    "3 nothing differs but some pairs were judged from summaries only (consistent).\n";

cxxopts::Options make_options() {
  cxxopts::Options o("tensordiff", "Find which tensors of two dumps differ, by how much, and "
                                   "where two runs first part ways.\n\n" + std::string(kUsage));
  o.add_options("Output")
      ("json", "write the JSON report to FILE (atomically; - for stdout)", cxxopts::value<std::string>(), "FILE")
      ("csv", "write one CSV row per pair (scalar fields; - for stdout)", cxxopts::value<std::string>(), "FILE")
      ("html", "write a self-contained HTML report (plot, sortable table, histograms)", cxxopts::value<std::string>(), "FILE")
      ("only-diff", "table: only pairs that are not matches (the first divergence and jump always)")
      ("top", "table: the N pairs of largest rel L2 (or --top-by growth), largest first", cxxopts::value<size_t>(), "N")
      ("top-by", "rel-l2 or growth", cxxopts::value<std::string>()->default_value("rel-l2"), "KEY")
      ("all", "table: every row (on a terminal long runs of matching rows are folded)")
      ("width", "table width in columns (default: the terminal's; unlimited when not a terminal)", cxxopts::value<size_t>(), "N")
      ("q,quiet", "print nothing but the one line of an error (exit 2); the exit status tells")
      ("strict", "a rule that matches nothing (--include, --exclude, --map, --tol) is an error, not a warning")
      ("verbose", "log progress and HDF5's own error stack to stderr")
      ("color", "colour the table: auto (on a TTY), always, never",
       cxxopts::value<std::string>()->default_value("auto"), "WHEN")
      ("name-width", "shorten longer names in the table (default 40 on a terminal or with --width; a pipe gets whole names)", cxxopts::value<size_t>()->default_value("40"), "N")
      ("h,help", "show this help")
      ("version", "print the version, the SIMD target and whether CUDA is built in");
  o.add_options("Selection")
      ("include", "compare only tensors matching GLOB (repeatable)", cxxopts::value<std::vector<std::string>>(), "GLOB")
      ("exclude", "skip tensors matching GLOB (repeatable)", cxxopts::value<std::vector<std::string>>(), "GLOB")
      ("map", "rename B's tensors: REGEX=REPL (RE2 syntax, $1..$9 in REPL; repeatable; \\= for a literal '=')",
       cxxopts::value<std::vector<std::string>>(), "REGEX=REPL")
      ("allow-reshape", "compare tensors of different shapes but equal element counts")
      ("follow-links", "list the datasets that soft and external links lead to (else they are noted and skipped)")
      ("stop-at-first", "stop reading after the first diverging tensor")
      ("align", "pair tensors by name, or also by execution order (shape and dtype class agreeing) "
                "where names differ between frameworks: name or order",
       cxxopts::value<std::string>()->default_value("name"), "HOW");
  o.add_options("Tolerance")
      ("rtol", "relative tolerance for every tensor (default: by the run's precision; inf allowed)", cxxopts::value<std::string>(), "X")
      ("atol", "absolute tolerance for every tensor (default: by the run's precision; inf allowed)", cxxopts::value<std::string>(), "X")
      ("tol", "per-tensor tolerance 'GLOB:rtol=X,atol=Y' (repeatable, last match wins)",
       cxxopts::value<std::vector<std::string>>(), "RULE")
      ("equal-nan", "NaN equals NaN (default)")
      ("no-equal-nan", "NaN never equals anything")
      ("exact", "bitwise: every element must have identical bits (same dtype) or value")
      ("precision", "the run's precision: fp64, fp32, tf32, fp16, bf16 or fp8 (default: the least "
                    "precise one holding at least a tenth of the floating-point elements); sets default "
                    "tolerances and the noise floor",
       cxxopts::value<std::string>(), "P")
      ("criterion", "verdict per pair: elementwise (every element close, the default), rel-l2 "
                    "(rel L2 <= rtol) or cosine (cosine >= 1 - rtol)",
       cxxopts::value<std::string>()->default_value("elementwise"), "C")
      ("min-cosine", "also fail a pair whose cosine similarity is below X", cxxopts::value<std::string>(), "X")
      ("max-rel-l2", "also fail a pair whose relative L2 error is above X", cxxopts::value<std::string>(), "X");
  o.add_options("Engine")
      ("threads", "worker threads (default: all cores)", cxxopts::value<unsigned>()->default_value("0"), "N")
      ("chunk-mib", "chunk size per side in MiB (default: 2 on the CPU, where read buffers stay in L2/L3 between the copy and the kernel; 32 on a GPU)", cxxopts::value<double>(), "N")
      ("memory-mib", "budget for read buffers in MiB", cxxopts::value<double>()->default_value("1024"), "N")
      ("backend", "auto, cpu, cuda or gpu-emu (the GPU's algorithm emulated on the CPU, slow)", cxxopts::value<std::string>()->default_value("auto"), "NAME")
      ("device", "CUDA device index, or 'local': the MPI rank's index on its node (one GPU per rank)",
       cxxopts::value<std::string>()->default_value("0"), "N")
      ("simd", "CPU SIMD target: best, avx3, avx2, sse4, ssse3 or emu128 (default: $TENSORDIFF_SIMD, else best)",
       cxxopts::value<std::string>(), "TARGET")
      ("first-k", "first nonzero values kept per tensor", cxxopts::value<int>()->default_value("5"), "K")
      ("worst-k", "worst elements (largest |b - a|) kept per pair", cxxopts::value<int>()->default_value("5"), "K");
  o.add_options()("positional", "", cxxopts::value<std::vector<std::string>>());
  o.parse_positional({"positional"});
  o.positional_help("A.h5 B.h5 [TENSOR...]");
  return o;
}

uint64_t mib(double v, const char* name) {
  if (!(v > 0) || v > 1e9) throw Error(ErrorCode::kUsage, std::string("--") + name + " must be > 0");
  return static_cast<uint64_t>(v * (1 << 20));
}

std::pair<std::string, std::string> parse_map(const std::string& spec) {
  // Split at the first '=' not escaped as '\='; '\=' in the regex means a literal '='.
  std::string re;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '\\' && i + 1 < spec.size() && spec[i + 1] == '=') {
      re += '=';
      ++i;
    } else if (spec[i] == '=') {
      return {re, spec.substr(i + 1)};
    } else {
      re += spec[i];
    }
  }
  throw Error(ErrorCode::kUsage, "--map '" + spec + "': expected REGEX=REPL");
}

// Options a command would ignore: given anyway, they are an error, never silently dropped.
void refuse_ignored(const cxxopts::ParseResult& r, Command command) {
  static const char* const kNotStats[] = {
      "html", "only-diff", "top", "top-by", "include", "exclude", "map", "allow-reshape", "stop-at-first",
      "align", "rtol", "atol", "tol", "equal-nan", "no-equal-nan", "exact", "precision", "criterion",
      "min-cosine", "max-rel-l2", "worst-k", "strict"};
  static const char* const kNotShow[] = {"json", "csv", "html", "only-diff", "top", "top-by", "all",
                                         "stop-at-first", "width", "color", "name-width"};
  auto check = [&](const auto& names, const char* why) {
    for (const char* n : names)
      if (r.count(n)) throw Error(ErrorCode::kUsage, std::string("--") + n + why);
  };
  if (command == Command::kStats)
    check(kNotStats, " is for comparing two dumps; stats summarises one (select with TENSOR names or globs)");
  if (command == Command::kShow)
    check(kNotShow, " is for the compare table and reports; show prints one pair (compare with --json for its report)");
}

}  // namespace

std::vector<OptionName> option_names() {
  std::vector<OptionName> names;
  const auto opts = make_options();
  for (const auto& group : opts.groups())
    for (const auto& h : opts.group_help(group).options)
      if (h.l.size() && h.l[0] != "positional") names.push_back({h.l[0], !h.is_boolean, h.is_container});
  return names;
}

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine a;
  auto opts = make_options();
  // `stats` is a subcommand only as the first argument, so a dump named "stats" still works
  // as `tensordiff ./stats B.h5`.
  int skip = 0;
  if (argc > 1 && std::strcmp(argv[1], "stats") == 0) {
    a.command = Command::kStats;
    skip = 1;
  } else if (argc > 1 && std::strcmp(argv[1], "show") == 0) {
    a.command = Command::kShow;
    skip = 1;
  }
  std::vector<char*> args(argv, argv + argc);
  args.erase(args.begin() + 1, args.begin() + 1 + skip);
  cxxopts::ParseResult r;
  try {
    r = opts.parse(static_cast<int>(args.size()), args.data());
  } catch (const cxxopts::exceptions::exception& e) {
    throw Error(ErrorCode::kUsage, std::string(e.what()) + " (see --help)");
  }
  if (r.count("help")) {
    a.command = Command::kHelp;
    a.help = opts.help({"Output", "Selection", "Tolerance", "Engine"});
    return a;
  }
  if (r.count("simd")) a.compare.engine.simd = r["simd"].as<std::string>();
  if (r.count("version")) {
    a.command = Command::kVersion;
    return a;
  }
  refuse_ignored(r, a.command);
  std::vector<std::string> pos;
  if (r.count("positional")) pos = r["positional"].as<std::vector<std::string>>();
  const size_t nfiles = a.command == Command::kStats ? 1 : 2;
  if (a.command == Command::kShow && pos.size() != 3)
    throw Error(ErrorCode::kUsage, "show needs two dumps and one tensor: tensordiff show A.h5 B.h5 NAME (see --help)");
  if (pos.size() < nfiles)
    throw Error(ErrorCode::kUsage, a.command == Command::kStats
                                       ? "stats needs a dump: tensordiff stats A.h5 (see --help)"
                                       : "needs two dumps: tensordiff A.h5 B.h5 (see --help)");
  a.files.assign(pos.begin(), pos.begin() + nfiles);
  CompareOptions& c = a.compare;
  if (a.command == Command::kShow) a.show_name = pos[2];
  else c.tensors.assign(pos.begin() + nfiles, pos.end());
  if (r.count("json")) a.json_path = r["json"].as<std::string>();
  if (r.count("csv")) a.csv_path = r["csv"].as<std::string>();
  if (r.count("html")) a.html_path = r["html"].as<std::string>();
  int to_stdout = 0;
  for (const auto* p : {&a.json_path, &a.csv_path, &a.html_path}) to_stdout += *p && **p == "-";
  if (to_stdout > 1) throw Error(ErrorCode::kUsage, "only one of --json, --csv and --html can write to stdout (-)");
  a.only_diff = r.count("only-diff") > 0;
  a.all_rows = r.count("all") > 0;
  if (r.count("top")) {
    a.top = r["top"].as<size_t>();
    if (a.top == 0) throw Error(ErrorCode::kUsage, "--top must be at least 1");
  }
  const std::string top_by = r["top-by"].as<std::string>();
  if (top_by == "growth") a.top_by_growth = true;
  else if (top_by != "rel-l2") throw Error(ErrorCode::kUsage, "--top-by must be rel-l2 or growth, not '" + top_by + "'");
  if (r.count("width")) {
    a.width = r["width"].as<size_t>();
    a.width_given = true;
    if (a.width != 0 && a.width < 40) throw Error(ErrorCode::kUsage, "--width must be 0 (unlimited) or at least 40");
  }
  a.quiet = r.count("quiet") > 0;
  a.verbose = r.count("verbose") > 0;
  const std::string color = r["color"].as<std::string>();
  if (color == "auto") a.color = Color::kAuto;
  else if (color == "always") a.color = Color::kAlways;
  else if (color == "never") a.color = Color::kNever;
  else throw Error(ErrorCode::kUsage, "--color must be auto, always or never, not '" + color + "'");
  a.name_width = r["name-width"].as<size_t>();
  a.name_width_given = r.count("name-width") > 0;
  if (r.count("include")) c.include = r["include"].as<std::vector<std::string>>();
  if (r.count("exclude")) c.exclude = r["exclude"].as<std::vector<std::string>>();
  if (r.count("map"))
    for (const auto& m : r["map"].as<std::vector<std::string>>()) c.maps.push_back(parse_map(m));
  c.allow_reshape = r.count("allow-reshape") > 0;
  c.stop_at_first = r.count("stop-at-first") > 0;
  c.strict = r.count("strict") > 0;
  // Numbers by strtod, so that inf (a tolerance that accepts anything) is one; NaN is not.
  auto real = [&](const char* name) -> std::optional<double> {
    if (!r.count(name)) return std::nullopt;
    const std::string text = r[name].as<std::string>();
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || std::isnan(v) || (errno == ERANGE && !std::isinf(v)))
      throw Error(ErrorCode::kUsage, std::string("--") + name + " '" + text + "' is not a number");
    return v;
  };
  auto nonneg = [&](const char* name) -> std::optional<double> {
    const auto v = real(name);
    if (v && !(*v >= 0)) throw Error(ErrorCode::kUsage, std::string("--") + name + " must be >= 0");
    return v;
  };
  c.rtol = nonneg("rtol");
  c.atol = nonneg("atol");
  if (r.count("tol"))
    for (const auto& t : r["tol"].as<std::vector<std::string>>()) c.tol_rules.push_back(parse_tolerance_rule(t));
  if (r.count("equal-nan") && r.count("no-equal-nan"))
    throw Error(ErrorCode::kUsage, "--equal-nan and --no-equal-nan contradict each other");
  c.equal_nan = r.count("no-equal-nan") == 0;
  c.exact = r.count("exact") > 0;
  c.min_cosine = real("min-cosine");
  c.max_rel_l2 = nonneg("max-rel-l2");
  EngineOptions& e = c.engine;
  e.threads = r["threads"].as<unsigned>();
  if (e.threads > 1024) throw Error(ErrorCode::kUsage, "--threads must be 0 (all cores) to 1024, not " + std::to_string(e.threads));
  e.chunk_bytes = r.count("chunk-mib") ? mib(r["chunk-mib"].as<double>(), "chunk-mib") : 0;
  e.memory_bytes = mib(r["memory-mib"].as<double>(), "memory-mib");
  const std::string be = r["backend"].as<std::string>();
  if (be == "auto") e.backend = Backend::kAuto;
  else if (be == "cpu") e.backend = Backend::kCpu;
  else if (be == "cuda") e.backend = Backend::kCuda;
  else if (be == "gpu-emu") e.backend = Backend::kGpuEmu;
  else throw Error(ErrorCode::kUsage, "--backend must be auto, cpu, cuda or gpu-emu, not '" + be + "'");
  const std::string dev = r["device"].as<std::string>();
  if (dev == "local") {
    e.device = kDeviceLocal;
  } else {
    char* end = nullptr;
    const long d = std::strtol(dev.c_str(), &end, 10);
    if (dev.empty() || *end != '\0' || d < 0 || d > 1023)
      throw Error(ErrorCode::kUsage, "--device must be a device index (0, 1, ...) or local, not '" + dev + "'");
    e.device = static_cast<int>(d);
  }
  e.follow_links = r.count("follow-links") > 0;
  e.first_k = r["first-k"].as<int>();
  if (e.first_k < 0 || e.first_k > 1000000) throw Error(ErrorCode::kUsage, "--first-k must be 0..1000000");
  e.worst_k = r["worst-k"].as<int>();
  if (e.worst_k < 0 || e.worst_k > 100000) throw Error(ErrorCode::kUsage, "--worst-k must be 0..100000");
  if (r.count("precision")) {
    const std::string p = r["precision"].as<std::string>();
    const auto prec = precision_from_name(p);
    if (!prec) throw Error(ErrorCode::kUsage, "--precision must be fp64, fp32, tf32, fp16, bf16 or fp8, not '" + p + "'");
    c.precision = *prec;
  }
  const std::string crit = r["criterion"].as<std::string>();
  if (crit == "elementwise") c.criterion = Criterion::kElementwise;
  else if (crit == "rel-l2") c.criterion = Criterion::kRelL2;
  else if (crit == "cosine") c.criterion = Criterion::kCosine;
  else throw Error(ErrorCode::kUsage, "--criterion must be elementwise, rel-l2 or cosine, not '" + crit + "'");
  const std::string align = r["align"].as<std::string>();
  if (align == "name") c.align = Align::kName;
  else if (align == "order") c.align = Align::kOrder;
  else throw Error(ErrorCode::kUsage, "--align must be name or order, not '" + align + "'");
  return a;
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
  std::vector<std::string> storage{"tensordiff"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

}  // namespace tensordiff
