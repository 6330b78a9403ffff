// AVX-512 activation conversion (act_quant.h); called only after the run-time ISA check. Each
// element goes through the reference's float operations (amax / 127, 1 / d, x * id or
// iscale * x), so the bytes are the reference's: only the rounding is spelled differently.
#include <immintrin.h>

#include <cstring>

#include "inference/cpu/act_quant.h"
#include "inference/quant/fp16.h"

namespace ld::cpu {

namespace {

// Not a namespace-scope constant: its initializer would run AVX-512 at start-up on any CPU.
inline __m512 abs_mask() { return _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF)); }
inline __m512 vabs(__m512 v) { return _mm512_and_ps(v, abs_mask()); }

// std::round (halves away from zero) of v, |v| < 2^23: the truncation plus one step away from
// zero when the dropped fraction (exact in float) is at least one half.
inline __m512i round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up = _mm512_cmp_ps_mask(vabs(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 step = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_andnot_ps(abs_mask(), v));  // +-1 by v's sign
    return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, step));
}

// Q8_0: d = amax / 127, q = round(x / d) (q8_0 in scalar_quantize.cpp).
void q8_0(const float* x, block_q8_0* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
        const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(vabs(a), vabs(b)));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = fp32_to_fp16(d);
        const __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs), _mm512_cvtsepi32_epi8(round_away(_mm512_mul_ps(a, vid))));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16),
                         _mm512_cvtsepi32_epi8(round_away(_mm512_mul_ps(b, vid))));
    }
}

// Q8_K: the value of largest magnitude (the first of equals) sets iscale = -127 / max; q =
// min(127, nearest even of iscale * x); bsums per 16 (q8_K in scalar_quantize.cpp).
void q8_K(const float* x, block_q8_K* y, int64_t nb) {
    constexpr int V = QK_K / 16;
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        __m512 v[V], m = _mm512_setzero_ps();
        for (int k = 0; k < V; ++k) {
            v[k] = _mm512_loadu_ps(x + 16 * k);
            m = _mm512_max_ps(m, vabs(v[k]));
        }
        const float amax = _mm512_reduce_max_ps(m);
        if (!amax) {
            std::memset(&y[i], 0, sizeof(block_q8_K));
            continue;
        }
        float max = 0;
        for (int k = 0; k < V; ++k) {
            const __mmask16 at = _mm512_cmp_ps_mask(vabs(v[k]), _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (at) {
                max = x[16 * k + __builtin_ctz(unsigned(at))];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        for (int k = 0; k < V; ++k) {
            // Round to nearest even (the MXCSR default), as nearest_int's 1.5 * 2^23 trick.
            const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vs, v[k])), _mm512_set1_epi32(127));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16 * k), _mm512_cvtsepi32_epi8(q));
            y[i].bsums[k] = int16_t(_mm512_reduce_add_epi32(q));
        }
        y[i].d = 1 / iscale;
    }
}

}  // namespace

bool quantize_act_avx512(GgmlType act_type, const float* x, void* dst, int64_t n) {
    static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    if (!ok) return false;
    switch (act_type) {
    case GgmlType::Q8_0:
        if (n % QK8_0) return false;  // the reference reports the bad length
        q8_0(x, static_cast<block_q8_0*>(dst), n / QK8_0);
        return true;
    case GgmlType::Q8_K:
        if (n % QK_K) return false;
        q8_K(x, static_cast<block_q8_K*>(dst), n / QK_K);
        return true;
    default: return false;
    }
}

}  // namespace ld::cpu
