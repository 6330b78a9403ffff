// AVX2 + FMA + F16C kernels (compiled with those flags; only called when detected_isa() allows).
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "inference/quant/types.h"
#include "inference/quant/quant.h"

namespace ld::detail {
namespace avx2_impl {
// 16 ymm registers: 4x2 accumulators plus the unpacked blocks fit without spilling.
constexpr int kMatvecRows = 4, kMatmulRows = 4, kMatmulCols = 2;
#define LD_VNNI 0
#include "inference/quant/simd_kernels.inc"
#undef LD_VNNI
}  // namespace avx2_impl

bool avx2_built() { return true; }
VecDotFn avx2_vec_dot(GgmlType t) { return avx2_impl::simd_vec_dot(t); }
bool avx2_matvec(GgmlType t, int64_t n, const void* W, const void* xq, float* y, int64_t r0, int64_t r1) {
    return avx2_impl::simd_matvec(t, n, W, xq, y, r0, r1);
}
bool avx2_matmul(GgmlType t, int64_t n, const void* W, const void* xq, int64_t nb, float* y,
                 int64_t ldy, int64_t r0, int64_t r1) {
    return avx2_impl::simd_matmul(t, n, W, xq, nb, y, ldy, r0, r1);
}

}  // namespace ld::detail
