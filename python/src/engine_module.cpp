// tensordiff._engine: the C++ engine inside Python (pybind11). Options arrive as the command
// line's arguments and are parsed by its parser (one options model for both); arrays arrive
// through the buffer protocol, zero-copy, and are read in the engine's bounded chunks with the
// GIL released. Reports come back as --json's text, with the exit status the command gives.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
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
CompareOptions array_options(const std::vector<std::string>& flags, bool two) {
  std::vector<std::string> args = flags;
  if (!two) args.insert(args.begin(), "stats");
  args.push_back("--");
  args.push_back("(arrays a)");
  if (two) args.push_back("(arrays b)");
  return parse(args).compare;
}

std::tuple<std::string, int> run(const std::vector<std::string>& args) {
  const cli::CliArgs a = parse(args);
  switch (a.command) {
    case cli::Command::kCompare: {
      py::gil_scoped_release release;
      const Report rep = compare(a.files[0], a.files[1], a.compare);
      return {to_json(rep), cli::compare_exit_status(rep)};
    }
    case cli::Command::kStats: {
      py::gil_scoped_release release;
      const StatsReport rep = stats(a.files[0], a.compare.engine, a.compare.tensors);
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
    const CompareOptions o = array_options(flags, true);
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
  m.def("build_info", [] { return build_info(); });
  m.def("run", &run, py::arg("args"),
        "Runs `tensordiff ARGS...` (compare or stats) in this process: (JSON report, exit status).");
  m.def(
      "compare_arrays",
      [](const std::vector<PyArray>& a, const std::vector<PyArray>& b, const std::vector<std::string>& flags) {
        const CompareOptions o = array_options(flags, true);
        Views va = to_views(a), vb = to_views(b);
        py::gil_scoped_release release;
        const Report rep = compare_arrays(va.views, vb.views, o);
        return std::tuple<std::string, int>{to_json(rep), cli::compare_exit_status(rep)};
      },
      py::arg("a"), py::arg("b"), py::arg("flags"),
      "Compares arrays in memory (matched by name): (JSON report, exit status).");
  m.def(
      "stats_arrays",
      [](const std::vector<PyArray>& arrays, const std::vector<std::string>& flags) {
        const CompareOptions o = array_options(flags, false);
        Views v = to_views(arrays);
        py::gil_scoped_release release;
        const StatsReport rep = stats_arrays(v.views, o.engine);
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
      .def("report", &Reference::report);
}
