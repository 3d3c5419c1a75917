// tensordiff._engine: the C++ engine inside Python (pybind11). Arrays arrive through the
// buffer protocol, zero-copy: the engine reads them in its bounded chunks with the GIL
// released. Reports come back as the CLI's JSON text, so Python sees exactly --json's fields.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>
#include <vector>

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

Views to_views(const std::vector<PyArray>& arrays) {
  Views v;
  for (const auto& [name, dtype, shape, buf, source] : arrays) {
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
    v.views.push_back({name, *dt, shape, info.ptr, source});
    v.keep.push_back(std::move(info));
  }
  return v;
}

EngineOptions engine_options(unsigned threads, const std::string& simd) {
  EngineOptions o;
  o.threads = threads;
  o.simd = simd;
  return o;
}

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
      "stats_json",
      [](const std::vector<PyArray>& arrays, unsigned threads, const std::string& simd) {
        Views v = to_views(arrays);
        std::string out;
        {
          py::gil_scoped_release release;
          out = to_json(stats_arrays(v.views, engine_options(threads, simd)));
        }
        return out;
      },
      py::arg("arrays"), py::arg("threads") = 0, py::arg("simd") = "",
      "Per-array summaries (the fields of `tensordiff stats --json`) as JSON text.");
}
