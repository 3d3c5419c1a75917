// tensordiff._engine: the C++ engine inside Python (pybind11). Options arrive as typed
// keywords (bool, number, text, list) named as the command line's options, and are parsed by the
// library's one parser (tensordiff/command_line.hpp); arrays arrive through the buffer
// protocol, zero-copy, and are read in the engine's bounded chunks with the GIL released.
// Reports come back as Result objects: the exit status the command would give, the warnings,
// and the report, turned into dicts at the edge from the library's one definition of its fields
// (tensordiff/document.hpp), with no JSON text in between; table() is the command line's
// terminal table of it (the library's format_table), so Python prints no table of its own.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <type_traits>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "tensordiff/command_line.hpp"
#include "tensordiff/document.hpp"
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

// Keyword options (named as the command line's long options, '_' for '-'; the package has
// checked names and value types against option_names()) in the parser's terms: True is the
// switch, False leaves it off (equal_nan=False is --no-equal-nan), None is absent, a list
// repeats the option, a number or text is its value (Python's str() of a float round-trips).
std::vector<std::string> keyword_args(const py::dict& options) {
  std::vector<std::string> out;
  for (const auto& [key, value] : options) {
    std::string name = py::str(key);
    for (char& c : name)
      if (c == '_') c = '-';
    const std::string flag = "--" + name;
    if (py::isinstance<py::bool_>(value)) {
      if (value.cast<bool>()) out.push_back(flag);
      else if (name == "equal-nan") out.push_back("--no-equal-nan");
    } else if (value.is_none()) {
    } else if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
      for (const auto& v : value) out.insert(out.end(), {flag, py::str(v)});
    } else {
      out.insert(out.end(), {flag, py::str(value)});
    }
  }
  return out;
}

// The library's parser on the keywords, around the command and its inputs.
CommandLine parse(const char* command, const py::dict& options, const std::vector<std::string>& inputs) {
  std::vector<std::string> args;
  if (command) args.push_back(command);
  const auto kw = keyword_args(options);
  args.insert(args.end(), kw.begin(), kw.end());
  args.push_back("--");
  args.insert(args.end(), inputs.begin(), inputs.end());
  return parse_command_line(args);
}
// Options for arrays: the same keywords, parsed around placeholder inputs.
CommandLine array_options(const py::dict& options, bool two) {
  return parse(two ? nullptr : "stats", options,
               two ? std::vector<std::string>{"(arrays a)", "(arrays b)"} : std::vector<std::string>{"(arrays)"});
}

// json=, csv= and html= (--json, --csv, --html): every target checked before the work
// starts, each written atomically after it.
struct Outputs {
  std::unique_ptr<AtomicFile> json, csv, html;
  explicit Outputs(const CommandLine& a, const std::vector<std::string>& inputs) {
    for (const auto* p : {&a.json_path, &a.csv_path, &a.html_path})
      if (*p && **p == "-")
        throw Error(ErrorCode::kUsage, "in Python a report file is a path ('-', stdout, is for the command line)");
    if (a.command == Command::kStats && a.html_path) throw Error(ErrorCode::kUsage, "html= is a compare report");
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

// The report's document as Python objects (dicts, lists, str, int, float, bool, None), built
// from the library's one definition of the report's fields: the dicts json.loads would give
// for the --json text, without the text.
class PyBuilder : public DocumentBuilder {
 public:
  void begin_object() override { open(py::dict(), true); }
  void end_object() override { stack_.pop_back(); }
  void begin_array() override { open(py::list(), false); }
  void end_array() override { stack_.pop_back(); }
  // Keys repeat in every tensor's entry: one interned str per distinct key.
  void key(const std::string& k) override {
    auto it = keys_.find(k);
    if (it == keys_.end()) it = keys_.emplace(k, py::reinterpret_steal<py::str>(PyUnicode_InternFromString(k.c_str()))).first;
    key_ = it->second;
  }
  void string(const std::string& s) override { put(py::str(s)); }
  void boolean(bool b) override { put(py::bool_(b)); }
  void unsigned_integer(uint64_t v) override { put(py::int_(v)); }
  void integer(int64_t v) override { put(py::int_(v)); }
  void real(double v) override { put(py::float_(v)); }
  void null() override { put(py::none()); }
  py::object result() const { return root_; }

 private:
  struct Open {
    py::object container;
    bool is_dict;
  };
  // Raw CPython calls: the report of 10^5 tensors is ~10^7 values.
  void put(const py::object& v) {
    if (stack_.empty()) {
      root_ = v;
      return;
    }
    const Open& top = stack_.back();
    const int rc = top.is_dict ? PyDict_SetItem(top.container.ptr(), key_.ptr(), v.ptr())
                               : PyList_Append(top.container.ptr(), v.ptr());
    if (rc != 0) throw py::error_already_set();
  }
  void open(py::object container, bool is_dict) {
    put(container);
    stack_.push_back({std::move(container), is_dict});
  }
  std::vector<Open> stack_;
  std::unordered_map<std::string, py::str> keys_;
  py::object root_ = py::none();
  py::str key_;
};

template <typename R>
py::object report_objects(const R& rep) {
  PyBuilder b;
  build_document(rep, b);
  return b.result();
}

// What a run returns to Python: the exit status the command would give, the warnings it would
// print, and the report (a compare or a stats report), whose document json() gives.
class Result {
 public:
  explicit Result(Report r) : exit_status_(tensordiff::exit_status(r)), warnings_(r.warnings), compare_(std::move(r)) {}
  explicit Result(StatsReport r) : exit_status_(tensordiff::exit_status(r)), warnings_(r.warnings), stats_(std::move(r)) {}
  int exit_status() const { return exit_status_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  std::string json() const { return compare_ ? to_json(*compare_) : to_json(*stats_); }
  py::object report() const { return compare_ ? report_objects(*compare_) : report_objects(*stats_); }
  // The command line's terminal table and the lines under it (src/report/table_report.cpp),
  // never colour: the text `tensordiff A B` prints into a pipe, laid out to `width` columns.
  std::string table(const TableStyle& style) const {
    return compare_ ? format_table(*compare_, style) : format_stats_table(*stats_, style);
  }
  // The lines under the table alone: counts, first divergence, first jump, precision, speed.
  std::string summary(size_t width) const {
    if (!compare_) throw Error(ErrorCode::kUsage, "summary lines are a compare report's");
    TableStyle st;
    st.width = width;
    return format_summary(*compare_, st);
  }

 private:
  int exit_status_;
  std::vector<std::string> warnings_;
  std::optional<Report> compare_;
  std::optional<StatsReport> stats_;
};

Result run_compare(const py::dict& options, const std::string& a, const std::string& b,
                   const std::vector<std::string>& tensors) {
  std::vector<std::string> inputs{a, b};
  inputs.insert(inputs.end(), tensors.begin(), tensors.end());
  const CommandLine cl = parse(nullptr, options, inputs);
  Outputs out(cl, cl.files);
  py::gil_scoped_release release;
  Report rep = compare(cl.files[0], cl.files[1], cl.compare);
  out.write(rep);
  return Result(std::move(rep));
}

Result run_stats(const py::dict& options, const std::string& path, const std::vector<std::string>& tensors) {
  std::vector<std::string> inputs{path};
  inputs.insert(inputs.end(), tensors.begin(), tensors.end());
  const CommandLine cl = parse("stats", options, inputs);
  Outputs out(cl, cl.files);
  py::gil_scoped_release release;
  StatsReport rep = stats(cl.files[0], cl.compare.engine, cl.compare.tensors);
  out.write(rep);
  return Result(std::move(rep));
}

// Reference mode: rows come back one at a time as a report of that row.
class Reference {
 public:
  Reference(const std::string& path, const py::dict& options) {
    const CommandLine args = array_options(options, true);
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
  Result check(const PyArray& array) {
    std::vector<py::buffer_info> keep;
    const ArrayView v = to_view(array, keep);
    py::gil_scoped_release release;
    Report one;
    one.tensors.push_back(session_->check(v));
    return Result(std::move(one));
  }
  std::tuple<uint64_t, uint64_t> counts() const { return {session_->checked(), session_->matched()}; }
  Result report() {
    py::gil_scoped_release release;
    return Result(session_->report());
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
        for (const auto& o : option_names()) out.emplace_back(o.name, o.takes_value, o.repeatable);
        return out;
      },
      "Every long option of the command line: (name, takes a value, repeatable).");
  m.def("build_info", [] { return build_info(); });
  py::class_<Result>(m, "Result")
      .def_property_readonly("exit_status", &Result::exit_status, "The status the command would exit with.")
      .def_property_readonly("warnings", &Result::warnings, "What the command would print as warnings.")
      .def("report", &Result::report, "The report as dicts and lists: the --json document's fields.")
      .def("json", &Result::json, "The report as --json's text.")
      .def(
          "table",
          [](const Result& r, size_t width, std::optional<size_t> name_width, bool only_diff, size_t top,
             bool top_by_growth, size_t collapse) {
            TableStyle st;
            st.width = width;
            st.name_width = name_width.value_or(static_cast<size_t>(-1));  // None: whole names (a pipe's)
            st.only_diff = only_diff;
            st.top = top;
            st.top_by_growth = top_by_growth;
            st.collapse = collapse;
            return r.table(st);
          },
          py::arg("width") = 0, py::arg("name_width") = py::none(), py::arg("only_diff") = false,
          py::arg("top") = 0, py::arg("top_by_growth") = false, py::arg("collapse") = 0,
          "The command line's table and the lines under it, as it prints them into a pipe (width 0: unlimited; "
          "name_width None: whole names; only_diff, top, top_by_growth, collapse: --only-diff, --top, --top-by "
          "growth, the terminal's folding of runs of matches).")
      .def("summary", &Result::summary, py::arg("width") = 0,
           "The lines under a compare table: counts, first divergence, first jump, precision.");
  m.def("compare", &run_compare, py::arg("options"), py::arg("a"), py::arg("b"), py::arg("tensors"),
        "Compares dumps a (the reference) and b in this process.");
  m.def("stats", &run_stats, py::arg("options"), py::arg("path"), py::arg("tensors"), "Summarises a dump.");
  m.def(
      "compare_arrays",
      [](const std::vector<PyArray>& a, const std::vector<PyArray>& b, const py::dict& options) {
        const CommandLine cl = array_options(options, true);
        Outputs out(cl, {});
        Views va = to_views(a), vb = to_views(b);
        py::gil_scoped_release release;
        Report rep = compare_arrays(va.views, vb.views, cl.compare);
        out.write(rep);
        return Result(std::move(rep));
      },
      py::arg("a"), py::arg("b"), py::arg("options"), "Compares arrays in memory (matched by name).");
  m.def(
      "stats_arrays",
      [](const std::vector<PyArray>& arrays, const py::dict& options) {
        const CommandLine cl = array_options(options, false);
        Outputs out(cl, {});
        Views v = to_views(arrays);
        py::gil_scoped_release release;
        StatsReport rep = stats_arrays(v.views, cl.compare.engine);
        out.write(rep);
        return Result(std::move(rep));
      },
      py::arg("arrays"), py::arg("options"), "Per-array summaries.");
  m.def("peer_key", &peer_key, py::arg("name"), py::arg("source"),
        "The diagnosis' peer key of a record: '' when the name has no layer number.");
  m.def(
      "checksum",
      [](const py::buffer& b) {
        const py::buffer_info info = b.request();
        py::ssize_t stride = info.itemsize;  // C order: the bytes are one run
        for (py::ssize_t k = info.ndim - 1; k >= 0; --k) {
          if (info.shape[k] > 1 && info.strides[k] != stride)
            throw py::value_error("checksum needs a C-contiguous buffer");
          stride *= info.shape[k];
        }
        const size_t bytes = static_cast<size_t>(info.size) * static_cast<size_t>(info.itemsize);
        py::gil_scoped_release release;
        return checksum_bytes(info.ptr, bytes);
      },
      py::arg("buffer"), "docs/design.md §4's checksum of a C-contiguous buffer's bytes, as an integer.");
  // The recorder's summary mode: one array, the fields of `tensordiff stats --json`.
  m.def(
      "summarize",
      [](const std::vector<PyArray>& arrays, unsigned threads, const std::string& simd) {
        Views v = to_views(arrays);
        EngineOptions o;
        o.threads = threads;
        o.simd = simd;
        py::gil_scoped_release release;
        return Result(stats_arrays(v.views, o));
      },
      py::arg("arrays"), py::arg("threads") = 0, py::arg("simd") = "");
  py::class_<Reference>(m, "Reference")
      .def(py::init<const std::string&, const py::dict&>(), py::arg("path"), py::arg("options"))
      .def("check", &Reference::check, py::arg("array"))
      .def("report", &Reference::report)
      .def("counts", &Reference::counts, "(tensors checked, tensors the reference holds)");
}
