#pragma once
// Internal interface between the dispatcher (quant.cpp), the scalar reference kernels and the
// per-ISA kernel files. Not part of the public API.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "inference/quant/quant.h"

namespace ld::detail {

// ggml's nearest_int: round-to-nearest-even via the 1.5*2^23 trick (|v| <= 4194303).
inline int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int i;
    std::memcpy(&i, &val, sizeof(int));
    return (i & 0x007fffff) - 0x00400000;
}

// 6-bit scale and min j (0..7) of a Q4_K/Q5_K super-block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

// Scalar reference kernels (scalar_*.cpp). Return false / nullptr for a type they lack.
bool scalar_dequantize(GgmlType t, const void* src, float* dst, int64_t n);
bool scalar_quantize(GgmlType t, const float* src, void* dst, int64_t n);
VecDotFn scalar_vec_dot(GgmlType t);

// Per-ISA kernels (*_avx2.cpp / *_avx512.cpp). Only called after detected_isa() allows it.
// matvec/matmul return false for a type they do not specialise (the caller falls back to
// a loop over vec_dot).
VecDotFn avx2_vec_dot(GgmlType t);
bool avx2_matvec(GgmlType t, int64_t n, const void* W, const void* xq, float* y, int64_t r0,
                 int64_t r1);
bool avx2_matmul(GgmlType t, int64_t n, const void* W, const void* xq, int64_t nb, float* y,
                 int64_t ldy, int64_t r0, int64_t r1);
VecDotFn avx512_vec_dot(GgmlType t);
bool avx512_matvec(GgmlType t, int64_t n, const void* W, const void* xq, float* y, int64_t r0,
                   int64_t r1);
bool avx512_matmul(GgmlType t, int64_t n, const void* W, const void* xq, int64_t nb, float* y,
                   int64_t ldy, int64_t r0, int64_t r1);
// Packed-layout kernels (repack.h); arguments already checked, r0 < r1 <= rows, nb >= 1.
void avx512_packed_matmul(GgmlType t, int64_t n, const void* P, const void* xq, int64_t nb, float* y,
                          int64_t ldy, int64_t r0, int64_t r1);
// Whether the build contains the kernel files at all (false when compiled for non-x86).
bool avx2_built();
bool avx512_built();

}  // namespace ld::detail
