// AVX-512 (F/BW/VL/DQ + VNNI) kernels: the shared tile kernels on 256-bit vectors with VPDPBUSD
// and 32 vector registers for wider matmul tiles. 256-bit keeps clocks high on Intel and is
// what Zen 4 executes natively; the gain over AVX2 is VNNI and the register count.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "inference/quant/types.h"
#include "inference/quant/quant.h"

namespace ld::detail {
namespace avx512_impl {
constexpr int kMatvecRows = 4, kMatmulRows = 4, kMatmulCols = 4;
#define LD_VNNI 1
// GCC 12's AVX-512 intrinsics self-initialise their _mm512_undefined_* temporaries and trip
// -Wuninitialized at every use; the warning is spurious.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "inference/quant/simd_kernels.inc"
#pragma GCC diagnostic pop
#undef LD_VNNI
}  // namespace avx512_impl

bool avx512_built() { return true; }
VecDotFn avx512_vec_dot(GgmlType t) { return avx512_impl::simd_vec_dot(t); }
bool avx512_matvec(GgmlType t, int64_t n, const void* W, const void* xq, float* y, int64_t r0, int64_t r1) {
    return avx512_impl::simd_matvec(t, n, W, xq, y, r0, r1);
}
bool avx512_matmul(GgmlType t, int64_t n, const void* W, const void* xq, int64_t nb, float* y,
                   int64_t ldy, int64_t r0, int64_t r1) {
    return avx512_impl::simd_matmul(t, n, W, xq, nb, y, ldy, r0, r1);
}

}  // namespace ld::detail
