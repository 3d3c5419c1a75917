// The pair kernel: every field of DESIGN.md §4 for one block of 256 elements in one read of
// each input. Each thread decodes one element of each side; block-wide reductions with CUB
// (struct reductions, so that a dozen sums cost one barrier round each); histograms in shared
// memory, flushed with 64-bit atomics; checksum words as integer adds.
#include <cub/block/block_reduce.cuh>

#include <cfloat>
#include <cstdint>

#include "core/partial.hpp"
#include "kernels/device_decode.cuh"
#include "kernels/pair_kernel.cuh"

namespace tensordiff::cuda {

namespace {

using tensordiff::kGolden;
using tensordiff::square_scale;
using tensordiff::unit_factor;
__device__ __forceinline__ uint64_t mix(uint64_t x) { return tensordiff::splitmix64_mix(x); }

// Histogram slot of a value: DESIGN's 84 bins, then NaN (84), +inf (85), -inf (86).
__device__ __forceinline__ int bin_of(double v) {
  const uint64_t bits = static_cast<uint64_t>(__double_as_longlong(v)) & 0x7fffffffffffffffull;
  if (bits == 0) return 0;
  const int e = static_cast<int>(bits >> 52);
  if (e == 2047) return (bits & 0x000fffffffffffffull) ? 84 : (v > 0 ? 85 : 86);
  const int x = e - 1023 + 42;
  return x < 1 ? 1 : x > 83 ? 83 : x;
}

// The largest finite magnitudes of side a, side b and the finite pairs: each group's scale.
struct Max3 {
  double a, b, f;
};
struct MaxOp {
  __device__ Max3 operator()(const Max3& x, const Max3& y) const {
    return {fmax(x.a, y.a), fmax(x.b, y.b), fmax(x.f, y.f)};
  }
};

struct Counts {
  uint32_t fin_a, fin_b, nz_a, nz_b, nan_a, nan_b, pinf_a, pinf_b, ninf_a, ninf_b;
  uint32_t fp, mis, nanm, infm, bits;
};
struct SumCounts {
  __device__ Counts operator()(const Counts& x, const Counts& y) const {
    return {x.fin_a + y.fin_a, x.fin_b + y.fin_b, x.nz_a + y.nz_a, x.nz_b + y.nz_b,
            x.nan_a + y.nan_a, x.nan_b + y.nan_b, x.pinf_a + y.pinf_a, x.pinf_b + y.pinf_b,
            x.ninf_a + y.ninf_a, x.ninf_b + y.ninf_b, x.fp + y.fp, x.mis + y.mis,
            x.nanm + y.nanm, x.infm + y.infm, x.bits + y.bits};
  }
};

struct Sums {
  double sum_a, sum_b, sq_a, sq_b, abs, d2, a2, b2, ab, min_a, max_a, min_b, max_b;
  uint64_t ulp, cks_a, cks_b;
};
struct CombineSums {
  __device__ Sums operator()(const Sums& x, const Sums& y) const {
    return {x.sum_a + y.sum_a, x.sum_b + y.sum_b, x.sq_a + y.sq_a, x.sq_b + y.sq_b,
            x.abs + y.abs, x.d2 + y.d2, x.a2 + y.a2, x.b2 + y.b2, x.ab + y.ab,
            fmin(x.min_a, y.min_a), fmax(x.max_a, y.max_a), fmin(x.min_b, y.min_b),
            fmax(x.max_b, y.max_b), x.ulp > y.ulp ? x.ulp : y.ulp, x.cks_a + y.cks_a,
            x.cks_b + y.cks_b};
  }
};

struct Arg {
  double v;
  uint32_t i;
};
struct Extremes {
  Arg abs, rel;
};
// Maximum, ties to the smallest index (DESIGN.md §4).
__device__ __forceinline__ Arg arg_max(const Arg& x, const Arg& y) {
  return (y.v > x.v || (y.v == x.v && y.i < x.i)) ? y : x;
}
struct MaxExtremes {
  __device__ Extremes operator()(const Extremes& x, const Extremes& y) const {
    return {arg_max(x.abs, y.abs), arg_max(x.rel, y.rel)};
  }
};

struct Dev {
  double ca, cb, m2a, m2b;
};
struct SumDev {
  __device__ Dev operator()(const Dev& x, const Dev& y) const {
    return {x.ca + y.ca, x.cb + y.cb, x.m2a + y.m2a, x.m2b + y.m2b};
  }
};

__device__ __forceinline__ uint64_t ulp_distance(DType t, uint64_t x, uint64_t y, uint32_t es) {
  const int bits = 8 * es;
  if (dtype_is_float_dev(t)) {
    const uint64_t sign = uint64_t(1) << (bits - 1);
    const uint64_t mx = x & (sign - 1), my = y & (sign - 1);
    if ((x & sign) == (y & sign)) return mx > my ? mx - my : my - mx;
    return mx + my;
  }
  const bool is_signed = t == DType::kI8 || t == DType::kI16 || t == DType::kI32 || t == DType::kI64;
  if (is_signed && bits < 64) {  // sign-extend
    const int shift = 64 - bits;
    x = static_cast<uint64_t>(static_cast<int64_t>(x << shift) >> shift);
    y = static_cast<uint64_t>(static_cast<int64_t>(y << shift) >> shift);
  }
  const bool less = is_signed ? static_cast<int64_t>(x) < static_cast<int64_t>(y) : x < y;
  return less ? y - x : x - y;
}

// One word of the checksum of one side: word w of this block, zero-padded past `bytes`.
__device__ __forceinline__ uint64_t checksum_word(const uint8_t* block, uint64_t bytes, uint32_t w,
                                                  uint64_t j) {
  uint64_t x = 0;
  const uint64_t off = 8ull * w;
  if (off >= bytes) return 0;
  memcpy(&x, block + off, bytes - off >= 8 ? 8 : bytes - off);
  return mix(x + kGolden * j);
}

__global__ void __launch_bounds__(kThreads)
pair_blocks(PairArgs p, const uint8_t* __restrict__ a_bytes, const uint8_t* __restrict__ b_bytes,
            BlockOut* __restrict__ out, unsigned long long* __restrict__ hist) {
  __shared__ union {
    typename cub::BlockReduce<Max3, kThreads>::TempStorage max;
    typename cub::BlockReduce<Counts, kThreads>::TempStorage counts;
    typename cub::BlockReduce<Sums, kThreads>::TempStorage sums;
    typename cub::BlockReduce<Extremes, kThreads>::TempStorage ext;
    typename cub::BlockReduce<Dev, kThreads>::TempStorage dev;
  } temp;
  __shared__ unsigned int h[3 * kHistSlots];
  __shared__ double s_shared[5];  // unit factors of a, b, F; mean estimates of a, b
  __shared__ int s_scale[3];

  const uint32_t t = threadIdx.x;
  const uint64_t block_first = static_cast<uint64_t>(blockIdx.x) * kThreads;
  const uint64_t i = block_first + t;
  const bool valid = i < p.n;
  for (uint32_t k = t; k < 3 * kHistSlots; k += kThreads) h[k] = 0;

  const uint8_t* pa = a_bytes + i * p.ea;
  const uint8_t* pb = b_bytes + i * p.eb;
  const double a = valid ? decode(p.ta, pa) : 0.0;
  const double b = valid ? decode(p.tb, pb) : 0.0;
  const bool fa = valid && isfinite(a), fb = valid && isfinite(b), F = fa && fb;
  const bool nan_a = valid && isnan(a), nan_b = valid && isnan(b);

  // Each group's scale from its largest finite magnitude (core/sums.hpp).
  const double ma = fa ? fabs(a) : 0.0, mb = fb ? fabs(b) : 0.0;
  const Max3 mx = {ma, mb, F ? fmax(ma, mb) : 0.0};
  const Max3 block_max = cub::BlockReduce<Max3, kThreads>(temp.max).Reduce(mx, MaxOp());
  if (t == 0) {
    s_scale[0] = square_scale(block_max.a);
    s_scale[1] = square_scale(block_max.b);
    s_scale[2] = square_scale(block_max.f);
    for (int g = 0; g < 3; ++g) s_shared[g] = unit_factor(s_scale[g]);
  }
  __syncthreads();
  const double sa = s_shared[0], sb = s_shared[1], sf = s_shared[2];

  // Counts, closeness, NaN/inf rules (DESIGN.md §4).
  const double d = b - a, ad = fabs(d);
  // atol + rtol·|a| with two roundings, never fused: the CPU backend's exact rule.
  const bool close = F && ad <= __dadd_rn(p.atol, __dmul_rn(p.rtol, fabs(a)));
  const bool both_nan = nan_a && nan_b, one_nan = nan_a != nan_b;
  const bool nan_bad = one_nan || (both_nan && !p.equal_nan);
  const bool inf_pair = valid && !F && !nan_a && !nan_b;
  const bool inf_bad = inf_pair && a != b;
  const bool equal = close || (inf_pair && !inf_bad) || (both_nan && p.equal_nan);
  const bool same = p.ta == p.tb;
  const uint64_t ra = valid && same ? raw_bits(pa, p.ea) : 0, rb = valid && same ? raw_bits(pb, p.eb) : 0;
  Counts c = {fa, fb, valid && a != 0 || nan_a, valid && b != 0 || nan_b, nan_a, nan_b,
              valid && a == INFINITY, valid && b == INFINITY, valid && a == -INFINITY,
              valid && b == -INFINITY, F, valid && !equal, valid && nan_bad, inf_bad,
              valid && same && ra != rb};
  c = cub::BlockReduce<Counts, kThreads>(temp.counts).Reduce(c, SumCounts());
  __syncthreads();

  // Sums in each group's units, extremes, ULP, checksum words.
  const double as = (fa ? a : 0.0) * sa, bs = (fb ? b : 0.0) * sb;
  const double aF = F ? a * sf : 0.0, bF = F ? b * sf : 0.0, adF = fabs(bF - aF);
  const uint64_t a_bytes_in_block = (p.n - block_first < kThreads ? p.n - block_first : kThreads) * p.ea;
  const uint64_t b_bytes_in_block = (p.n - block_first < kThreads ? p.n - block_first : kThreads) * p.eb;
  const uint64_t word0_a = (p.first * p.ea + block_first * p.ea) / 8 + 1;
  const uint64_t word0_b = (p.first * p.eb + block_first * p.eb) / 8 + 1;
  Sums sm = {as, bs, as * as, bs * bs, adF, adF * adF, aF * aF,
             bF * bF, aF * bF, fa ? a : INFINITY, fa ? a : -INFINITY, fb ? b : INFINITY,
             fb ? b : -INFINITY, F && same ? ulp_distance(p.ta, ra, rb, p.ea) : 0,
             checksum_word(a_bytes + block_first * p.ea, a_bytes_in_block, t, word0_a + t),
             checksum_word(b_bytes + block_first * p.eb, b_bytes_in_block, t, word0_b + t)};
  sm = cub::BlockReduce<Sums, kThreads>(temp.sums).Reduce(sm, CombineSums());
  if (t == 0) {
    s_shared[3] = c.fin_a ? sm.sum_a / c.fin_a : 0.0;
    s_shared[4] = c.fin_b ? sm.sum_b / c.fin_b : 0.0;
  }
  __syncthreads();
  const double rel = ad == 0 ? 0.0 : ad / fabs(a);
  Extremes ex = {{F ? ad : -1.0, F ? t : 0xffffffffu}, {F ? rel : -1.0, F ? t : 0xffffffffu}};
  ex = cub::BlockReduce<Extremes, kThreads>(temp.ext).Reduce(ex, MaxExtremes());
  __syncthreads();

  // Corrected two-pass: deviations from the mean estimates, scaled like the squares.
  const double da = fa ? a * sa - s_shared[3] : 0.0, db = fb ? b * sb - s_shared[4] : 0.0;
  Dev dv = {da, db, da * da, db * db};
  dv = cub::BlockReduce<Dev, kThreads>(temp.dev).Reduce(dv, SumDev());

  // Histograms in shared memory.
  if (valid) {
    atomicAdd(&h[bin_of(a)], 1u);
    atomicAdd(&h[kHistSlots + bin_of(b)], 1u);
    atomicAdd(&h[2 * kHistSlots + (F ? bin_of(ad) : 84)], 1u);
  }
  __syncthreads();
  for (uint32_t k = t; k < 3 * kHistSlots; k += kThreads)
    if (h[k]) atomicAdd(&hist[k], static_cast<unsigned long long>(h[k]));

  if (t == 0) {
    BlockOut o;
    auto side = [&](SideOut& so, uint32_t fin, uint32_t nz, uint32_t nan, uint32_t pinf,
                    uint32_t ninf, double sum, double sq, double mn, double mxv, double dc,
                    double dm2, uint64_t cks) {
      so.n = fin;
      const double m0 = fin ? sum / fin : 0.0;
      so.mean = fin ? m0 + dc / fin : 0.0;
      so.m2 = fin ? fmax(0.0, dm2 - dc * dc / fin) : 0.0;
      so.sumsq = sq;
      so.min = mn;
      so.max = mxv;
      so.finite = fin;
      so.nonzero = nz;
      so.nan = nan;
      so.pos_inf = pinf;
      so.neg_inf = ninf;
      so.checksum_sum = cks;
    };
    side(o.a, c.fin_a, c.nz_a, c.nan_a, c.pinf_a, c.ninf_a, sm.sum_a, sm.sq_a, sm.min_a,
         sm.max_a, dv.ca, dv.m2a, sm.cks_a);
    side(o.b, c.fin_b, c.nz_b, c.nan_b, c.pinf_b, c.ninf_b, sm.sum_b, sm.sq_b, sm.min_b,
         sm.max_b, dv.cb, dv.m2b, sm.cks_b);
    o.abs = sm.abs;
    o.d2 = sm.d2;
    o.a2 = sm.a2;
    o.b2 = sm.b2;
    o.ab = sm.ab;
    o.a.scale = s_scale[0];
    o.b.scale = s_scale[1];
    o.scale_d = s_scale[2];
    o.finite_pairs = c.fp;
    o.mismatches = c.mis;
    o.nan_mismatch = c.nanm;
    o.inf_mismatch = c.infm;
    o.bits_differ = c.bits;
    o.max_ulp = sm.ulp;
    o.max_abs = c.fp ? ex.abs.v : 0.0;
    o.max_rel = c.fp ? ex.rel.v : 0.0;
    o.max_abs_i = ex.abs.i;
    o.max_rel_i = ex.rel.i;
    out[blockIdx.x] = o;
  }
}

}  // namespace

cudaError_t launch_pair_blocks(const PairArgs& args, const uint8_t* d_a, const uint8_t* d_b,
                               BlockOut* d_out, unsigned long long* d_hist, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((args.n + kThreads - 1) / kThreads);
  if (blocks == 0) return cudaSuccess;
  pair_blocks<<<blocks, kThreads, 0, stream>>>(args, d_a, d_b, d_out, d_hist);
  return cudaGetLastError();
}

}  // namespace tensordiff::cuda
