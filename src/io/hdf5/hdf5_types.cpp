#include "io/hdf5/hdf5_types.hpp"

#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

namespace tensordiff {

namespace {

struct FloatLayout {
  size_t size, spos, epos, esize, mpos, msize, bias;
  DType dtype;
};
constexpr FloatLayout kFloatLayouts[] = {
    {8, 63, 52, 11, 0, 52, 1023, DType::kF64}, {4, 31, 23, 8, 0, 23, 127, DType::kF32},
    {2, 15, 10, 5, 0, 10, 15, DType::kF16},    {2, 15, 7, 8, 0, 7, 127, DType::kBF16},
    {1, 7, 3, 4, 0, 3, 7, DType::kF8E4M3},     {1, 7, 2, 5, 0, 2, 15, DType::kF8E5M2},
};

std::optional<DType> narrow_from_attr(const std::optional<std::string>& attr, size_t size) {
  if (!attr) return std::nullopt;
  auto t = dtype_from_name(*attr);
  if (t && dtype_size(*t) == size && (dtype_is_float(*t) || *t == DType::kBool)) return t;
  return std::nullopt;
}

ClassifiedType supported(DType t, bool big_endian) {
  return {t, big_endian, dtype_name(t)};
}

ClassifiedType unsupported(std::string what) { return {std::nullopt, false, std::move(what)}; }

// h5py stores numpy bool as an enum over int8 with exactly {FALSE: 0, TRUE: 1}.
bool is_h5py_bool(hid_t type) {
  if (H5Tget_size(type) != 1 || H5Tget_nmembers(type) != 2) return false;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    int8_t value = -1;
    H5Tget_member_value(type, i, &value);
    const bool ok = name && ((i == 0 && std::string(name) == "FALSE" && value == 0) ||
                             (i == 1 && std::string(name) == "TRUE" && value == 1));
    H5free_memory(name);
    if (!ok) return false;
  }
  return true;
}

std::optional<DType> integer_dtype(size_t size, bool is_signed) {
  switch (size) {
    case 1: return is_signed ? DType::kI8 : DType::kU8;
    case 2: return is_signed ? DType::kI16 : DType::kU16;
    case 4: return is_signed ? DType::kI32 : DType::kU32;
    case 8: return is_signed ? DType::kI64 : DType::kU64;
    default: return std::nullopt;
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A compound's members, "x: int32, y: f64" (nested ones in braces, the first 8 named).
std::string compound_fields(hid_t type, int depth, std::vector<std::string>* names = nullptr,
                            std::vector<std::string>* types = nullptr) {
  const int n = H5Tget_nmembers(type);
  std::string fields;
  for (int i = 0; i < n && i < 8; ++i) {
    char* name = H5Tget_member_name(type, static_cast<unsigned>(i));
    hid_t mt = H5Tget_member_type(type, static_cast<unsigned>(i));
    std::string t = "?";
    if (mt >= 0 && H5Tget_class(mt) == H5T_COMPOUND) {
      t = depth < 3 ? "{" + compound_fields(mt, depth + 1) + "}" : "{...}";
    } else if (mt >= 0) {
      const ClassifiedType c = classify_hdf5_type(mt, std::nullopt);
      t = c.dtype ? dtype_name(*c.dtype) : c.description.substr(0, c.description.find(" type"));
    }
    const std::string nm = name ? name : "?";
    fields += (i ? ", " : "") + nm + ": " + t;
    if (names) names->push_back(nm);
    if (types) types->push_back(t);
    if (name) H5free_memory(name);
    if (mt >= 0) H5Tclose(mt);
  }
  if (n > 8) fields += ", ... (" + std::to_string(n) + " fields)";
  return fields;
}

// "compound type {x: int32, y: f64}", or "complex numbers (compound {r: f64, i: f64})" for the
// pairs numpy, h5py and HDF5's own tests write. Neither is read (no complex dtype).
std::string describe_compound(hid_t type) {
  std::vector<std::string> names, types;
  const std::string fields = compound_fields(type, 0, &names, &types);
  if (names.size() == 2 && H5Tget_nmembers(type) == 2 && types[0] == types[1] &&
      types[0].rfind("float", 0) == 0) {
    const std::string a = lower(names[0]), b = lower(names[1]);
    if ((a == "r" && b == "i") || (a == "re" && b == "im") || (a == "real" && b == "imag") ||
        (a == "real" && b == "imaginary"))
      return "complex numbers (compound {" + fields + "}) are not supported";
  }
  return "compound type {" + fields + "} is not supported";
}

}  // namespace

ClassifiedType classify_hdf5_type(hid_t type, const std::optional<std::string>& dtype_attr) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  switch (cls) {
    case H5T_FLOAT: {
      const bool be = H5Tget_order(type) == H5T_ORDER_BE;
      size_t spos, epos, esize, mpos, msize;
      if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0)
        return unsupported("float with unreadable fields");
      const size_t bias = H5Tget_ebias(type);
      for (const auto& l : kFloatLayouts)
        if (l.size == size && l.spos == spos && l.epos == epos && l.esize == esize &&
            l.mpos == mpos && l.msize == msize && l.bias == bias)
          return supported(l.dtype, be);
      return unsupported("float of " + std::to_string(size) + " bytes with fields (" +
                         std::to_string(spos) + "," + std::to_string(epos) + "," +
                         std::to_string(esize) + "," + std::to_string(mpos) + "," +
                         std::to_string(msize) + ") bias " + std::to_string(bias));
    }
    case H5T_INTEGER: {
      const bool be = H5Tget_order(type) == H5T_ORDER_BE;
      if (auto t = narrow_from_attr(dtype_attr, size)) return supported(*t, be);
      if (auto t = integer_dtype(size, H5Tget_sign(type) == H5T_SGN_2)) return supported(*t, be);
      return unsupported("integer of " + std::to_string(size) + " bytes");
    }
    case H5T_ENUM: {
      hid_t base = H5Tget_super(type);
      const bool be = H5Tget_order(base) == H5T_ORDER_BE;
      const bool is_signed = H5Tget_sign(base) == H5T_SGN_2;
      H5Tclose(base);
      if (is_h5py_bool(type)) return supported(DType::kBool, false);
      // Other enums compare as their integer values.
      if (auto t = integer_dtype(size, is_signed)) return supported(*t, be);
      return unsupported("enum of " + std::to_string(size) + " bytes");
    }
    case H5T_OPAQUE: {
      // Keras 3 writes bfloat16 as a 2-byte opaque type with the attribute dtype="bfloat16".
      if (auto t = narrow_from_attr(dtype_attr, size)) return supported(*t, false);
      char* tag = H5Tget_tag(type);
      std::string tag_s = tag ? tag : "";
      H5free_memory(tag);
      if (auto t = narrow_from_attr(tag_s, size)) return supported(*t, false);
      return unsupported("opaque type of " + std::to_string(size) + " bytes" +
                         (tag_s.empty() ? "" : " (tag '" + tag_s + "')"));
    }
    case H5T_COMPOUND: return unsupported(describe_compound(type));
    case H5T_STRING: return unsupported("string type is not supported");
    case H5T_VLEN: return unsupported("variable-length type is not supported");
    case H5T_ARRAY: return unsupported("array type is not supported");
    case H5T_REFERENCE: return unsupported("reference type is not supported");
    case H5T_BITFIELD: return unsupported("bitfield type is not supported");
    case H5T_TIME: return unsupported("time type is not supported");
    default: return unsupported("unknown HDF5 type class");
  }
}

}  // namespace tensordiff
