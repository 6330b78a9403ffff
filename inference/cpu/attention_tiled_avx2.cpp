// AVX2/FMA/F16C inner loops of the tiled attention (attention_tiled.h); used only after a
// run-time CPU check. Scores block 4 query rows x 2 key rows so each loaded key vector feeds
// four FMAs; the weighted sum of values blocks 2 rows x 32 dimensions so each value vector
// feeds two.
#include <immintrin.h>

#include <cmath>

#include "inference/cpu/attention_tiled.h"
#include "inference/cpu/exp_avx2.h"

namespace ld::cpu {

namespace {

inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

// Horizontal sums in one order, ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)), whether one
// vector is summed or eight at once: a row's scores then have the same bits wherever the row
// sits in its tile, so a sequence's rows do not depend on how the step was tiled.
inline float hsum_tree(__m256 v) {
    const __m256 h = _mm256_hadd_ps(v, v);
    const __m256 q = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(q), _mm256_extractf128_ps(q, 1)));
}

// The eight horizontal sums of a0..a7 as one vector (lane i: sum of ai).
inline __m256 hsum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6, __m256 a7) {
    const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Scores of NR query rows against key rows j and j + 1.
template <int NR>
inline void scores_pair(const float* q, int hd, const float* k0, const float* k1, float* out0, float* out1) {
    __m256 a0[NR], a1[NR];
    for (int i = 0; i < NR; ++i) a0[i] = a1[i] = _mm256_setzero_ps();
    const int hd8 = hd & ~7;
    for (int d = 0; d < hd8; d += 8) {
        const __m256 kv0 = _mm256_loadu_ps(k0 + d), kv1 = _mm256_loadu_ps(k1 + d);
        for (int i = 0; i < NR; ++i) {
            const __m256 qv = _mm256_loadu_ps(q + size_t(i) * hd + d);
            a0[i] = _mm256_fmadd_ps(qv, kv0, a0[i]);
            a1[i] = _mm256_fmadd_ps(qv, kv1, a1[i]);
        }
    }
    float s0[NR], s1[NR];
    if constexpr (NR == 4) {
        alignas(32) float t[8];
        _mm256_store_ps(t, hsum8(a0[0], a1[0], a0[1], a1[1], a0[2], a1[2], a0[3], a1[3]));
        for (int i = 0; i < 4; ++i) s0[i] = t[2 * i], s1[i] = t[2 * i + 1];
    } else {
        for (int i = 0; i < NR; ++i) s0[i] = hsum_tree(a0[i]), s1[i] = hsum_tree(a1[i]);
    }
    for (int d = hd8; d < hd; ++d)
        for (int i = 0; i < NR; ++i) {
            // Explicit FMAs: contraction left to the compiler may differ between NR's.
            s0[i] = std::fma(q[size_t(i) * hd + d], k0[d], s0[i]);
            s1[i] = std::fma(q[size_t(i) * hd + d], k1[d], s1[i]);
        }
    for (int i = 0; i < NR; ++i) out0[i] = s0[i], out1[i] = s1[i];
}

template <int NR>
void scores_rows(const float* q, const float* k, int ldk, int n, int hd, float scale, float* s, int lds) {
    float s0[NR], s1[NR];
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        scores_pair<NR>(q, hd, k + size_t(j) * ldk, k + size_t(j + 1) * ldk, s0, s1);
        for (int i = 0; i < NR; ++i) {
            s[size_t(i) * lds + j] = s0[i] * scale;
            s[size_t(i) * lds + j + 1] = s1[i] * scale;
        }
    }
    if (j < n) {  // the odd last key: paired with itself
        scores_pair<NR>(q, hd, k + size_t(j) * ldk, k + size_t(j) * ldk, s0, s1);
        for (int i = 0; i < NR; ++i) s[size_t(i) * lds + j] = s0[i] * scale;
    }
}

void scores(const float* q, int rows, const float* k, int ldk, int n, int hd, float scale, float* s, int lds) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) scores_rows<4>(q + size_t(r) * hd, k, ldk, n, hd, scale, s + size_t(r) * lds, lds);
    for (; r < rows; ++r) scores_rows<1>(q + size_t(r) * hd, k, ldk, n, hd, scale, s + size_t(r) * lds, lds);
}

// o[r][d0, d0 + 8 NB) += sum_j p[r][j] v[j][d0, ...) for NR rows.
template <int NR, int NB>
inline void accumulate_block(const float* p, int ldp, const float* v, int ldv, int n, int hd, float* o, int d0) {
    __m256 acc[NR][NB];
    for (int i = 0; i < NR; ++i)
        for (int b = 0; b < NB; ++b) acc[i][b] = _mm256_loadu_ps(o + size_t(i) * hd + d0 + 8 * b);
    for (int j = 0; j < n; ++j) {
        __m256 vv[NB];
        for (int b = 0; b < NB; ++b) vv[b] = _mm256_loadu_ps(v + size_t(j) * ldv + d0 + 8 * b);
        for (int i = 0; i < NR; ++i) {
            const __m256 pj = _mm256_broadcast_ss(p + size_t(i) * ldp + j);
            for (int b = 0; b < NB; ++b) acc[i][b] = _mm256_fmadd_ps(pj, vv[b], acc[i][b]);
        }
    }
    for (int i = 0; i < NR; ++i)
        for (int b = 0; b < NB; ++b) _mm256_storeu_ps(o + size_t(i) * hd + d0 + 8 * b, acc[i][b]);
}

template <int NR>
void accumulate_rows(const float* p, int ldp, const float* v, int ldv, int n, int hd, float* o) {
    const int hd8 = hd & ~7;
    int d = 0;
    for (; d + 32 <= hd8; d += 32) accumulate_block<NR, 4>(p, ldp, v, ldv, n, hd, o, d);
    for (; d < hd8; d += 8) accumulate_block<NR, 1>(p, ldp, v, ldv, n, hd, o, d);
    for (; d < hd; ++d)
        for (int i = 0; i < NR; ++i) {
            float a = o[size_t(i) * hd + d];
            for (int j = 0; j < n; ++j) a = std::fma(p[size_t(i) * ldp + j], v[size_t(j) * ldv + d], a);
            o[size_t(i) * hd + d] = a;
        }
}

void accumulate(const float* p, int ldp, int rows, const float* v, int ldv, int n, int hd, float* o) {
    int r = 0;
    for (; r + 2 <= rows; r += 2)
        accumulate_rows<2>(p + size_t(r) * ldp, ldp, v, ldv, n, hd, o + size_t(r) * hd);
    if (r < rows) accumulate_rows<1>(p + size_t(r) * ldp, ldp, v, ldv, n, hd, o + size_t(r) * hd);
}

float exp_sum(float* s, int n, float* m) {
    const int n8 = n & ~7;
    __m256 vmax = _mm256_set1_ps(*m);
    for (int j = 0; j < n8; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(s + j));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    float mx = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
    for (int j = n8; j < n; ++j) mx = s[j] > mx ? s[j] : mx;
    *m = mx;
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < n8; j += 8) {
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    if (n8 < n) {  // the tail through a padded vector, so every weight comes from the same exp
        alignas(32) float t[8];
        for (int i = 0; i < 8; ++i) t[i] = n8 + i < n ? s[n8 + i] - mx : -INFINITY;
        const __m256 x = _mm256_load_ps(t);
        const __m256 e = _mm256_and_ps(exp_ps(x), _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_NEQ_OQ));
        _mm256_store_ps(t, e);
        for (int i = 0; n8 + i < n; ++i) s[n8 + i] = t[i];
        acc = _mm256_add_ps(acc, e);
    }
    return hsum(acc);
}

void f16_rows(const fp16_t* src, int stride, int n, int hd, float* dst) {
    const int hd8 = hd & ~7;
    for (int j = 0; j < n; ++j) {
        const fp16_t* a = src + size_t(j) * stride;
        float* b = dst + size_t(j) * hd;
        int d = 0;
        for (; d < hd8; d += 8)
            _mm256_storeu_ps(b + d, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + d))));
        for (; d < hd; ++d) b[d] = fp16_to_fp32(a[d]);
    }
}

constexpr TileKernels kAvx2{scores, accumulate, exp_sum, f16_rows};

}  // namespace

const TileKernels* tile_kernels_avx2() {
    static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                           __builtin_cpu_supports("f16c");
    return ok ? &kAvx2 : nullptr;
}

}  // namespace ld::cpu
