// The chunk kernels: core/leaf_core.hpp's algorithm on the device. Compiled with -fmad=false
// (CMakeLists.txt) so that every sum rounds as the emulator's (kernels/device_chunk.cpp) does.
//
// leaf_groups: a persistent grid; each warp takes groups g = warp, warp + warps, ... of 32
// leaves. Per leaf: 16-byte loads (a warp reads its 256 elements of each side contiguously),
// values decoded into registers, exact fields accumulated per lane for the whole chunk,
// histograms in the warp's shared counters, the leaf's sums reduced (3 maxima and 2 sums by
// butterfly: 50 shuffles a leaf, 0.2 per element; 11 sums transposed through shared memory),
// then the group's 32 leaf nodes combined level by level by the warp's lanes.
// finalize: one block combines the groups' nodes level by level, merges the warps' exact
// fields and the blocks' histograms: a chunk returns a ChunkResult (a few KB) and 16 bytes
// per group.
#include "kernels/leaf_kernel.cuh"

namespace tensordiff::cuda {

using namespace leaf;

namespace {

constexpr unsigned kFull = 0xffffffffu;

template <int BYTES>
__device__ __forceinline__ void load_bytes(const uint8_t* p, uint64_t w[2]) {
  if constexpr (BYTES == 16) {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
    w[0] = v.x | (uint64_t(v.y) << 32);
    w[1] = v.z | (uint64_t(v.w) << 32);
  } else if constexpr (BYTES == 8) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    w[0] = v.x | (uint64_t(v.y) << 32);
    w[1] = 0;
  } else if constexpr (BYTES == 4) {
    w[0] = __ldg(reinterpret_cast<const unsigned*>(p));
    w[1] = 0;
  } else {
    static_assert(BYTES == 2, "segments are 2, 4, 8 or 16 bytes");
    w[0] = __ldg(reinterpret_cast<const unsigned short*>(p));
    w[1] = 0;
  }
}

// Lane `lane`'s 8 elements of a leaf (lane_element's order): all loads issued before any use.
template <int ES, int E>
__device__ __forceinline__ void load_lane(const uint8_t* leaf_bytes, int lane, uint64_t raw[kLaneElems]) {
  constexpr int K = kLaneElems / E;
  uint64_t w[K][2];
#pragma unroll
  for (int k = 0; k < K; ++k) load_bytes<E * ES>(leaf_bytes + (k * kLanes + lane) * E * ES, w[k]);
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int j = 0; j < E; ++j) {
      constexpr uint64_t mask = ES == 8 ? ~0ull : (1ull << (8 * ES)) - 1;
      const int bit = j * ES * 8;
      raw[k * E + j] = (w[k][bit / 64] >> (bit % 64)) & mask;
    }
}

__device__ __forceinline__ double shfl(double x, int d) { return __shfl_xor_sync(kFull, x, d); }
__device__ __forceinline__ unsigned long long shfl(unsigned long long x, int d) { return __shfl_xor_sync(kFull, x, d); }

// A lane's exact fields from lane ^ d (every field exchanged; the merge is exact).
__device__ Exact shfl_exact(const Exact& e, int d) {
  Exact o;
  unsigned long long* dst = &o.fin_a;
  const unsigned long long* src = &e.fin_a;
#pragma unroll
  for (int i = 0; i < 15; ++i) dst[i] = shfl(src[i], d);
  o.min_a = shfl(e.min_a, d);
  o.max_a = shfl(e.max_a, d);
  o.min_b = shfl(e.min_b, d);
  o.max_b = shfl(e.max_b, d);
  o.ulp = shfl(e.ulp, d);
  o.cks_a = shfl(e.cks_a, d);
  o.cks_b = shfl(e.cks_b, d);
  o.abs_v = shfl(e.abs_v, d);
  o.rel_v = shfl(e.rel_v, d);
  o.abs_i = shfl(e.abs_i, d);
  o.rel_i = shfl(e.rel_i, d);
  return o;
}
__device__ void warp_exact(Exact& e) {
  for (int d = kLanes / 2; d > 0; d /= 2) {
    const Exact o = shfl_exact(e, d);
    exact_merge(e, o);
  }
}

// A side's lane decoded: a typed kernel's one dtype, or decode_lane's warp-uniform branch.
template <int ES, int T>
__device__ __forceinline__ void decode_side(DType t, const uint64_t* raw, double* out) {
  if constexpr (T != kAnyType) decode_lane_fixed<DType(T)>(raw, out);
  else decode_lane<ES>(t, raw, out);
}

// TA, TB: the dtypes of a typed kernel (the common same-dtype float pairs and sides), or
// kAnyType: the element sizes' kernel, the dtypes read from args at run time.
template <int EA, int EB, bool PAIR, int TA = kAnyType, int TB = kAnyType>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm) leaf_groups(ChunkArgs args, const uint8_t* __restrict__ A,
                                                        const uint8_t* __restrict__ B, Scratch s) {
  static_assert(kThreads == kWarpsPerBlock * kLanes, "whole warps");
  constexpr int E = seg_elems(EA, PAIR ? EB : EA);
  __shared__ unsigned hist[kWarpsPerBlock][kHist];
  __shared__ double trans[kWarpsPerBlock][kLaneSums][kLanes + 1];  // +1: lanes read rows without conflicts
  __shared__ double totals[kWarpsPerBlock][kLaneSums];
  // TreeNode has default member initialisers, which __shared__ variables may not: raw storage.
  __shared__ alignas(TreeNode) unsigned char node_mem[kWarpsPerBlock * kGroupLeaves * sizeof(TreeNode)];
  auto nodes = reinterpret_cast<TreeNode(*)[kGroupLeaves]>(node_mem);
  const int warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  for (int i = threadIdx.x; i < kWarpsPerBlock * kHist; i += kThreads) (&hist[0][0])[i] = 0;
  __syncthreads();
  const PairRule& r = args.r;
  const uint64_t n = args.n, leaves = (n + kBlockElems - 1) / kBlockElems;
  const uint64_t ngroups = (leaves + kGroupLeaves - 1) / kGroupLeaves;
  LaneExact ex;
  exact_init(ex);
  const uint64_t warps = uint64_t(gridDim.x) * kWarpsPerBlock;
  for (uint64_t g = uint64_t(blockIdx.x) * kWarpsPerBlock + warp; g < ngroups; g += warps) {
    const int c = static_cast<int>(leaves - g * kGroupLeaves < kGroupLeaves ? leaves - g * kGroupLeaves : kGroupLeaves);
    unsigned nz_a = 0, nz_b = 0;
    double max_ad = -1.0;
    for (int li = 0; li < c; ++li) {
      const uint64_t base = (g * kGroupLeaves + li) * kBlockElems;
      const uint64_t in_leaf = n - base < kBlockElems ? n - base : kBlockElems;
      uint64_t ra[kLaneElems], rb[kLaneElems];
      load_lane<EA, E>(A + base * EA, lane, ra);
      if constexpr (PAIR) load_lane<EB, E>(B + base * EB, lane, rb);
      LaneVals v;
      v.valid = 0;
      decode_side<EA, TA>(r.ta, ra, v.a);
      if constexpr (PAIR) decode_side<EB, TB>(r.tb, rb, v.b);
      else
#pragma unroll
        for (int m = 0; m < kLaneElems; ++m) v.b[m] = 0.0;
#pragma unroll
      for (int m = 0; m < kLaneElems; ++m) {
        const unsigned idx = static_cast<unsigned>(lane_element(lane, m, E));
        if (idx >= in_leaf) continue;
        v.valid |= 1u << m;
        int bins[3] = {-1, -1, -1};
        if (!(args.skip & kSkipExact))
          exact_element<TA, TB, PAIR ? 1 : 0>(ex, r, v.a[m], v.b[m], ra[m], PAIR ? rb[m] : 0, static_cast<uint32_t>(base + idx), bins);
        if (args.skip & kSkipHist) bins[0] = bins[1] = bins[2] = -1;
        if (bins[0] >= 0) atomicAdd(&hist[warp][bins[0]], 1u);
        nz_a += v.a[m] != 0 || isnan(v.a[m]);
        if constexpr (PAIR) {
          if (bins[1] >= 0) atomicAdd(&hist[warp][kBins + bins[1]], 1u);
          if (bins[2] >= 0) atomicAdd(&hist[warp][2 * kBins + bins[2]], 1u);
          nz_b += v.b[m] != 0 || isnan(v.b[m]);
          if (isfinite(v.a[m]) && isfinite(v.b[m])) max_ad = fmax(max_ad, fabs(v.b[m] - v.a[m]));
        }
      }
      if (!(args.skip & kSkipSums)) {  // (always taken outside the benchmark)
        Max3 mx = lane_max(v, PAIR);
        for (int d = kLanes / 2; d > 0; d /= 2) mx = max3(mx, Max3{shfl(mx.a, d), shfl(mx.b, d), shfl(mx.f, d)});
        const Scales sc = scales_of(mx);
        FirstSums f = lane_first(v, sc, PAIR);
        for (int d = kLanes / 2; d > 0; d /= 2) {
          const double oa = shfl(f.sa, d), ob = shfl(f.sb, d);
          f.sa = f.sa + oa;
          f.sb = f.sb + ob;
        }
        f.na = __reduce_add_sync(kFull, f.na);
        f.nb = __reduce_add_sync(kFull, f.nb);
        const double m0a = f.na ? f.sa / f.na : 0.0, m0b = f.nb ? f.sb / f.nb : 0.0;
        double ls[kLaneSums];
        lane_sums(v, sc, m0a, m0b, PAIR, ls);
  #pragma unroll
        for (int k = 0; k < kLaneSums; ++k) trans[warp][k][lane] = ls[k];
        __syncwarp();
        if (lane < kLaneSums) {
          double t = trans[warp][lane][0];
          for (int l = 1; l < kLanes; ++l) t = t + trans[warp][lane][l];
          totals[warp][lane] = t;
        }
        __syncwarp();
        if (lane == 0) nodes[warp][li] = leaf_node(f, totals[warp], sc);
      }
      // Checksum words: lane takes words lane, lane + 32, ... (re-read through L1).
      const uint64_t first_el = args.first + base;
      if (!(args.skip & kSkipChecksum)) {
#pragma unroll
      for (int q = 0; q < EA; ++q) {
        const unsigned w = lane + kLanes * q;
        const uint64_t word = __ldg(reinterpret_cast<const unsigned long long*>(A + base * EA) + w);
        ex.cks_a += word_term(word, first_el * EA / 8, w, in_leaf * EA);
      }
      if constexpr (PAIR) {
#pragma unroll
        for (int q = 0; q < EB; ++q) {
          const unsigned w = lane + kLanes * q;
          const uint64_t word = __ldg(reinterpret_cast<const unsigned long long*>(B + base * EB) + w);
          ex.cks_b += word_term(word, first_el * EB / 8, w, in_leaf * EB);
        }
      }
      }
      __syncwarp();
    }
    // The group's tree.
    if (args.skip & kSkipTree) {
    } else if (c == kGroupLeaves) {
      for (int pairs = kGroupLeaves / 2; pairs > 0; pairs /= 2) {
        TreeNode t;
        if (lane < pairs) t = combine(nodes[warp][2 * lane], nodes[warp][2 * lane + 1]);
        __syncwarp();
        if (lane < pairs) nodes[warp][lane] = t;
        __syncwarp();
      }
      if (lane == 0) s.nodes[0][g] = nodes[warp][0];
    } else if (lane == 0) {  // the chunk's last group, partial: once per chunk, serially
      StackNode found[kGroupLevel + 1];
      const int k = level_pass(nodes[warp], c, 0, found);
      for (int i = 0; i < k; ++i) s.tail[i] = found[k - 1 - i];
      *s.tail_count = k;
    }
    nz_a = __reduce_add_sync(kFull, nz_a);
    nz_b = __reduce_add_sync(kFull, nz_b);
    for (int d = kLanes / 2; d > 0; d /= 2) max_ad = fmax(max_ad, shfl(max_ad, d));
    if (lane == 0) s.groups[g] = GroupInfo{nz_a, nz_b, max_ad};
    __syncwarp();
  }
  Exact wide = widen(ex);
  warp_exact(wide);
  if (lane == 0) s.warp_exact[blockIdx.x * kWarpsPerBlock + warp] = wide;
  __syncthreads();
  for (int i = threadIdx.x; i < kHist; i += kThreads) {
    unsigned t = 0;
    for (int w = 0; w < kWarpsPerBlock; ++w) t += hist[w][i];
    s.block_hist[uint64_t(blockIdx.x) * kHist + i] = t;
  }
}

__global__ void __launch_bounds__(kFinalizeThreads) finalize(ChunkArgs args, Scratch s, int grid) {
  __shared__ Exact warp_ex[kFinalizeThreads / kLanes];
  __shared__ alignas(StackNode) unsigned char found_mem[kMaxStack * sizeof(StackNode)];
  auto found = reinterpret_cast<StackNode*>(found_mem);
  __shared__ int found_count;
  const int t = threadIdx.x, lane = t % kLanes, warp = t / kLanes;
  // Exact fields of every warp of the grid.
  Exact ex;
  exact_init(ex);
  for (int i = t; i < grid * kWarpsPerBlock; i += kFinalizeThreads) exact_merge(ex, s.warp_exact[i]);
  warp_exact(ex);
  if (lane == 0) warp_ex[warp] = ex;
  // Histograms of every block.
  for (int i = t; i < kHist; i += kFinalizeThreads) {
    unsigned long long sum[4] = {0, 0, 0, 0};  // four loads in flight
    int b = 0;
    for (; b + 4 <= grid; b += 4)
#pragma unroll
      for (int k = 0; k < 4; ++k) sum[k] += s.block_hist[uint64_t(b + k) * kHist + i];
    for (; b < grid; ++b) sum[0] += s.block_hist[uint64_t(b) * kHist + i];
    s.result->hist[i] = sum[0] + sum[1] + sum[2] + sum[3];
  }
  // The full groups' nodes, level by level (level_pass's order, pairs in parallel).
  const uint64_t leaves = (args.n + kBlockElems - 1) / kBlockElems;
  int cc = static_cast<int>(leaves / kGroupLeaves), level = kGroupLevel, src = 0;
  if (t == 0) found_count = 0;
  __syncthreads();
  while (cc > 0) {
    if (t == 0 && (cc & 1)) found[found_count++] = StackNode{level, s.nodes[src][cc - 1]};
    const int pairs = cc / 2;
    for (int i = t; i < pairs; i += kFinalizeThreads)
      s.nodes[1 - src][i] = combine(s.nodes[src][2 * i], s.nodes[src][2 * i + 1]);
    __syncthreads();
    src = 1 - src;
    cc = pairs;
    ++level;
  }
  if (t == 0) {
    Exact all;
    exact_init(all);
    for (int w = 0; w < kFinalizeThreads / kLanes; ++w) exact_merge(all, warp_ex[w]);
    ChunkResult& res = *s.result;
    res.exact = all;
    int k = 0;
    for (int i = found_count; i-- > 0;) res.stack[k++] = found[i];
    if (leaves % kGroupLeaves)
      for (int i = 0; i < *s.tail_count; ++i) res.stack[k++] = s.tail[i];
    res.stack_size = k;
  }
}

template <int EA, int EB, bool PAIR, int TA = kAnyType, int TB = kAnyType>
const void* kernel_of() {
  return reinterpret_cast<const void*>(&leaf_groups<EA, EB, PAIR, TA, TB>);
}

// The kernel for a pair's dtypes: typed for the float pairs and sides of one dtype that models
// are made of (float32, bfloat16, float16), else the one for their element sizes.
const void* select(const PairRule& r) {
  const int ea = r.ea, eb = r.eb;
  const bool pair = r.pair;
#define TD_TYPED(T, ES)                                                                          \
  if (r.ta == DType::T && (!pair || r.tb == DType::T))                                          \
    return pair ? kernel_of<ES, ES, true, int(DType::T), int(DType::T)>()                        \
                : kernel_of<ES, ES, false, int(DType::T), int(DType::T)>();
  TD_TYPED(kF32, 4) TD_TYPED(kBF16, 2) TD_TYPED(kF16, 2)
#undef TD_TYPED
#define TD_SIDE(X) \
  if (!pair && ea == X) return kernel_of<X, X, false>();
  TD_SIDE(1) TD_SIDE(2) TD_SIDE(4) TD_SIDE(8)
#undef TD_SIDE
#define TD_PAIR(X, Y) \
  if (pair && ea == X && eb == Y) return kernel_of<X, Y, true>();
  TD_PAIR(1, 1) TD_PAIR(1, 2) TD_PAIR(1, 4) TD_PAIR(1, 8)
  TD_PAIR(2, 1) TD_PAIR(2, 2) TD_PAIR(2, 4) TD_PAIR(2, 8)
  TD_PAIR(4, 1) TD_PAIR(4, 2) TD_PAIR(4, 4) TD_PAIR(4, 8)
  TD_PAIR(8, 1) TD_PAIR(8, 2) TD_PAIR(8, 4) TD_PAIR(8, 8)
#undef TD_PAIR
  return nullptr;
}

}  // namespace

int grid_for(uint64_t groups, const PairRule& r, int sms) {
  const void* k = select(r);
  int per_sm = 1;
  if (k) cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, kThreads, 0);
  const uint64_t fit = uint64_t(sms) * (per_sm > 0 ? per_sm : 1);
  const uint64_t want = (groups + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return static_cast<int>(want < fit ? (want ? want : 1) : fit);
}

cudaError_t launch_chunk(const ChunkArgs& args, const uint8_t* d_a, const uint8_t* d_b, const Scratch& s, int grid,
                         cudaStream_t stream) {
  const void* k = select(args.r);
  if (!k) return cudaErrorInvalidValue;
  const uint8_t* b = args.r.pair ? d_b : d_a;
  void* params[] = {const_cast<ChunkArgs*>(&args), const_cast<uint8_t**>(&d_a), const_cast<uint8_t**>(&b),
                    const_cast<Scratch*>(&s)};
  cudaError_t st = cudaLaunchKernel(k, dim3(grid), dim3(kThreads), params, 0, stream);
  if (st != cudaSuccess) return st;
  finalize<<<1, kFinalizeThreads, 0, stream>>>(args, s, grid);
  return cudaGetLastError();
}

cudaError_t kernel_attributes(const PairRule& r, cudaFuncAttributes* out) {
  const void* k = select(r);
  if (!k) return cudaErrorInvalidValue;
  return cudaFuncGetAttributes(out, k);
}

}  // namespace tensordiff::cuda
