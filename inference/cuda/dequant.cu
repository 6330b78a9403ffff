// Weights to plain floats: f16 tiles of rows for the cuBLAS prompt path, f32 rows for the
// embedding lookup, and activations to f16 for cuBLAS.
#include <cuda_fp16.h>

#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels.h"
#include "inference/cuda/quant_dev.cuh"

namespace ld::cuda {

namespace {

// One thread per 8 elements: grid.x covers a row's chunks, grid.y the rows.
template <uint32_t TI, bool F16>  // the type as its number (see matvec.cu)
__global__ void dequant_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int ne0,
                               const int32_t* __restrict__ ids, int64_t row0, void* __restrict__ out) {
    constexpr GgmlType T = GgmlType(TI);
    const int i = (blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= ne0) return;
    const int r = blockIdx.y;
    const int64_t src = ids ? int64_t(ids[r]) : row0 + r;
    float v[8];
    deq8<T>(w + size_t(src) * row_bytes, i, v);
    const size_t o = size_t(r) * size_t(ne0) + size_t(i);
    if constexpr (F16) {
        uint32_t h[4];
#pragma unroll
        for (int k = 0; k < 4; ++k)
            h[k] = uint32_t(__half_as_ushort(__float2half_rn(v[2 * k]))) |
                   (uint32_t(__half_as_ushort(__float2half_rn(v[2 * k + 1]))) << 16);
        *reinterpret_cast<uint4*>(static_cast<__half*>(out) + o) = make_uint4(h[0], h[1], h[2], h[3]);
    } else {
        float4* p = reinterpret_cast<float4*>(static_cast<float*>(out) + o);
        p[0] = make_float4(v[0], v[1], v[2], v[3]);
        p[1] = make_float4(v[4], v[5], v[6], v[7]);
    }
}

// Rows of any width (F32 / F16 only): one thread per element.
template <GgmlType T>
__global__ void dequant_scalar_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int ne0,
                                      const int32_t* __restrict__ ids, int64_t row0, void* __restrict__ out,
                                      bool f16_out) {
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= ne0) return;
    const int r = blockIdx.y;
    const int64_t src = ids ? int64_t(ids[r]) : row0 + r;
    const float v = elem<T>(w + size_t(src) * row_bytes, j);
    const size_t o = size_t(r) * size_t(ne0) + size_t(j);
    if (f16_out) static_cast<__half*>(out)[o] = __float2half_rn(v);
    else static_cast<float*>(out)[o] = v;
}

__global__ void split_f16_kernel(const float* __restrict__ x, size_t n, __half* __restrict__ hi,
                                 __half* __restrict__ lo) {
    const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const __half h = __float2half_rn(x[i]);
    hi[i] = h;
    if (lo) lo[i] = __float2half_rn(x[i] - __half2float(h));
}

}  // namespace

void launch_dequant(GgmlType t, const uint8_t* w, size_t row_bytes, int ne0, const int32_t* ids,
                    int64_t row0, int n, void* out, bool f16_out, cudaStream_t s) {
    if (n <= 0) return;
    if (n > 65535) fail("CUDA dequantize: ", n, " rows in one launch (at most 65535)");
    const int threads = 128;
    if (ne0 % 8 != 0) {
        const dim3 g(unsigned((ne0 + threads - 1) / threads), unsigned(n));
        if (t == GgmlType::F32) dequant_scalar_kernel<GgmlType::F32><<<g, threads, 0, s>>>(w, row_bytes, ne0, ids, row0, out, f16_out);
        else if (t == GgmlType::F16) dequant_scalar_kernel<GgmlType::F16><<<g, threads, 0, s>>>(w, row_bytes, ne0, ids, row0, out, f16_out);
        else fail("CUDA dequantize: ", type_name(file_type(t)), " rows of ", ne0, " elements");
        LD_CUDA_LAUNCHED("dequantize (any width)");
        return;
    }
    const dim3 grid(unsigned((ne0 / 8 + threads - 1) / threads), unsigned(n));
    const bool ok = dispatch_type(t, [&](auto tag) {
        constexpr GgmlType T = decltype(tag)::value;
        if (f16_out) dequant_kernel<uint32_t(T), true><<<grid, threads, 0, s>>>(w, row_bytes, ne0, ids, row0, out);
        else dequant_kernel<uint32_t(T), false><<<grid, threads, 0, s>>>(w, row_bytes, ne0, ids, row0, out);
    });
    if (!ok) fail("the CUDA backend cannot read ", type_name(file_type(t)), " weights");
    LD_CUDA_LAUNCHED("dequantize");
}

void launch_split_f16(const float* x, size_t n, uint16_t* hi, uint16_t* lo, cudaStream_t s) {
    if (n == 0) return;
    const int threads = 256;
    split_f16_kernel<<<unsigned((n + threads - 1) / threads), threads, 0, s>>>(
        x, n, reinterpret_cast<__half*>(hi), reinterpret_cast<__half*>(lo));
    LD_CUDA_LAUNCHED("split_f16");
}

}  // namespace ld::cuda
