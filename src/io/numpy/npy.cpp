#include "io/numpy/npy.hpp"

#include <cstring>
#include <optional>

#include "tensordiff/error.hpp"

namespace tensordiff {

namespace {

constexpr char kMagic[] = "\x93NUMPY";

// A tiny reader for the dict literal numpy writes: strings, True/False, tuples of integers.
class Literal {
 public:
  Literal(const std::string& s, const std::string& what) : s_(s), what_(what) {}
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string str() {
    ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("expected a string");
    const char q = s_[i_++];
    const size_t end = s_.find(q, i_);
    if (end == std::string::npos) fail("unterminated string");
    std::string v = s_.substr(i_, end - i_);
    i_ = end + 1;
    return v;
  }
  bool boolean() {
    ws();
    if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
    if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
    fail("expected True or False");
  }
  std::vector<uint64_t> tuple() {
    expect('(');
    std::vector<uint64_t> v;
    while (!eat(')')) {
      ws();
      uint64_t x = 0;
      size_t digits = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (x > (UINT64_MAX - 9) / 10) fail("a dimension too large");
        x = x * 10 + static_cast<uint64_t>(s_[i_++] - '0');
        ++digits;
      }
      if (digits == 0) fail("expected a dimension");
      if (s_.compare(i_, 1, "L") == 0) ++i_;  // Python 2's long
      v.push_back(x);
      if (v.size() > 64) fail("more than 64 dimensions");
      if (!eat(',')) {
        expect(')');
        break;
      }
    }
    return v;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(ErrorCode::kCorrupt, what_ + ": .npy header is corrupt (" + why + " at byte " +
                                         std::to_string(i_) + ")");
  }

 private:
  const std::string& s_;
  const std::string& what_;
  size_t i_ = 0;
};

// numpy's descr → our dtype. ml_dtypes' types save as '<V2' (bfloat16, its only 2-byte
// type), '<f1' (float8_e5m2) and '<V1' (any of five float8 variants: not told apart).
void set_dtype(NpyHeader& h) {
  const std::string& d = h.descr;
  if (d.size() < 3) {
    h.unsupported = "dtype '" + d + "'";
    return;
  }
  const char order = d[0];
  const std::string code = d.substr(1);
  h.big_endian = order == '>';
  static const struct { const char* code; DType t; } kTypes[] = {
      {"f8", DType::kF64}, {"f4", DType::kF32}, {"f2", DType::kF16}, {"b1", DType::kBool},
      {"i1", DType::kI8},  {"i2", DType::kI16}, {"i4", DType::kI32}, {"i8", DType::kI64},
      {"u1", DType::kU8},  {"u2", DType::kU16}, {"u4", DType::kU32}, {"u8", DType::kU64},
      {"V2", DType::kBF16}, {"f1", DType::kF8E5M2}};
  for (const auto& k : kTypes)
    if (code == k.code) {
      h.dtype = k.t;
      return;
    }
  if (code == "V1")
    h.unsupported = "dtype '<V1': an ml_dtypes float8 whose variant .npy does not record; save it "
                    "as uint8 with the variant in its name, or as safetensors";
  else
    h.unsupported = "dtype '" + d + "' (complex, string, object and structured arrays are not tensors)";
}

}  // namespace

bool is_npy(const uint8_t* p, size_t n) { return n >= 6 && std::memcmp(p, kMagic, 6) == 0; }

uint64_t npy_header_length(const uint8_t* p, size_t n, const std::string& what) {
  if (n < 10 || !is_npy(p, n)) throw Error(ErrorCode::kCorrupt, what + ": not a .npy file");
  const int major = p[6];
  uint64_t len = 0, prefix = 0;
  if (major == 1) {
    len = p[8] | (uint64_t(p[9]) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) throw Error(ErrorCode::kCorrupt, what + ": .npy header is truncated");
    len = p[8] | (uint64_t(p[9]) << 8) | (uint64_t(p[10]) << 16) | (uint64_t(p[11]) << 24);
    prefix = 12;
  } else {
    throw Error(ErrorCode::kCorrupt, what + ": .npy format version " + std::to_string(major) + " (1 to 3 are read)");
  }
  if (len > kNpyMaxHeader)
    throw Error(ErrorCode::kCorrupt, what + ": .npy header of " + std::to_string(len) + " bytes (at most " +
                                         std::to_string(kNpyMaxHeader) + " are read)");
  return prefix + len;
}

NpyHeader parse_npy_header(const uint8_t* p, size_t n, const std::string& what) {
  NpyHeader h;
  h.data_offset = npy_header_length(p, n, what);
  if (n < h.data_offset) throw Error(ErrorCode::kCorrupt, what + ": .npy header is truncated");
  const size_t prefix = p[6] == 1 ? 10 : 12;
  const std::string text(reinterpret_cast<const char*>(p) + prefix, h.data_offset - prefix);
  Literal in(text, what);
  in.expect('{');
  bool have_descr = false, have_order = false, have_shape = false;
  while (!in.eat('}')) {
    const std::string key = in.str();
    in.expect(':');
    if (key == "descr") {
      in.ws();
      h.descr = in.str();  // a list (structured dtype) fails here as "expected a string"
      have_descr = true;
    } else if (key == "fortran_order") {
      h.fortran_order = in.boolean();
      have_order = true;
    } else if (key == "shape") {
      h.shape = in.tuple();
      have_shape = true;
    } else {
      in.fail("unknown key '" + key + "'");
    }
    if (!in.eat(',')) {
      in.expect('}');
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape) in.fail("missing descr, fortran_order or shape");
  set_dtype(h);
  return h;
}

}  // namespace tensordiff
