// Flash-decoding, part 1: attention of one query token split across workgroups along the
// context. Workgroup (x, c) takes KV head x / n_sub and, of the query heads sharing it (the
// group), up to GMAX starting at (x % n_sub) * GMAX, over cached positions
// c * chunk .. min((c + 1) * chunk, n_kv). Each K and V row is read once for all those heads
// (a workgroup per query head would read them G times, 4 for the 8B).
// The 8B (8 KV heads of 4) at 4096 positions: 8 x 64 workgroups of one 64-position tile each.
// Per head it writes the unnormalized output with its running max and exp-sum, the partials'
// layout attention_combine.comp merges (per query head h: slot h * n_split + c).
//
// The chunk is walked in tiles of 64 positions with a streaming softmax, 3 barriers a tile:
//   1. scores: a thread pair per position, each thread dotting half of the K row (16-byte loads
//      where head_dim % 8 == 0, the pair's two vectors adjacent) with the heads' queries in
//      shared memory (the same address across the pairs: a broadcast);
//   2. 16 threads per head add the pairs' halves and take the max of 4 positions each;
//   3. the same threads take the tile's max (and the running one), write the exp weights and
//      the new max;
//   4. P.V: rows of NL threads, each thread 4 dims of a V row (one 8-byte load), all heads at
//      once; the 128 / NL row groups take every (128 / NL)-th row of the tile. The first rows'
//      loads are issued before the scores so both round trips to memory overlap. The exp-sum
//      is kept per row group alongside the output (no reduction of it per tile).
// At the end the row groups' sums are added in shared memory (reusing the queries' space).
// Shared memory: 14.5 KB, under the 16 KB every Vulkan device offers.
// No subgroup operations: nothing depends on the subgroup size (lavapipe 8, NVIDIA 32, AMD 64).
// attention_split.comp reads cache row = position; attention_split_paged.comp (PAGED) reads the
// rows of each 64-position tile (one cache block) from the sequence's block table.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "common/push_constants.h"
#include "common/paged_kv.h"

// 128 threads: a pair per position of a 64-position tile, and 4 row groups of 32 at head_dim
// 128 (the 8B). Fewer would leave an NVIDIA SM short of loads in flight at one chunk per
// workgroup; more would split the P.V rows further and grow the final reduction.
#define WG 128
#define TILE 64
// Query heads per workgroup, 4 or 8 (specialization constant 0; the host picks the smallest that
// holds the group, so a group of 4, the 8B's, keeps half the registers); larger groups take several.
layout(constant_id = 0) const uint GMAX = 8;
#define MAX_HEAD_DIM 256
#define HD4 (MAX_HEAD_DIM / 4)
#define SEG (WG / GMAX)   // threads per head in steps 2-3 (16 or 32), TILE / SEG positions each
#define PPS (TILE / SEG)
#define U 8               // V rows a thread has in flight (8 x 8 bytes)
#define NEG_BIG -1.0e30
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float16_t kc[]; };
layout(std430, binding = 1) readonly buffer KC8 { uvec4 kc8[]; };  // 8 halves per load
layout(std430, binding = 2) readonly buffer VC { float16_t vc[]; };
layout(std430, binding = 2) readonly buffer VC4 { uvec2 vc4[]; };  // 4 halves per load
// (n_heads, n_split, head_dim) outputs, then (n_heads, n_split) maxima, then sums
layout(std430, binding = 3) writeonly buffer P { float part[]; };
layout(push_constant) uniform PC { AttentionSplitPC p; };
#ifdef PAGED
layout(std430, binding = 4) readonly buffer Tables { int tables[]; };  // the sequence's block table
#if TILE != LD_KV_BLOCK
#error "a paged tile must be one cache block"
#endif
// The cache row of position tb (a multiple of TILE; chunks are whole tiles); the tile's other
// positions follow it.
#define kv_tile(tb) (uint(tables[(tb) / uint(TILE)]) * uint(TILE))
#else
#define kv_tile(tb) (tb)
#endif

// (GMAX, HD4) queries * scale, zero past head_dim; after the last tile, the row groups' output
// sums: (heads of a round, WG threads) vec4s.
shared vec4 qs[GMAX * HD4];
shared float sc[GMAX * WG];          // (head, thread) score halves; at the end the exp-sums
shared float smax[GMAX * SEG];       // (head, segment) maxima of PPS positions
shared vec4 sp[TILE * (GMAX / 4)];   // (position, head) exp weights, heads in vec4s
shared float smn[GMAX];              // the tile's new max per head

// This thread's 4 halves of V row `row` (KV head at column kbase) as two f16 pairs; see main for
// which dims. Past head_dim: 0.
uvec2 load_v(uint row, uint lane, uint nl, uint hd, bool v4, uint kvd, uint kbase) {
    const uint b = row * kvd + kbase;
    if (v4) return vc4[b / 4u + lane];
    vec4 f = vec4(0.0);
    [[unroll]] for (uint k = 0u; k < 4u; ++k) {
        const uint d = lane + k * nl;
        if (d < hd) f[k] = float(vc[b + d]);
    }
    return uvec2(packHalf2x16(f.xy), packHalf2x16(f.zw));
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint hd = p.head_dim, kvd = p.n_kv_heads * hd, group = p.n_heads / p.n_kv_heads;
    const uint n_sub = (group + GMAX - 1u) / GMAX;
    const uint kvh = gl_WorkGroupID.x / n_sub, sub = gl_WorkGroupID.x % n_sub, c = gl_WorkGroupID.y;
    const uint h0 = kvh * group + sub * GMAX;  // first query head of the workgroup
    const uint ng = min(uint(GMAX), group - sub * GMAX);
    const uint begin = c * p.chunk, end = min(begin + p.chunk, p.n_kv);  // never empty (n_split = ceil)
    const uint kbase = kvh * hd;

    // P.V layout: NL threads across a row, 4 dims each: 4 l .. 4 l + 3 read as one uvec2 where
    // head_dim % 4 == 0 (rows start 8-byte aligned), else dims l, l + NL, l + 2 NL, l + 3 NL.
    const bool v4 = hd % 4u == 0u;
    const uint NL = (hd + 3u) / 4u, NRG = WG / NL;
    const uint lane = tid % NL, rg = tid / NL;
    const bool pv = rg < NRG;  // threads past the last whole row group idle in P.V

    uvec2 vw[U];
    [[unroll]] for (uint u = 0u; u < U; ++u) vw[u] = uvec2(0u);
    const uint len0 = min(uint(TILE), end - begin);
    [[unroll]] for (uint u = 0u; u < U; ++u) {
        const uint r = rg + u * NRG;
        if (pv && r < len0) vw[u] = load_v(kv_tile(begin) + r, lane, NL, hd, v4, kvd, kbase);
    }

    for (uint x = tid; x < ng * HD4; x += WG) {
        const uint g = x / HD4, d = 4u * (x % HD4), qb = (h0 + g) * hd;
        vec4 v = vec4(0.0);
        [[unroll]] for (uint k = 0u; k < 4u; ++k)
            if (d + k < hd) v[k] = q[qb + d + k] * p.scale;
        qs[x] = v;
    }
    barrier();

    const uint pair = tid >> 1, half_ = tid & 1u;
    const bool wide = hd % 8u == 0u;
    float m_run[GMAX], l_run[GMAX];
    vec4 acc[GMAX];
    [[unroll]] for (uint g = 0u; g < GMAX; ++g) {
        m_run[g] = NEG_BIG;
        l_run[g] = 0.0;
        acc[g] = vec4(0.0);
    }

    for (uint tb = begin; tb < end; tb += TILE) {
        const uint len = min(uint(TILE), end - tb);
        const uint rb = kv_tile(tb);  // cache row of the tile's first position
        if (tb != begin) {
            [[unroll]] for (uint u = 0u; u < U; ++u) {
                const uint r = rg + u * NRG;
                if (pv && r < len) vw[u] = load_v(rb + r, lane, NL, hd, v4, kvd, kbase);
            }
        }

        // 1. Scores, half a row each.
        float s[GMAX];
        [[unroll]] for (uint g = 0u; g < GMAX; ++g) s[g] = 0.0;
        if (pair < len) {
            const uint kb = (rb + pair) * kvd + kbase;
            if (wide) {
                const uint nv = hd / 8u;
                for (uint v0 = 0u; v0 < nv; v0 += 16u) {  // 8 loads in flight a thread
                    uvec4 kw[8];
                    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
                        const uint v = v0 + 2u * i + half_;
                        if (v < nv) kw[i] = kc8[kb / 8u + v];
                    }
                    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
                        const uint v = v0 + 2u * i + half_;
                        if (v >= nv) break;
                        const vec4 ka = vec4(unpackHalf2x16(kw[i].x), unpackHalf2x16(kw[i].y));
                        const vec4 kz = vec4(unpackHalf2x16(kw[i].z), unpackHalf2x16(kw[i].w));
                        [[unroll]] for (uint g = 0u; g < GMAX; ++g)
                            if (g < ng) s[g] += dot(ka, qs[g * HD4 + 2u * v]) + dot(kz, qs[g * HD4 + 2u * v + 1u]);
                    }
                }
            } else {
                for (uint d = half_; d < hd; d += 2u) {
                    const float k = float(kc[kb + d]);
                    [[unroll]] for (uint g = 0u; g < GMAX; ++g)
                        if (g < ng) s[g] += qs[g * HD4 + d / 4u][d % 4u] * k;
                }
            }
        }
        [[unroll]] for (uint g = 0u; g < GMAX; ++g)
            if (g < ng) sc[g * WG + tid] = s[g];
        barrier();

        // 2. Thread (head hg, segment sg): the scores of positions PPS sg .. + PPS - 1, their max.
        const uint hg = tid / SEG, sg = tid % SEG;
        float sv[PPS];
        if (hg < ng) {
            float mx = NEG_BIG;
            [[unroll]] for (uint k = 0u; k < PPS; ++k) {
                const uint j = sg * PPS + k;
                sv[k] = j < len ? sc[hg * WG + 2u * j] + sc[hg * WG + 2u * j + 1u] : NEG_BIG;
                mx = max(mx, sv[k]);
            }
            smax[hg * SEG + sg] = mx;
        }
        barrier();

        // 3. The head's new max (over the tile and the chunk so far), the tile's exp weights.
        if (hg < ng) {
            float mn = NEG_BIG;
            [[unroll]] for (uint g = 0u; g < GMAX; ++g)
                if (g == hg) mn = m_run[g];
            [[unroll]] for (uint k = 0u; k < SEG; ++k) mn = max(mn, smax[hg * SEG + k]);
            [[unroll]] for (uint k = 0u; k < PPS; ++k) {
                const uint j = sg * PPS + k;
                sp[j * (GMAX / 4u) + hg / 4u][hg % 4u] = j < len ? exp(sv[k] - mn) : 0.0;
            }
            if (sg == 0u) smn[hg] = mn;
        }
        barrier();

        // 4. Rescale to the new max, then P.V over this thread's rows of the tile.
        [[unroll]] for (uint g = 0u; g < GMAX; ++g) {
            if (g < ng) {
                const float mn = smn[g], corr = exp(m_run[g] - mn);
                m_run[g] = mn;
                l_run[g] *= corr;
                acc[g] *= corr;
            }
        }
        if (pv) {
            for (uint u0 = 0u; rg + u0 * NRG < len; u0 += U) {
                if (u0 > 0u) {
                    [[unroll]] for (uint u = 0u; u < U; ++u) {
                        const uint r = rg + (u0 + u) * NRG;
                        if (r < len) vw[u] = load_v(rb + r, lane, NL, hd, v4, kvd, kbase);
                    }
                }
                [[unroll]] for (uint u = 0u; u < U; ++u) {
                    const uint r = rg + (u0 + u) * NRG;
                    if (r >= len) break;  // rows past the end may hold anything (0 * NaN)
                    const vec4 v = vec4(unpackHalf2x16(vw[u].x), unpackHalf2x16(vw[u].y));
                    const vec4 pa = sp[r * (GMAX / 4u)];
                    const vec4 pb = ng > 4u ? sp[r * (GMAX / 4u) + 1u] : vec4(0.0);
                    [[unroll]] for (uint g = 0u; g < GMAX; ++g) {
                        if (g < ng) {
                            const float w = g < 4u ? pa[g] : pb[g & 3u];
                            acc[g] += w * v;
                            l_run[g] += w;
                        }
                    }
                }
            }
        }
    }

    // The row groups' sums. The last tile's barriers are behind every read of qs (step 1) and
    // sc (step 2), so the first round writes without another; heads go in rounds of GMAX / 2
    // (qs holds (GMAX / 2) x WG vec4s).
    [[unroll]] for (uint g = 0u; g < GMAX; ++g)
        if (g < ng) sc[g * WG + tid] = l_run[g];
    const uint n = p.n_heads * p.n_split;
    for (uint r0 = 0u; r0 < ng; r0 += GMAX / 2u) {
        if (r0 > 0u) barrier();  // the previous round has read qs
        [[unroll]] for (uint g = 0u; g < GMAX; ++g)
            if (g >= r0 && g < min(r0 + GMAX / 2u, ng)) qs[(g - r0) * WG + tid] = acc[g];
        barrier();
        const uint rn = min(GMAX / 2u, ng - r0);
        for (uint x = tid; x < rn * hd; x += WG) {
            const uint g = x / hd, d = x % hd;
            const uint l = v4 ? d / 4u : d % NL, k = v4 ? d % 4u : d / NL;
            float a = 0.0;
            for (uint r = 0u; r < NRG; ++r) a += qs[g * WG + r * NL + l][k];
            part[((h0 + r0 + g) * p.n_split + c) * hd + d] = a;
        }
    }
    if (tid < ng) {
        float l = 0.0;
        for (uint r = 0u; r < NRG; ++r) l += sc[tid * WG + r * NL];
        const uint slot = (h0 + tid) * p.n_split + c;
        part[n * hd + slot] = smn[tid];
        part[n * hd + n + slot] = l;
    }
}
