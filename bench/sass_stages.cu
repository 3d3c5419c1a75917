// The leaf loop's stages apart, for the static proxy (bench/sass_proxy.py, issue 24): one probe
// kernel per stage of kernels/leaf_kernel.cu's float32-pair loop, each a loop whose iteration
// does what one lane does for one leaf (8 element pairs), with the core's own functions
// (core/leaf_core.hpp). Their leaf loops' sizes over 8 say what each stage costs per pair on
// the typed float32 path; never launched (compiled for sm_90 only, read with cuobjdump).
#include <cstdint>

#include "core/leaf_core.hpp"

namespace tensordiff::stages {

using namespace leaf;

constexpr int kF32 = static_cast<int>(DType::kF32);

// A lane's 8 float32 pairs: raw bits and decoded values (the loads of one leaf).
__device__ __forceinline__ void load8(const uint32_t* a, const uint32_t* b, uint64_t i, uint64_t ra[8], uint64_t rb[8],
                                      LaneVals& v) {
  v.valid = 0xff;
#pragma unroll
  for (int m = 0; m < 8; ++m) {
    ra[m] = __ldg(a + i * 8 + m);
    rb[m] = __ldg(b + i * 8 + m);
  }
  decode_lane_fixed<DType::kF32>(ra, v.a);
  decode_lane_fixed<DType::kF32>(rb, v.b);
}

// Loads and decoding alone (the stages below but the checksum include them).
__global__ void stage_decode(const uint32_t* a, const uint32_t* b, uint64_t n, double* out) {
  double s = 0;
  for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
    uint64_t ra[8], rb[8];
    LaneVals v;
    load8(a, b, i, ra, rb, v);
#pragma unroll
    for (int m = 0; m < 8; ++m) s = s + v.a[m] + v.b[m];
  }
  out[threadIdx.x] = s;
}

// The exact fields (counts, extremes, closeness, bits and ULP, largest errors) and the three
// histogram bins, as the typed kernel calls exact_element.
__global__ void stage_exact(const uint32_t* a, const uint32_t* b, uint64_t n, PairRule r, LaneExact* out, int* bins_out) {
  LaneExact ex;
  exact_init(ex);
  int bsum = 0;
  for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
    uint64_t ra[8], rb[8];
    LaneVals v;
    load8(a, b, i, ra, rb, v);
#pragma unroll
    for (int m = 0; m < 8; ++m) {
      int bins[3];
      exact_element<kF32, kF32, 1>(ex, r, v.a[m], v.b[m], ra[m], rb[m], static_cast<uint32_t>(i * 8 + m), bins);
      bsum += bins[0] + bins[1] + bins[2];
    }
  }
  out[threadIdx.x] = ex;
  bins_out[threadIdx.x] = bsum;
}

// The histograms' shared-memory increments for the three bins of each pair.
__global__ void stage_hist(const uint32_t* a, const uint32_t* b, uint64_t n, unsigned* out) {
  __shared__ unsigned hist[kHist];
  for (int k = threadIdx.x; k < kHist; k += blockDim.x) hist[k] = 0;
  __syncthreads();
  for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
    uint64_t ra[8], rb[8];
    LaneVals v;
    load8(a, b, i, ra, rb, v);
#pragma unroll
    for (int m = 0; m < 8; ++m) {
      atomicAdd(&hist[magnitude_bin(v.a[m])], 1u);
      atomicAdd(&hist[kBins + magnitude_bin(v.b[m])], 1u);
      atomicAdd(&hist[2 * kBins + magnitude_bin(fabs(v.b[m] - v.a[m]))], 1u);
    }
  }
  __syncthreads();
  for (int k = threadIdx.x; k < kHist; k += blockDim.x) out[k] = hist[k];
}

// The lane's part of the leaf's sums: maxima, scales, the means' first sums, the eleven sums
// (without the cross-lane reductions, which are per leaf, not per pair).
__global__ void stage_sums(const uint32_t* a, const uint32_t* b, uint64_t n, double* out) {
  double acc[kLaneSums] = {};
  for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
    uint64_t ra[8], rb[8];
    LaneVals v;
    load8(a, b, i, ra, rb, v);
    const Scales sc = scales_of(lane_max(v, true));
    const FirstSums f = lane_first(v, sc, true);
    const double m0a = f.na ? f.sa / f.na : 0.0, m0b = f.nb ? f.sb / f.nb : 0.0;
    double ls[kLaneSums];
    lane_sums(v, sc, m0a, m0b, true, ls);
#pragma unroll
    for (int k = 0; k < kLaneSums; ++k) acc[k] = acc[k] + ls[k];
  }
#pragma unroll
  for (int k = 0; k < kLaneSums; ++k) out[k * blockDim.x + threadIdx.x] = acc[k];
}

// The checksum terms of the lane's bytes: 4 eight-byte words of each side per leaf.
__global__ void stage_checksum(const uint32_t* a, const uint32_t* b, uint64_t n, unsigned long long* out) {
  unsigned long long ca = 0, cb = 0;
  for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const auto* wa = reinterpret_cast<const unsigned long long*>(a) + i * 4;
    const auto* wb = reinterpret_cast<const unsigned long long*>(b) + i * 4;
#pragma unroll
    for (unsigned q = 0; q < 4; ++q) {
      ca += word_term(__ldg(wa + q), i * 4, q, 32);
      cb += word_term(__ldg(wb + q), i * 4, q, 32);
    }
  }
  out[2 * threadIdx.x] = ca;
  out[2 * threadIdx.x + 1] = cb;
}

}  // namespace tensordiff::stages
