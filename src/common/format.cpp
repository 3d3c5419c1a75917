#include "common/format.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "tensordiff/tensor_info.hpp"

namespace tensordiff {

namespace {

// "nan", "inf", "-inf" for a non-finite v; nullptr for a finite one. The sign of a NaN is
// noise (an operation's, not the data's), so it is not shown.
const char* nonfinite_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return nullptr;
}

// to_chars's shortest round-trip text of a double or a float, appended.
template <typename T>
void append_chars(std::string& out, T v) {
  char buf[64];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

}  // namespace

std::string format_number(const char* spec, double v) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, spec, v);
  if (n < 0) return {};
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  // "%f" of a large number: as long as it takes.
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec, v);
  out.pop_back();
  return out;
}

std::string sig(double v, int digits) {
  if (const char* t = nonfinite_text(v)) return t;
  char buf[64];  // %g never writes more than a sign, `digits` digits, a point and an exponent
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string shortest(double v) {
  if (const char* t = nonfinite_text(v)) return t;
  std::string out;
  append_chars(out, v);
  return out;
}

std::string exact_value(double v, DType t) {
  if (const char* s = nonfinite_text(v)) return s;
  // float64 and the integers need double's digits; every narrower float is exactly a float,
  // whose shortest round-trip text identifies it (and so the narrower value too).
  const bool wide = t == DType::kF64 || !dtype_is_float(t);
  std::string out;
  if (wide) append_chars(out, v);
  else append_chars(out, static_cast<float>(v));
  return out;
}

void append_shortest(std::string& out, double v) { append_chars(out, v); }
void append_decimal(std::string& out, uint64_t v) { append_chars(out, v); }
void append_decimal(std::string& out, int64_t v) { append_chars(out, v); }

std::string hex16(uint64_t checksum) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(checksum));
  return buf;
}

std::string join_numbers(const std::vector<uint64_t>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    append_decimal(out, v[i]);
  }
  return out;
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  return "(" + join_numbers(shape, ", ") + (shape.size() == 1 ? ",)" : ")");
}

std::string index_string(uint64_t flat, const std::vector<uint64_t>& shape) {
  return "[" + join_numbers(unravel_index(flat, shape), ",") + "]";
}

namespace {
constexpr std::pair<Precision, const char*> kPrecisionNames[] = {
    {Precision::kAuto, "auto"}, {Precision::kFp64, "fp64"}, {Precision::kFp32, "fp32"},
    {Precision::kTf32, "tf32"}, {Precision::kFp16, "fp16"}, {Precision::kBf16, "bf16"},
    {Precision::kFp8, "fp8"},
};
}  // namespace

const char* precision_name(Precision p) {
  for (const auto& [q, name] : kPrecisionNames)
    if (q == p) return name;
  return "fp32";  // unreachable: the table names every Precision
}

std::optional<Precision> precision_from_name(const std::string& name) {
  for (const auto& [p, n] : kPrecisionNames)
    if (name == n) return p;
  return std::nullopt;
}

}  // namespace tensordiff
