#pragma once
// Every CUDA and cuBLAS call goes through these checks: a failure becomes an ld::Error naming
// the call, the CUDA error text and the source line, never an abort.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "inference/core/error.h"

#define LD_CUDA(call)                                                                           \
    do {                                                                                        \
        const cudaError_t ld_err_ = (call);                                                     \
        if (ld_err_ != cudaSuccess)                                                             \
            ::ld::fail("CUDA: ", #call, " failed: ", cudaGetErrorString(ld_err_), " (", __FILE__, \
                       ":", __LINE__, ")");                                                     \
    } while (0)

// After a kernel launch: configuration errors show up here, faults at the next sync.
#define LD_CUDA_LAUNCHED(what)                                                                  \
    do {                                                                                        \
        const cudaError_t ld_err_ = cudaGetLastError();                                         \
        if (ld_err_ != cudaSuccess)                                                             \
            ::ld::fail("CUDA: launching ", what, " failed: ", cudaGetErrorString(ld_err_), " (",   \
                       __FILE__, ":", __LINE__, ")");                                           \
    } while (0)

#define LD_CUBLAS(call)                                                                         \
    do {                                                                                        \
        const cublasStatus_t ld_st_ = (call);                                                   \
        if (ld_st_ != CUBLAS_STATUS_SUCCESS)                                                    \
            ::ld::fail("cuBLAS: ", #call, " failed: ", cublasGetStatusString(ld_st_), " (",       \
                       __FILE__, ":", __LINE__, ")");                                           \
    } while (0)
