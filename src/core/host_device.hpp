// TD_HD marks the core's functions __host__ __device__ under nvcc: the CPU backend, the CUDA
// kernels and the engine compile the very same definitions.
#pragma once

#ifdef __CUDACC__
#define TD_HD __host__ __device__
#else
#define TD_HD
#endif
