// The vocabulary as text (docs/design.md §3): numbers, checksums, shapes, indices and precision
// names, written one way for every writer, so that the engine's reasons, the table, the detail
// view, CSV, JSON and HTML cannot drift apart when one of them changes a rule.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/dtype.hpp"
#include "tensordiff/options.hpp"

namespace tensordiff {

// ---- Numbers ----

// One double through a printf format holding exactly one double conversion and any literal
// text ("%.4g", "x%.2f", "%.3g GB", "%.1f%%"), as printf writes it: NaN may print as "-nan".
// Never cut short, however long the number ("%.6f" of 1e300).
std::string format_number(const char* spec, double v);

// `digits` significant digits ("%.<digits>g"); NaN as "nan", infinities as "inf" and "-inf"
// (never "-nan"); -0 stays "-0".
std::string sig(double v, int digits);

// The shortest text that reads back as the same double (std::to_chars); NaN as "nan",
// infinities as "inf" and "-inf"; -0 as "-0".
std::string shortest(double v);

// A tensor's element with every digit that tells it apart (issue 20: "(a 1.85, b 1.85)" hid a
// difference): the shortest text that reads back as the same value of the tensor's own dtype,
// so float32 -0.704 prints as -0.704 and not -0.7039999961853027. As shortest() otherwise.
std::string exact_value(double v, DType t);

// Appending forms for writers that build large texts a piece at a time (the JSON writer):
// no temporary string. append_shortest writes a finite v as shortest() does (the caller
// decides how its format spells NaN, the infinities and -0).
void append_shortest(std::string& out, double v);
void append_decimal(std::string& out, uint64_t v);
void append_decimal(std::string& out, int64_t v);

// ---- Checksums ----

// The 64-bit checksum of docs/design.md §4 as 16 lower-case hex digits, zero-padded.
std::string hex16(uint64_t checksum);

// ---- Shapes and indices ----

// The numbers joined by `sep`, nothing around them: "3x4" with "x"; "" for none.
std::string join_numbers(const std::vector<uint64_t>& v, const char* sep);

// A shape as Python writes a tuple: "(3, 4)", "(3,)", "()".
std::string shape_string(const std::vector<uint64_t>& shape);

// The multi-index of a flat (row-major) index in `shape`: "[1,2]"; "[]" for a scalar.
std::string index_string(uint64_t flat, const std::vector<uint64_t>& shape);

// ---- Precision names ----

const char* precision_name(Precision p);  // "fp32", "bf16", ..., "auto"
std::optional<Precision> precision_from_name(const std::string& name);

}  // namespace tensordiff
