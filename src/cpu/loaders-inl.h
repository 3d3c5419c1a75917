// How the CPU kernel reads a block: float64 straight from the chunk's bytes, every other dtype
// from the block widened to float64 in L1 (float32 and bfloat16 with SIMD, the rest through
// core/decode.hpp). A loader returns the N float64 values of elements [i, i + N).
// Included per SIMD target by chunk_kernel.cpp (see scalar_parts-inl.h).
#if defined(TENSORDIFF_CPU_LOADERS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TENSORDIFF_CPU_LOADERS_INL_H_
#undef TENSORDIFF_CPU_LOADERS_INL_H_
#else
#define TENSORDIFF_CPU_LOADERS_INL_H_
#endif

#include <cstring>

#include "core/decode.hpp"
#include "core/sums.hpp"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tensordiff {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Block buffers padded to a whole number of the widest vectors, so loads past n stay inside.
constexpr size_t kPad = 64;
struct alignas(64) BlockBuf {
  double a[kBlockElems + kPad], b[kBlockElems + kPad];
  // Histogram bins per element: bin of a | bin of b << 8, and the bin of |b − a| (the general
  // pass) or the fast path's joint key (see JointHist).
  uint64_t bins_ab[kBlockElems + kPad], bins_d[kBlockElems + kPad];
};

struct DecodedSrc {  // a block decoded into BlockBuf
  const double* p;
  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, size_t i) const { return hn::Load(d, p + i); }
};

struct F64Src {
  const uint8_t* p;
  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, size_t i) const {
    return hn::LoadU(d, reinterpret_cast<const double*>(p) + i);
  }
};

struct F32Src {
  const uint8_t* p;
  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, size_t i) const {
    const hn::Rebind<float, D> df;
    return hn::PromoteTo(d, hn::LoadU(df, reinterpret_cast<const float*>(p) + i));
  }
};

// bfloat16 is the upper half of a float32: widen to 32 bits, shift, then float32 → float64.
struct BF16Src {
  const uint8_t* p;
  template <class D>
  HWY_INLINE hn::Vec<D> Load(D d, size_t i) const {
    const hn::Rebind<uint16_t, D> d16;
    const hn::Rebind<uint32_t, D> d32;
    const hn::Rebind<float, D> df;
    const auto w = hn::PromoteTo(d32, hn::LoadU(d16, reinterpret_cast<const uint16_t*>(p) + i));
    return hn::PromoteTo(d, hn::BitCast(df, hn::ShiftLeft<16>(w)));
  }
};

void DecodeBlock(DType t, const uint8_t* src, size_t n, double* dst) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (t == DType::kF32) {
    for (; i + N <= n; i += N) hn::Store(F32Src{src}.Load(d, i), d, dst + i);
  } else if (t == DType::kBF16) {
    for (; i + N <= n; i += N) hn::Store(BF16Src{src}.Load(d, i), d, dst + i);
  } else if (t == DType::kF64) {
    std::memcpy(dst, src, 8 * n);
    return;
  }
  decode::to_double(t, src + i * dtype_size(t), n - i, dst + i);
}

}  // namespace HWY_NAMESPACE
}  // namespace tensordiff
HWY_AFTER_NAMESPACE();

#endif  // TENSORDIFF_CPU_LOADERS_INL_H_
