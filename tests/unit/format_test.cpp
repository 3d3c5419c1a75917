// The text of numbers, checksums, shapes, indices and precision names (src/common/format.hpp):
// the exact strings the writers print, at the edges where printf, to_chars and the writers'
// own rules part ways.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "common/format.hpp"
#include "report/json_writer.hpp"

namespace tdtest {
namespace {

using namespace tensordiff;

const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

TEST(Format, NumberIsPrintfAsIs) {
  EXPECT_EQ(format_number("%.4g", 1.5e-6), "1.5e-06");
  EXPECT_EQ(format_number("%.4g", 0.00012345), "0.0001234");  // 0.00012344999999...
  EXPECT_EQ(format_number("%.4g", 99995), "1e+05");            // rounding carries into the exponent
  EXPECT_EQ(format_number("x%.2f", 2.005), "x2.00");           // 2.005 is 2.00499999...
  EXPECT_EQ(format_number("%.3g GB", 1.2345), "1.23 GB");
  EXPECT_EQ(format_number("%.1f%%", 99.95), "100.0%");          // 99.950000000000003
  EXPECT_EQ(format_number("%.4g", -0.0), "-0");
  EXPECT_EQ(format_number("%.4g", kInf), "inf");
  EXPECT_EQ(format_number("%.4g", -kInf), "-inf");
  EXPECT_EQ(format_number("%.4g", kNan), "nan");
  EXPECT_EQ(format_number("%.4g", -kNan), "-nan");  // printf's, kept: the engine's reasons print it so
  EXPECT_EQ(format_number("%12.0f", 3), "           3");
}

TEST(Format, NumberIsNeverCutShort) {
  const std::string s = format_number("%.6f", 1e300);
  EXPECT_EQ(s.size(), 301u + 7u);  // 301 digits, a point, six decimals
  EXPECT_EQ(s.substr(0, 4), "1000");
  EXPECT_EQ(s.substr(s.size() - 7), ".000000");
  EXPECT_EQ(format_number("%.9f", -1e80).size(), 1u + 81u + 10u);
}

TEST(Format, SignificantDigits) {
  EXPECT_EQ(sig(0.1234567891, 7), "0.1234568");
  EXPECT_EQ(sig(1234567.5, 7), "1234568");
  EXPECT_EQ(sig(12345678, 7), "1.234568e+07");
  EXPECT_EQ(sig(0.000123456, 3), "0.000123");
  EXPECT_EQ(sig(0.0000123456, 3), "1.23e-05");
  EXPECT_EQ(sig(9.995, 3), "9.99");  // 9.995 is 9.99499999...
  EXPECT_EQ(sig(9.9951, 3), "10");
  EXPECT_EQ(sig(0.0, 7), "0");
  EXPECT_EQ(sig(-0.0, 7), "-0");
  EXPECT_EQ(sig(kNan, 7), "nan");
  EXPECT_EQ(sig(-kNan, 7), "nan");  // never "-nan"
  EXPECT_EQ(sig(kInf, 3), "inf");
  EXPECT_EQ(sig(-kInf, 3), "-inf");
  EXPECT_EQ(sig(std::numeric_limits<double>::denorm_min(), 3), "4.94e-324");
}

TEST(Format, Shortest) {
  EXPECT_EQ(shortest(0.1), "0.1");
  EXPECT_EQ(shortest(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(shortest(1e21), "1e+21");
  EXPECT_EQ(shortest(123456789012), "123456789012");
  EXPECT_EQ(shortest(-std::numeric_limits<double>::min()), "-2.2250738585072014e-308");
  EXPECT_EQ(shortest(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(shortest(0.0), "0");
  EXPECT_EQ(shortest(-0.0), "-0");
  EXPECT_EQ(shortest(kNan), "nan");
  EXPECT_EQ(shortest(-kNan), "nan");
  EXPECT_EQ(shortest(kInf), "inf");
  EXPECT_EQ(shortest(-kInf), "-inf");
}

TEST(Format, ExactValueHasTheDtypesDigits) {
  const double f = static_cast<float>(-0.704);  // -0.7039999961853027 as a double
  EXPECT_EQ(exact_value(f, DType::kF32), "-0.704");
  EXPECT_EQ(exact_value(f, DType::kBF16), "-0.704");
  EXPECT_EQ(exact_value(f, DType::kF64), "-0.7039999961853027");
  EXPECT_EQ(exact_value(1.85, DType::kF64), "1.85");
  EXPECT_EQ(exact_value(static_cast<float>(1.85), DType::kF16), "1.85");
  EXPECT_EQ(exact_value(9007199254740993.0, DType::kI64), "9007199254740992");  // as double holds it
  EXPECT_EQ(exact_value(16777217.0, DType::kI32), "16777217");  // not float's 16777216
  EXPECT_EQ(exact_value(-0.0, DType::kF32), "-0");
  EXPECT_EQ(exact_value(kNan, DType::kF32), "nan");
  EXPECT_EQ(exact_value(-kInf, DType::kF16), "-inf");
}

TEST(Format, Append) {
  std::string out = "x";
  append_shortest(out, 2.5);
  append_decimal(out, uint64_t{18446744073709551615ull});
  append_decimal(out, int64_t{-9223372036854775807LL - 1});
  EXPECT_EQ(out, "x2.518446744073709551615-9223372036854775808");
}

TEST(Format, Checksum) {
  EXPECT_EQ(hex16(0), "0000000000000000");
  EXPECT_EQ(hex16(0xabcULL), "0000000000000abc");
  EXPECT_EQ(hex16(0x9E3779B97F4A7C15ULL), "9e3779b97f4a7c15");
  EXPECT_EQ(hex16(~0ULL), "ffffffffffffffff");
}

TEST(Format, ShapesAndIndices) {
  EXPECT_EQ(shape_string({}), "()");
  EXPECT_EQ(shape_string({3}), "(3,)");
  EXPECT_EQ(shape_string({3, 4}), "(3, 4)");
  EXPECT_EQ(shape_string({0, 18446744073709551615ull}), "(0, 18446744073709551615)");
  EXPECT_EQ(join_numbers({}, "x"), "");
  EXPECT_EQ(join_numbers({3}, "x"), "3");
  EXPECT_EQ(join_numbers({3, 4, 5}, "x"), "3x4x5");
  EXPECT_EQ(index_string(0, {}), "[]");
  EXPECT_EQ(index_string(5, {2, 3}), "[1,2]");
  EXPECT_EQ(index_string(23, {2, 3, 4}), "[1,2,3]");
  EXPECT_EQ(index_string(7, {10}), "[7]");
  EXPECT_EQ(index_string(0, {0, 3}), "[0,0]");  // an empty tensor's index does not divide by zero
}

TEST(Format, PrecisionNames) {
  for (Precision p : {Precision::kAuto, Precision::kFp64, Precision::kFp32, Precision::kTf32, Precision::kFp16,
                      Precision::kBf16, Precision::kFp8})
    EXPECT_EQ(precision_from_name(precision_name(p)), p) << precision_name(p);
  EXPECT_STREQ(precision_name(Precision::kBf16), "bf16");
  EXPECT_STREQ(precision_name(Precision::kAuto), "auto");
  EXPECT_FALSE(precision_from_name("bfloat16").has_value());  // a dtype's name, not a precision's
  EXPECT_FALSE(precision_from_name("").has_value());
}

// The JSON writer's own rules on top of shortest(): strings for non-finite numbers, and a -0
// that Python reads back as a float.
TEST(Format, JsonNumbers) {
  std::string out;
  JsonWriter w(out);
  w.begin_array().value(0.1).value(-0.0).value(0.0).value(kNan).value(-kInf).value(uint64_t{7}).value(-3);
  w.end_array();
  EXPECT_EQ(out, R"([0.1,-0.0,0,"NaN","-Infinity",7,-3])");
}

}  // namespace
}  // namespace tdtest
