#pragma once
// Kernel launches of the decode step with programmatic dependent launch (Hopper): the next
// kernel in the stream may be launched while the previous one drains, and waits for it with
// pdl_wait() before touching memory. A decode step is ~300 small kernels, each followed by a
// launch gap of a few microseconds that this overlaps. Every kernel launched through launch()
// must call pdl_wait() before its first global memory access (read or write): the wait covers
// the whole previous grid and, through it, every earlier one.
#include <cuda_runtime.h>

#include "inference/cuda/cuda_check.h"

namespace ld::cuda {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, const char* what,
            Args... args) {
#ifdef LD_CUDA_EMULATOR
    ::emu::launch(grid, block, smem, [&] { kernel(args...); });
#else
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, Params(args)...);
    if (e != cudaSuccess) ::ld::fail("CUDA: launching ", what, " failed: ", cudaGetErrorString(e));
#endif
    LD_CUDA_LAUNCHED(what);
}

}  // namespace ld::cuda
