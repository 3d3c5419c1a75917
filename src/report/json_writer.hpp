// A direct JSON text writer for the report's per-tensor entries: no document object model, so
// 10^5 tensors are written at the speed of appending text (nlohmann's DOM cost ~40 us each).
// Numbers in their shortest round-trip form; NaN and infinities as the strings docs/design.md §8
// names; strings escaped, with invalid UTF-8 replaced by U+FFFD.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tensordiff/document.hpp"

#include "common/format.hpp"

namespace tensordiff {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  JsonWriter& key(const char* k) {
    comma();
    out_ += '"';
    out_ += k;
    out_ += "\":";
    after_key_ = true;
    return *this;
  }

  JsonWriter& value(const std::string& s) {
    comma();
    string(s);
    return *this;
  }
  JsonWriter& value(const char* s) { return value(std::string(s)); }
  JsonWriter& value(bool b) {
    comma();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& value(uint64_t v) {
    comma();
    append_decimal(out_, v);
    return *this;
  }
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(int64_t v) {
    comma();
    append_decimal(out_, v);
    return *this;
  }
  JsonWriter& value(double v) {
    comma();
    if (std::isnan(v)) {
      out_ += "\"NaN\"";
    } else if (std::isinf(v)) {
      out_ += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    } else if (v == 0 && std::signbit(v)) {
      out_ += "-0.0";  // "-0" reads back as the integer 0 in Python and loses the sign
    } else {
      append_shortest(out_, v);
    }
    return *this;
  }
  JsonWriter& value(const std::optional<double>& v) { return v ? value(*v) : null(); }
  JsonWriter& null() {
    comma();
    out_ += "null";
    return *this;
  }
  JsonWriter& value(const std::vector<uint64_t>& v) {
    begin_array();
    for (auto x : v) value(x);
    return end_array();
  }

 private:
  JsonWriter& open(char c) {
    comma();
    out_ += c;
    first_ = true;
    return *this;
  }
  JsonWriter& close(char c) {
    out_ += c;
    first_ = false;
    return *this;
  }
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ += ',';
    first_ = false;
  }
  void string(const std::string& s) {
    out_ += '"';
    for (size_t i = 0; i < s.size();) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += static_cast<char>(c);
        ++i;
      } else if (c < 0x20) {
        static const char* hex = "0123456789abcdef";
        out_ += "\\u00";
        out_ += hex[c >> 4];
        out_ += hex[c & 15];
        ++i;
      } else if (c < 0x80) {
        out_ += static_cast<char>(c);
        ++i;
      } else {
        const size_t n = utf8_length(s, i);
        if (n == 0) {
          out_ += "\xef\xbf\xbd";  // U+FFFD for a byte that starts no valid sequence
          ++i;
        } else {
          out_.append(s, i, n);
          i += n;
        }
      }
    }
    out_ += '"';
  }
  // Length of the valid UTF-8 sequence at s[i] (0 if invalid, overlong or a surrogate).
 public:
  static size_t utf8_length(const std::string& s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07;
    else return 0;
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (b & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
  }

 private:
  std::string& out_;
  bool first_ = true;
  bool after_key_ = false;
};

// s with every byte that starts no valid UTF-8 sequence replaced by U+FFFD, as the text gets it.
inline std::string valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : JsonWriter::utf8_length(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

// JsonWriter's calls on a DocumentBuilder (tensordiff/document.hpp): the report's one
// definition of its fields (json_report.cpp) builds either text or the caller's objects.
// Values are given as the text would read back: non-finite numbers as their strings.
class BuilderWriter {
 public:
  explicit BuilderWriter(DocumentBuilder& b) : b_(b) {}
  BuilderWriter& begin_object() { return b_.begin_object(), *this; }
  BuilderWriter& end_object() { return b_.end_object(), *this; }
  BuilderWriter& begin_array() { return b_.begin_array(), *this; }
  BuilderWriter& end_array() { return b_.end_array(), *this; }
  BuilderWriter& key(const char* k) { return b_.key(k), *this; }
  BuilderWriter& value(const std::string& s) { return b_.string(valid_utf8(s)), *this; }
  BuilderWriter& value(const char* s) { return value(std::string(s)); }
  BuilderWriter& value(bool v) { return b_.boolean(v), *this; }
  BuilderWriter& value(uint64_t v) { return b_.unsigned_integer(v), *this; }
  BuilderWriter& value(int v) { return b_.integer(v), *this; }
  BuilderWriter& value(int64_t v) { return b_.integer(v), *this; }
  BuilderWriter& value(double v) {
    if (std::isnan(v)) b_.string("NaN");
    else if (std::isinf(v)) b_.string(v > 0 ? "Infinity" : "-Infinity");
    else b_.real(v);
    return *this;
  }
  BuilderWriter& value(const std::optional<double>& v) { return v ? value(*v) : null(); }
  BuilderWriter& null() { return b_.null(), *this; }
  BuilderWriter& value(const std::vector<uint64_t>& v) {
    begin_array();
    for (auto x : v) value(x);
    return end_array();
  }

 private:
  DocumentBuilder& b_;
};

}  // namespace tensordiff
