#pragma once
#define LD_CUDA_EMULATOR 1  // inference/cuda/launch.cuh launches through emu::launch
// The CUDA runtime API subset the plugin uses, for the emulator in tests/cuda/emu (see emu.cpp).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
struct dim3 {
    unsigned x = 1, y = 1, z = 1;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct uint2 { uint32_t x, y; };
struct uint4 { uint32_t x, y, z, w; };
struct int4 { int x, y, z, w; };
inline int4 make_int4(int a, int b, int c, int d) { return {a, b, c, d}; }
// Signed 4-way byte dot product plus c.
inline int __dp4a(int a, int b, int c) {
    for (int k = 0; k < 4; ++k) c += int(int8_t(uint32_t(a) >> (8 * k))) * int(int8_t(uint32_t(b) >> (8 * k)));
    return c;
}
inline int __float2int_rn(float f) { return int(std::nearbyint(f)); }
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline uint2 make_uint2(uint32_t a, uint32_t b) { return {a, b}; }
inline uint4 make_uint4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return {a, b, c, d}; }
inline int min(int a, int b) { return a < b ? a : b; }
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
// Blocks run one at a time on one OS thread, and a thread yields only at barriers and shuffles:
// plain read-modify-writes are atomic here, and every write is visible at once.
template <typename T> inline T atomicAdd(T* p, T v) { const T old = *p; *p = old + v; return old; }
inline void __threadfence() {}
inline float __int_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s) {
    uint8_t b[8]; std::memcpy(b, &x, 4); std::memcpy(b + 4, &y, 4);
    uint32_t r = 0;
    for (int k = 0; k < 4; ++k) r |= uint32_t(b[(s >> (4 * k)) & 7]) << (8 * k);
    return r;
}
namespace emu {
dim3 cur_tid();
extern dim3 g_blockIdx, g_blockDim, g_gridDim;
void syncthreads();
uint64_t shfl_bits(uint64_t v, int o);
void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body);
void* dyn_smem();
template <typename T> T shfl_xor(T v, int o) {
    uint64_t b = 0; std::memcpy(&b, &v, sizeof(T));
    b = shfl_bits(b, o);
    T r; std::memcpy(&r, &b, sizeof(T));
    return r;
}
}  // namespace emu
#define threadIdx (::emu::cur_tid())
#define blockIdx (::emu::g_blockIdx)
#define blockDim (::emu::g_blockDim)
#define gridDim (::emu::g_gridDim)
inline void __syncthreads() { emu::syncthreads(); }
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int o) { return emu::shfl_xor(v, o); }

enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorStreamCaptureUnsupported = 900 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaStreamCaptureMode { cudaStreamCaptureModeThreadLocal = 1 };
#define cudaStreamNonBlocking 1
struct CUstream_st; typedef CUstream_st* cudaStream_t;
struct CUgraph_st; typedef CUgraph_st* cudaGraph_t;
struct CUgraphExec_st; typedef CUgraphExec_st* cudaGraphExec_t;
struct cudaDeviceProp { char name[256]; size_t totalGlobalMem; int multiProcessorCount; int major, minor; };
cudaError_t cudaMalloc(void** p, size_t n);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t n);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind k);
cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t st = nullptr);
cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t st = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned f);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t e);
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int dev);
cudaError_t cudaSetDevice(int dev);
cudaError_t cudaMemGetInfo(size_t* f, size_t* t);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode m);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s);
cudaError_t cudaGraphDestroy(cudaGraph_t g);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e);
