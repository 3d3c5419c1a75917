// The ULP distance of two same-dtype elements (docs/design.md §4, max_ulp), written once: the
// CPU kernel's loop over raw elements (cpu/scalar_parts-inl.h) and the device's lanes
// (core/leaf_core.hpp) both call ulp_bits.
#pragma once
#include <cstdint>
#include <type_traits>

#include "core/host_device.hpp"
#include "tensordiff/dtype.hpp"

namespace tensordiff {

// How a dtype's raw bits order its values: floats are sign and magnitude, integers two's
// complement or unsigned.
enum class UlpOrder { kSignMagnitude, kSigned, kUnsigned };

TD_HD constexpr UlpOrder ulp_order(DType t) {
  switch (t) {
    case DType::kF64: case DType::kF32: case DType::kF16: case DType::kBF16:
    case DType::kF8E4M3: case DType::kF8E5M2: return UlpOrder::kSignMagnitude;
    case DType::kI8: case DType::kI16: case DType::kI32: case DType::kI64: return UlpOrder::kSigned;
    default: return UlpOrder::kUnsigned;  // u8, u16, u32, u64, bool
  }
}

// The distance of two `bits`-bit elements given zero-extended in D (D at least as wide):
// sign-magnitude, |mx − my| on one side of zero and mx + my across it (so +0 and −0 are 0
// apart; 2·(2^(bits−1) − 1) fits in D); integers, |x − y|. A runtime width and order for the
// device, whose lanes hold any dtype's bits in 64; constants for the CPU's typed loop, which
// the compiler folds away.
template <typename D>
TD_HD inline D ulp_bits(D x, D y, int bits, UlpOrder order) {
  if (order == UlpOrder::kSignMagnitude) {
    const D sign = D(1) << (bits - 1);
    const D mx = x & (sign - 1), my = y & (sign - 1);
    return ((x ^ y) & sign) ? mx + my : (mx > my ? mx - my : my - mx);
  }
  if (order == UlpOrder::kSigned) {
    using S = std::make_signed_t<D>;
    const int shift = 8 * static_cast<int>(sizeof(D)) - bits;  // sign-extend to D's width
    const S sx = static_cast<S>(x << shift) >> shift, sy = static_cast<S>(y << shift) >> shift;
    return sx < sy ? D(sy) - D(sx) : D(sx) - D(sy);
  }
  return x < y ? y - x : x - y;
}

// The lane width of a loop over elements stored as T: 32 bits for elements up to 4 bytes (no
// distance of theirs reaches 2^32), so that SIMD keeps twice the lanes of 64-bit distances.
template <typename T>
using UlpLane = std::conditional_t<sizeof(T) <= 4, uint32_t, uint64_t>;

// Elements stored as T (unsigned for floats, the integer type itself for integers). Signed
// integers go in sign-extended, as integers of D's full width: the same values, and no shifts
// for the loop to do (they cost the int8/int16 loop a third of its speed).
template <typename T, bool kFloat>
TD_HD inline UlpLane<T> ulp_distance(T x, T y) {
  using D = UlpLane<T>;
  using U = std::make_unsigned_t<T>;
  if constexpr (!kFloat && std::is_signed_v<T>)
    return ulp_bits<D>(static_cast<D>(x), static_cast<D>(y), 8 * static_cast<int>(sizeof(D)), UlpOrder::kSigned);
  else
    return ulp_bits<D>(static_cast<U>(x), static_cast<U>(y), 8 * static_cast<int>(sizeof(T)),
                       kFloat ? UlpOrder::kSignMagnitude : UlpOrder::kUnsigned);
}

// Raw bits zero-extended to 64, of a dtype of `es` bytes known at run time.
TD_HD inline uint64_t ulp_distance(DType t, uint64_t x, uint64_t y, int es) {
  return ulp_bits<uint64_t>(x, y, 8 * es, ulp_order(t));
}

}  // namespace tensordiff
