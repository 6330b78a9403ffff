#include "inference/cpu/attention_tiled.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "inference/quant/quant.h"

namespace ld::cpu {

namespace {

void scores_scalar(const float* q, int rows, const float* k, int ldk, int n, int hd, float scale, float* s,
                   int lds) {
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < n; ++j) {
            float d = 0;
            for (int i = 0; i < hd; ++i) d += q[size_t(r) * hd + i] * k[size_t(j) * ldk + i];
            s[size_t(r) * lds + j] = d * scale;
        }
}

void accumulate_scalar(const float* p, int ldp, int rows, const float* v, int ldv, int n, int hd, float* o) {
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < n; ++j) {
            const float a = p[size_t(r) * ldp + j];
            for (int i = 0; i < hd; ++i) o[size_t(r) * hd + i] += a * v[size_t(j) * ldv + i];
        }
}

float exp_sum_scalar(float* s, int n, float* m) {
    float mx = *m;
    for (int j = 0; j < n; ++j) mx = std::max(mx, s[j]);
    *m = mx;
    float sum = 0;
    for (int j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
    return sum;
}

void f16_rows_scalar(const fp16_t* src, int stride, int n, int hd, float* dst) {
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < hd; ++i) dst[size_t(j) * hd + i] = fp16_to_fp32(src[size_t(j) * stride + i]);
}

constexpr TileKernels kScalar{scores_scalar, accumulate_scalar, exp_sum_scalar, f16_rows_scalar};

// A tile's scratch, carved from one float array: the running sums first (doubles need the
// array's alignment), then the running maxima, the gathered queries, the output accumulators,
// the chunk's scores, and the chunk's K and V rows converted from f16.
struct TileScratch {
    double* l;
    float *m, *q, *o, *s, *k, *v;
};

size_t tile_floats(int rows, int hd) {
    const size_t R = size_t(rows), H = size_t(hd), C = kTileChunk;
    return 2 * R + R + 2 * R * H + R * C + 2 * C * H;
}

TileScratch carve(float* base, int rows, int hd) {
    const size_t R = size_t(rows), H = size_t(hd), C = kTileChunk;
    TileScratch t;
    t.l = reinterpret_cast<double*>(base);
    t.m = base + 2 * R;
    t.q = t.m + R;
    t.o = t.q + R * H;
    t.s = t.o + R * H;
    t.k = t.s + R * C;
    t.v = t.k + C * H;
    return t;
}

int tile_tokens(int tile_rows, int group) { return std::max(1, tile_rows / group); }

}  // namespace

const TileKernels& tile_kernels_scalar() { return kScalar; }

const TileKernels& tile_kernels() {
    const TileKernels* avx2 = int(detected_isa()) >= int(Isa::AVX2) ? tile_kernels_avx2() : nullptr;
    return avx2 ? *avx2 : kScalar;
}

size_t AttentionPlan::scratch_floats(int tile_rows, int group, int head_dim, int max_positions) {
    const int rows = tile_tokens(tile_rows, group) * group;
    return std::max(tile_floats(rows, head_dim), size_t(std::max(max_positions, 1)));
}

void AttentionPlan::plan(const AttentionStep& s, int tile_rows) {
    items_.clear();
    seq_count_.assign(size_t(s.n_seqs), 0);
    for (int t = 0; t < s.n; ++t) ++seq_count_[size_t(s.seq[t])];
    seq_first_.assign(size_t(s.n_seqs), 0);
    for (int q = 1; q < s.n_seqs; ++q) seq_first_[size_t(q)] = seq_first_[size_t(q - 1)] + seq_count_[size_t(q - 1)];
    rows_.assign(size_t(s.n), 0);
    cursor_ = seq_first_;
    for (int t = 0; t < s.n; ++t) rows_[size_t(cursor_[size_t(s.seq[t])]++)] = t;
    const int group = s.n_heads / s.n_kv_heads;
    if (tile_rows <= 0) {  // the reference: every (row, head) on its own
        for (int t = 0; t < s.n; ++t)
            for (int h = 0; h < s.n_heads; ++h) items_.push_back({t, 0, h});
        return;
    }
    const int per = tile_tokens(tile_rows, group);
    for (int q = 0; q < s.n_seqs; ++q)
        for (int g = 0; g < s.n_kv_heads; ++g)
            for (int i = 0; i < seq_count_[size_t(q)]; i += per)
                items_.push_back({seq_first_[size_t(q)] + i, std::min(per, seq_count_[size_t(q)] - i), g});
}

void AttentionPlan::run(const AttentionStep& s, size_t i, const TileKernels& tk, const KvKernels& kk,
                        float* scratch) const {
    const Item& it = items_[i];
    if (it.count > 0) {
        run_tile(s, it, tk, scratch);
        return;
    }
    const int t = it.first, h = it.head, hd = s.head_dim, qd = s.n_heads * hd;
    const int g = h / (s.n_heads / s.n_kv_heads);
    const int n_kv = s.positions[t] + 1;  // causal: itself and everything before
    const KvRun* runs = s.runs + s.seq_runs[s.seq[t]];
    const float* q = s.q + size_t(t) * qd + size_t(h) * hd;
    float* out = s.out + size_t(t) * qd + size_t(h) * hd;
    if (s.f16) {
        auto* kr = static_cast<const fp16_t*>(s.k_cache) + size_t(g) * hd;
        auto* vr = static_cast<const fp16_t*>(s.v_cache) + size_t(g) * hd;
        attend_f16(kk, q, kr, vr, s.kv_stride, runs, n_kv, hd, s.scale, scratch, out);
    } else {
        auto* kr = static_cast<const float*>(s.k_cache) + size_t(g) * hd;
        auto* vr = static_cast<const float*>(s.v_cache) + size_t(g) * hd;
        attend_f32(kk, q, kr, vr, s.kv_stride, runs, n_kv, hd, s.scale, scratch, out);
    }
}

void AttentionPlan::run_tile(const AttentionStep& s, const Item& it, const TileKernels& tk, float* scratch) const {
    const int hd = s.head_dim, qd = s.n_heads * hd, group = s.n_heads / s.n_kv_heads, g = it.head;
    const int R = it.count * group;  // row r: token rows_[first + r / group], head g * group + r % group
    const int32_t* toks = rows_.data() + it.first;
    const TileScratch sc = carve(scratch, R, hd);
    int n_kv = 0;
    for (int i = 0; i < it.count; ++i) n_kv = std::max(n_kv, s.positions[toks[i]] + 1);
    for (int r = 0; r < R; ++r) {
        const float* q = s.q + size_t(toks[r / group]) * qd + size_t(g * group + r % group) * hd;
        std::memcpy(sc.q + size_t(r) * hd, q, sizeof(float) * size_t(hd));
        sc.m[r] = -INFINITY;
        sc.l[r] = 0.0;
    }
    std::memset(sc.o, 0, sizeof(float) * size_t(R) * size_t(hd));
    const KvRun* run = s.runs + s.seq_runs[s.seq[toks[0]]];
    const size_t stride = size_t(s.kv_stride), head_off = size_t(g) * size_t(hd);
    for (int j = 0; j < n_kv; ++run) {
        const int run_n = std::min(run->n, n_kv - j);
        for (int c = 0; c < run_n; c += kTileChunk) {
            const int n = std::min(kTileChunk, run_n - c), j0 = j + c;
            const size_t row0 = size_t(run->first + c) * stride + head_off;
            const float *k, *v;
            int ld;
            if (s.f16) {
                tk.f16_rows(static_cast<const fp16_t*>(s.k_cache) + row0, s.kv_stride, n, hd, sc.k);
                tk.f16_rows(static_cast<const fp16_t*>(s.v_cache) + row0, s.kv_stride, n, hd, sc.v);
                k = sc.k, v = sc.v, ld = hd;
            } else {
                k = static_cast<const float*>(s.k_cache) + row0;
                v = static_cast<const float*>(s.v_cache) + row0;
                ld = s.kv_stride;
            }
            tk.scores(sc.q, R, k, ld, n, hd, s.scale, sc.s, kTileChunk);
            // Online softmax: each row's scores of this chunk become weights relative to the
            // row's running maximum; when that maximum rises, what was summed so far (the
            // output and the weight total) is rescaled to it.
            for (int r = 0; r < R; ++r) {
                float* p = sc.s + size_t(r) * kTileChunk;
                const int nr = std::min(n, s.positions[toks[r / group]] - j0 + 1);  // causal
                if (nr <= 0) {
                    std::memset(p, 0, sizeof(float) * size_t(n));
                    continue;
                }
                const float m_old = sc.m[r];
                const float sum = tk.exp_sum(p, nr, &sc.m[r]);
                const float corr = std::exp(m_old - sc.m[r]);  // 0 on the row's first chunk
                sc.l[r] = sc.l[r] * corr + sum;
                if (nr < n) std::memset(p + nr, 0, sizeof(float) * size_t(n - nr));
                if (corr != 1.0f) {
                    float* o = sc.o + size_t(r) * hd;
                    for (int d = 0; d < hd; ++d) o[d] *= corr;
                }
            }
            tk.accumulate(sc.s, kTileChunk, R, v, ld, n, hd, sc.o);
        }
        j += run_n;
    }
    for (int r = 0; r < R; ++r) {
        float* out = s.out + size_t(toks[r / group]) * qd + size_t(g * group + r % group) * hd;
        const float inv = float(1.0 / sc.l[r]);
        const float* o = sc.o + size_t(r) * hd;
        for (int d = 0; d < hd; ++d) out[d] = o[d] * inv;
    }
}

}  // namespace ld::cpu
