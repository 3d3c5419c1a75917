// TD_HD marks the core's functions __host__ __device__ under nvcc: the CPU backend, the CUDA
// kernels and the engine compile the very same definitions.
#pragma once

#ifdef __CUDACC__
#define TD_HD __host__ __device__
#else
#define TD_HD
#endif

// Loops over a lane's fixed-size arrays must unroll on the device, or the arrays go to local
// memory; host compilers vectorise them on their own.
#ifdef __CUDA_ARCH__
#define TD_UNROLL _Pragma("unroll")
#else
#define TD_UNROLL
#endif
