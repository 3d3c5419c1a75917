// tensordiff._engine: the C++ engine inside Python (pybind11). Options arrive as the command
// line's arguments and are parsed by its parser (one options model for both); arrays arrive
// through the buffer protocol, zero-copy, and are read in the engine's bounded chunks with the
// GIL released. Reports come back as --json's text, with the exit status the command gives.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <type_traits>
#include <string>
#include <tuple>
#include <vector>

#include "cli/exit_status.hpp"
#include "cli/options_parse.hpp"
#include "tensordiff/error.hpp"
#include "tensordiff/tensordiff.hpp"

namespace py = pybind11;
using namespace tensordiff;

namespace {

// (name, dtype name, shape, buffer, source): the buffer must be C-contiguous and hold
// exactly shape's elements of the dtype's size (bfloat16/float8 as their raw bits).
using PyArray = std::tuple<std::string, std::string, std::vector<uint64_t>, py::buffer, std::string>;

struct Views {
  std::vector<ArrayView> views;
  std::vector<py::buffer_info> keep;  // holds the buffers while the engine reads them
};

ArrayView to_view(const PyArray& array, std::vector<py::buffer_info>& keep) {
  const auto& [name, dtype, shape, buf, source] = array;
  const auto dt = dtype_from_name(dtype);
  if (!dt) throw Error(ErrorCode::kUsage, "array '" + name + "': unsupported dtype '" + dtype + "'");
  py::buffer_info info = buf.request();
  uint64_t count = 1;
  for (auto d : shape) count *= d;
  const uint64_t bytes = count * dtype_size(*dt);
  if (static_cast<uint64_t>(info.size) * static_cast<uint64_t>(info.itemsize) != bytes)
    throw Error(ErrorCode::kUsage, "array '" + name + "': buffer holds " +
                                       std::to_string(info.size * info.itemsize) + " bytes, " +
                                       dtype + " " + std::to_string(count) + " elements need " +
                                       std::to_string(bytes));
  ssize_t expect = info.itemsize;
  for (ssize_t k = info.ndim; k-- > 0;) {  // C-contiguous: strides are the running products
    if (info.shape[k] > 1 && info.strides[k] != expect)
      throw Error(ErrorCode::kUsage, "array '" + name + "' is not C-contiguous");
    expect *= info.shape[k];
  }
  ArrayView v{name, *dt, shape, info.ptr, source};
  keep.push_back(std::move(info));
  return v;
}

Views to_views(const std::vector<PyArray>& arrays) {
  Views v;
  for (const auto& a : arrays) v.views.push_back(to_view(a, v.keep));
  return v;
}

// The command line's parser on `args` (everything after the program name).
cli::CliArgs parse(const std::vector<std::string>& args) {
  std::vector<std::string> storage{"tensordiff"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  return cli::parse_args(static_cast<int>(argv.size()), argv.data());
}

// Options for arrays: the same flags, parsed around placeholder inputs.
cli::CliArgs array_args(const std::vector<std::string>& flags, bool two) {
  std::vector<std::string> args = flags;
  if (!two) args.insert(args.begin(), "stats");
  args.push_back("--");
  args.push_back("(arrays a)");
  if (two) args.push_back("(arrays b)");
  return parse(args);
}
CompareOptions array_options(const std::vector<std::string>& flags, bool two) {
  return array_args(flags, two).compare;
}

// --json, --csv and --html as the command line writes them (json=, csv=, html= in Python):
// every target checked before the work starts, each written atomically after it.
struct Outputs {
  std::unique_ptr<AtomicFile> json, csv, html;
  explicit Outputs(const cli::CliArgs& a, const std::vector<std::string>& inputs) {
    for (const auto* p : {&a.json_path, &a.csv_path, &a.html_path})
      if (*p && **p == "-")
        throw Error(ErrorCode::kUsage, "in Python a report file is a path ('-', stdout, is for the command line)");
    if (a.json_path) json = std::make_unique<AtomicFile>(*a.json_path, inputs);
    if (a.csv_path) csv = std::make_unique<AtomicFile>(*a.csv_path, inputs);
    if (a.html_path) html = std::make_unique<AtomicFile>(*a.html_path, inputs);
  }
  template <typename R>
  void write(const R& rep) {
    if (json) json->commit_stream([&](const TextSink& sink) { write_json(rep, sink); });
    if (csv) csv->commit_stream([&](const TextSink& sink) { write_csv(rep, sink); });
    if constexpr (std::is_same_v<R, Report>)
      if (html) html->commit_stream([&](const TextSink& sink) { write_html(rep, sink); });
  }
};

std::tuple<std::string, int> run(const std::vector<std::string>& args) {
  const cli::CliArgs a = parse(args);
  switch (a.command) {
    case cli::Command::kCompare: {
      Outputs out(a, a.files);
      py::gil_scoped_release release;
      const Report rep = compare(a.files[0], a.files[1], a.compare);
      out.write(rep);
      return {to_json(rep), cli::compare_exit_status(rep)};
    }
    case cli::Command::kStats: {
      if (a.html_path) throw Error(ErrorCode::kUsage, "html= is a compare report");
      Outputs out(a, a.files);
      py::gil_scoped_release release;
      const StatsReport rep = stats(a.files[0], a.compare.engine, a.compare.tensors);
      out.write(rep);
      return {to_json(rep), cli::stats_exit_status(rep)};
    }
    default:
      throw Error(ErrorCode::kUsage, "only compare and stats run in Python (show, --help and "
                                     "--version are for the command line)");
  }
}

// Reference mode: rows come back one at a time as a report of that row.
class Reference {
 public:
  Reference(const std::string& path, const std::vector<std::string>& flags) {
    const cli::CliArgs args = array_args(flags, true);
    // What a run checking itself cannot honour is refused, never ignored.
    if (args.json_path || args.csv_path || args.html_path)
      throw Error(ErrorCode::kUsage, "json=, csv= and html= are compare()'s; in reference mode Recorder.report() "
                                     "returns the report");
    if (args.compare.align == Align::kOrder)
      throw Error(ErrorCode::kUsage, "align='order' needs both runs' whole order; in reference mode tensors pair "
                                     "by name (map= renames them)");
    if (args.compare.strict)
      throw Error(ErrorCode::kUsage, "strict is compare()'s; in reference mode a tensor the reference lacks is a "
                                     "warning, and a run where none matched raises at the end");
    if (args.compare.stop_at_first)
      throw Error(ErrorCode::kUsage, "stop_at_first is compare()'s; in reference mode on_divergence='raise' stops "
                                     "at the first divergence");
    const CompareOptions o = args.compare;
    py::gil_scoped_release release;
    session_ = std::make_unique<ReferenceSession>(path, o);
  }
  std::string check(const PyArray& array) {
    std::vector<py::buffer_info> keep;
    const ArrayView v = to_view(array, keep);
    py::gil_scoped_release release;
    Report one;
    one.tensors.push_back(session_->check(v));
    return to_json(one);
  }
  std::tuple<uint64_t, uint64_t> counts() const { return {session_->checked(), session_->matched()}; }
  std::tuple<std::string, int> report() {
    py::gil_scoped_release release;
    const Report rep = session_->report();
    return {to_json(rep), cli::compare_exit_status(rep)};
  }

 private:
  std::unique_ptr<ReferenceSession> session_;
};

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "tensordiff's engine, in process";
  static py::exception<Error> error(m, "EngineError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      error(e.what());
    }
  });
  m.def("version", [] { return std::string(version()); });
  m.def(
      "option_names",
      [] {
        std::vector<std::tuple<std::string, bool, bool>> out;
        for (const auto& o : cli::option_names()) out.emplace_back(o.name, o.takes_value, o.repeatable);
        return out;
      },
      "Every long option of the command line: (name, takes a value, repeatable).");
  m.def("build_info", [] { return build_info(); });
  m.def("run", &run, py::arg("args"),
        "Runs `tensordiff ARGS...` (compare or stats) in this process: (JSON report, exit status).");
  m.def(
      "compare_arrays",
      [](const std::vector<PyArray>& a, const std::vector<PyArray>& b, const std::vector<std::string>& flags) {
        const cli::CliArgs args = array_args(flags, true);
        Outputs out(args, {});
        Views va = to_views(a), vb = to_views(b);
        py::gil_scoped_release release;
        const Report rep = compare_arrays(va.views, vb.views, args.compare);
        out.write(rep);
        return std::tuple<std::string, int>{to_json(rep), cli::compare_exit_status(rep)};
      },
      py::arg("a"), py::arg("b"), py::arg("flags"),
      "Compares arrays in memory (matched by name): (JSON report, exit status).");
  m.def(
      "stats_arrays",
      [](const std::vector<PyArray>& arrays, const std::vector<std::string>& flags) {
        const cli::CliArgs args = array_args(flags, false);
        if (args.html_path) throw Error(ErrorCode::kUsage, "html= is a compare report");
        Outputs out(args, {});
        Views v = to_views(arrays);
        py::gil_scoped_release release;
        const StatsReport rep = stats_arrays(v.views, args.compare.engine);
        out.write(rep);
        return std::tuple<std::string, int>{to_json(rep), cli::stats_exit_status(rep)};
      },
      py::arg("arrays"), py::arg("flags"), "Per-array summaries: (JSON report, exit status).");
  // The recorder's summary mode: one array, the fields of `tensordiff stats --json`.
  m.def(
      "stats_json",
      [](const std::vector<PyArray>& arrays, unsigned threads, const std::string& simd) {
        Views v = to_views(arrays);
        EngineOptions o;
        o.threads = threads;
        o.simd = simd;
        py::gil_scoped_release release;
        return to_json(stats_arrays(v.views, o));
      },
      py::arg("arrays"), py::arg("threads") = 0, py::arg("simd") = "");
  py::class_<Reference>(m, "Reference")
      .def(py::init<const std::string&, const std::vector<std::string>&>(), py::arg("path"), py::arg("flags"))
      .def("check", &Reference::check, py::arg("array"))
      .def("report", &Reference::report)
      .def("counts", &Reference::counts, "(tensors checked, tensors the reference holds)");
}
