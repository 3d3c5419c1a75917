// A tensor's element as text with every digit that tells it apart (issue 20: "(a 1.85, b
// 1.85)" hid a difference): the shortest text that reads back as the same value of the
// tensor's own dtype, so float32 -0.704 prints as -0.704 and not -0.7039999961853027.
#pragma once
#include <charconv>
#include <cmath>
#include <string>

#include "tensordiff/dtype.hpp"

namespace tensordiff {

inline std::string exact_value(double v, DType t) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  // float64 and the integers need double's digits; every narrower float is exactly a float,
  // whose shortest round-trip text identifies it (and so the narrower value too).
  const bool wide = t == DType::kF64 || !dtype_is_float(t);
  const auto res = wide ? std::to_chars(buf, buf + sizeof buf, v)
                        : std::to_chars(buf, buf + sizeof buf, static_cast<float>(v));
  return std::string(buf, res.ptr);
}

}  // namespace tensordiff
