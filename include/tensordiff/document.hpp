// A report as a document without its text: the JSON report's structure (docs/design.md §8)
// delivered as calls, so that a caller can build its own objects (the Python module builds
// dicts) from the one definition of the report's fields, with no JSON text in between.
// Values arrive exactly as the JSON text holds them: NaN and infinities as the strings "NaN",
// "Infinity", "-Infinity", names with invalid UTF-8 already replaced by U+FFFD.
#pragma once
#include <cstdint>
#include <string>

#include "tensordiff/report.hpp"

namespace tensordiff {

class DocumentBuilder {
 public:
  virtual ~DocumentBuilder() = default;
  virtual void begin_object() = 0;
  virtual void end_object() = 0;
  virtual void begin_array() = 0;
  virtual void end_array() = 0;
  virtual void key(const std::string& k) = 0;  // the next value's key, inside an object
  virtual void string(const std::string& s) = 0;
  virtual void boolean(bool b) = 0;
  virtual void unsigned_integer(uint64_t v) = 0;
  virtual void integer(int64_t v) = 0;
  virtual void real(double v) = 0;  // finite
  virtual void null() = 0;
};

// The --json report's document, field for field.
void build_document(const Report& report, DocumentBuilder& out);
void build_document(const StatsReport& report, DocumentBuilder& out);

}  // namespace tensordiff
