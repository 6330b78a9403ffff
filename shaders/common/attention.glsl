// Causal GQA attention of a batch of tokens (a prompt: n_tokens query tokens at positions
// pos .. pos + n_tokens - 1, already in the cache) over the f16 KV cache:
// out = softmax(q . K^T * scale) V, token t seeing positions < pos + t + 1.
// attention.comp reads cache row = position; attention_paged.comp (PAGED) takes a batch of
// several sequences: workgroup y takes the query tokens of tiles[y] (AttentionTile in
// common/paged_kv.h: consecutive positions of one sequence) instead of y * TQ .., and the cache
// rows of each 64-position tile from the sequence's block table (a tile is one block, so the
// loads stay the same). R is then the tile's tokens x GW.
//
// Workgroup (x, y) takes KV head x / n_sub and, of the G query heads sharing it, GW heads from
// (x % n_sub) * GW, for TQ consecutive tokens from y * TQ: R = TQ x GW query rows (row r: token
// r / GW, head r % GW), up to CAP = 16 (8 where head_dim > 128, so that the queries fit in
// shared memory). Each K and V row is thus read once for R rows instead of once per (head,
// token); the 8B (groups of 4, head_dim 128) at a 512-token prompt: 4 tokens x 4 heads, 8 KV
// heads x 128 token tiles = 1024 workgroups. Ops::attention computes the same layout:
//   n_sub = ceil(G / CAP), GW = ceil(G / n_sub), TQ = min(CAP / GW, n_tokens).
//
// The positions the tile's last token sees are walked in tiles of 64 with a streaming softmax,
// 4 barriers a tile:
//   1. scores: a thread per (position, half of the rows) dots the K row (16-byte loads where
//      head_dim % 8 == 0) with its rows' queries in shared memory (the same address across a
//      warp: a broadcast) and writes them to sc, position-major;
//   2. 8 threads per row take the max of 8 positions each, masked per row (causality per token);
//   3. the same threads take the row's new max and overwrite the scores with the exp weights
//      (0 where masked: the cache rows there are real data of later tokens, or stale);
//   4. P.V: thread (row set, lane) takes up to 4 rows x 4 dims (one 8-byte load of a V row, the
//      first 8 rows of the tile issued before the scores) over all of the tile's positions, the
//      weights of its 4 rows one 16-byte shared read a position; the exp-sum is kept alongside.
//      The tile's sums are added to the running ones rescaled to the new max (f32 rounding grows
//      with 64 + n / 64 terms, not n: at 8k positions 4x closer to exact than the CPU kernel).
// The barrier closing a tile (P.V done with sc) sits in step 1 of the next, after the K loads
// and dot products, so that fast threads start on the next tile's keys.
// Shared memory: 13.6 KB, under the 16 KB every Vulkan device offers.
// No subgroup operations: nothing depends on the subgroup size (lavapipe 8, NVIDIA 32, AMD 64).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : require
#include "common/push_constants.h"
#include "common/paged_kv.h"

#define WG 128
#define TILE 64
#define CAP 16            // query rows a workgroup at most (8 where head_dim > 128)
#define SCS 20            // sc's stride a position: 16 rows + 4 (vec4-aligned rows, fewer bank conflicts)
#define QCAP 512          // vec4s of queries: 16 rows at head_dim 128, 8 at 256
#define RH_MAX (CAP / 2)  // rows a thread scores
#define SEG 8             // threads per row in steps 2-3, PPS positions each
#define PPS (TILE / SEG)
#define U 8               // V rows a thread has in flight (8 x 8 bytes)
#define NEG_BIG -1.0e30
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float16_t kc[]; };
layout(std430, binding = 1) readonly buffer KC8 { uvec4 kc8[]; };  // 8 halves per load
layout(std430, binding = 2) readonly buffer VC { float16_t vc[]; };
layout(std430, binding = 2) readonly buffer VC4 { uvec2 vc4[]; };  // 4 halves per load
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { AttentionPC p; };
#ifdef PAGED
layout(std430, binding = 4) readonly buffer Tiles { AttentionTile tiles[]; };
layout(std430, binding = 5) readonly buffer Tables { int tables[]; };  // block tables
#if TILE != LD_KV_BLOCK
#error "a paged tile must be one cache block"
#endif
#endif

shared vec4 qs[QCAP];                // (R, ceil(head_dim / 4)) queries * scale, zero past head_dim
shared vec4 sc[TILE * SCS / 4];      // (position, row) scores, then exp weights
shared float smax[CAP * SEG];        // (row, segment) maxima of PPS positions
shared float smn[CAP];               // the tile's new max per row

float sc_get(uint i) { return sc[i / 4u][i % 4u]; }
void sc_set(uint i, float v) { sc[i / 4u][i % 4u] = v; }

// The exp weights of rows r0 .. r0 + rpt - 1 at position j (one read where rpt == 4: r0 % 4 == 0).
vec4 weights(uint j, uint r0, uint rpt) {
    if (rpt == 4u) return sc[j * (SCS / 4u) + r0 / 4u];
    vec4 w = vec4(0.0);
    [[unroll]] for (uint i = 0u; i < 3u; ++i)
        if (i < rpt) w[i] = sc_get(j * SCS + r0 + i);
    return w;
}

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

// The cache row of position tb (a multiple of TILE) of this workgroup's sequence; the tile's
// other positions follow it.
#ifdef PAGED
#define kv_tile(tb) (uint(tables[tile.table + (tb) / uint(TILE)]) * uint(TILE))
#else
#define kv_tile(tb) (tb)
#endif

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint hd = p.head_dim, hd4 = (hd + 3u) / 4u, kvd = p.n_kv_heads * hd, qd = p.n_heads * hd;
    const uint group = p.n_heads / p.n_kv_heads;
    const uint cap = hd <= 128u ? CAP : CAP / 2u;
    const uint n_sub = (group + cap - 1u) / cap, gw = (group + n_sub - 1u) / n_sub;
    const uint kvh = gl_WorkGroupID.x / n_sub, sub = gl_WorkGroupID.x % n_sub;
    if (sub * gw >= group) return;  // not in the host's grid (the whole workgroup leaves)
    const uint h0 = kvh * group + sub * gw, ng = min(gw, group - sub * gw);
#ifdef PAGED
    const AttentionTile tile = tiles[gl_WorkGroupID.y];
    const uint t0 = tile.t0, nt = tile.n_tokens, tq = nt, first = tile.pos;
#else
    const uint tq = min(cap / gw, p.n_tokens);
    const uint t0 = gl_WorkGroupID.y * tq, nt = min(tq, p.n_tokens - t0), first = p.pos + t0;
#endif
    const uint R = tq * gw;            // rows, padding included (heads past ng, tokens past nt)
    const uint end = first + nt;       // the tile's last token sees positions < end
    const uint kbase = kvh * hd;

    // P.V layout: NL threads across a row of V, 4 dims each: 4 l .. 4 l + 3 read as one uvec2
    // where head_dim % 4 == 0 (rows start 8-byte aligned), else dims l, l + NL, l + 2 NL, l + 3 NL;
    // row set s takes query rows s * rpt .. + rpt - 1 (rpt <= 4 by the choice of CAP).
    const bool v4 = hd % 4u == 0u;
    const uint NL = hd4, NS = WG / NL, rpt = (R + NS - 1u) / NS;
    const uint lane = tid % NL, rset = tid / NL, r0 = rset * rpt;
    const bool pv = rset < NS && r0 < R;

    uvec2 vw[U];
    [[unroll]] for (uint u = 0u; u < U; ++u) vw[u] = uvec2(0u);
    const uint len0 = min(uint(TILE), end);
    [[unroll]] for (uint u = 0u; u < U; ++u)
        if (pv && u < len0) vw[u] = load_v(kv_tile(0u) + u, lane, NL, hd, v4, kvd, kbase);

    for (uint x = tid; x < R * hd4; x += WG) {
        const uint r = x / hd4, d = 4u * (x % hd4), tr = r / gw, g = r % gw;
        vec4 v = vec4(0.0);
        if (tr < nt && g < ng) {
            const uint qb = (t0 + tr) * qd + (h0 + g) * hd;
            [[unroll]] for (uint k = 0u; k < 4u; ++k)
                if (d + k < hd) v[k] = q[qb + d + k] * p.scale;
        }
        qs[x] = v;
    }
    barrier();

    // Scores: position pj of the tile, rows rs0 .. rs0 + nrs - 1 (R = 1: the second half idles).
    const uint pj = tid % TILE, rh_rows = (R + 1u) / 2u, rs0 = (tid / TILE) * rh_rows;
    const uint nrs = rs0 < R ? min(rh_rows, R - rs0) : 0u;
    const bool wide = hd % 8u == 0u;
    // Steps 2-3: row sr (padding rows too, harmlessly), positions sg + SEG k; the row's causal end.
    const uint sr = tid / SEG, sg = tid % SEG;
    const uint row_end = min(end, first + sr / gw + 1u);
    float m_row = NEG_BIG;
    // P.V: rows r0 + i.
    float m_run[4], l_run[4];
    vec4 acc[4];
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        m_run[i] = NEG_BIG;
        l_run[i] = 0.0;
        acc[i] = vec4(0.0);
    }

    for (uint tb = 0u; tb < end; tb += TILE) {
        const uint len = min(uint(TILE), end - tb);
        const uint rb = kv_tile(tb);  // cache row of the tile's first position
        if (tb != 0u) {
            [[unroll]] for (uint u = 0u; u < U; ++u)
                if (pv && u < len) vw[u] = load_v(rb + u, lane, NL, hd, v4, kvd, kbase);
        }

        // 1. Scores.
        float s[RH_MAX];
        [[unroll]] for (uint i = 0u; i < RH_MAX; ++i) s[i] = 0.0;
        if (pj < len && nrs > 0u) {
            const uint kb = (rb + pj) * kvd + kbase;
            if (wide) {
                const uint nv = hd / 8u;
                for (uint v0 = 0u; v0 < nv; v0 += 8u) {  // 8 loads in flight a thread
                    uvec4 kw[8];
                    [[unroll]] for (uint k = 0u; k < 8u; ++k)
                        if (v0 + k < nv) kw[k] = kc8[kb / 8u + v0 + k];
                    [[unroll]] for (uint k = 0u; k < 8u; ++k) {
                        const uint v = v0 + k;
                        if (v >= nv) break;
                        const vec4 ka = vec4(unpackHalf2x16(kw[k].x), unpackHalf2x16(kw[k].y));
                        const vec4 kz = vec4(unpackHalf2x16(kw[k].z), unpackHalf2x16(kw[k].w));
                        [[unroll]] for (uint i = 0u; i < RH_MAX; ++i)
                            if (i < nrs) {
                                const uint qb = (rs0 + i) * hd4 + 2u * v;
                                s[i] += dot(ka, qs[qb]) + dot(kz, qs[qb + 1u]);
                            }
                    }
                }
            } else {
                for (uint d = 0u; d < hd; ++d) {
                    const float k = float(kc[kb + d]);
                    [[unroll]] for (uint i = 0u; i < RH_MAX; ++i)
                        if (i < nrs) s[i] += qs[(rs0 + i) * hd4 + d / 4u][d % 4u] * k;
                }
            }
        }
        if (tb != 0u) barrier();  // the previous tile's P.V is done with sc
        [[unroll]] for (uint i = 0u; i < RH_MAX; ++i)
            if (i < nrs) sc_set(pj * SCS + rs0 + i, s[i]);
        barrier();

        // 2. The row's visible scores (positions < row_end, which is <= end: within the tile's
        //    len), the max of this thread's.
        float sv[PPS];
        if (sr < R) {
            float mx = NEG_BIG;
            [[unroll]] for (uint k = 0u; k < PPS; ++k) {
                const uint j = sg + SEG * k;
                sv[k] = tb + j < row_end ? sc_get(j * SCS + sr) : NEG_BIG;
                mx = max(mx, sv[k]);
            }
            smax[sr * SEG + sg] = mx;
        }
        barrier();

        // 3. The row's new max (over the tile and the tiles before: every row sees position 0,
        //    so it is a real score from the first tile on) and the exp weights.
        if (sr < R) {
            float mn = m_row;
            [[unroll]] for (uint k = 0u; k < SEG; ++k) mn = max(mn, smax[sr * SEG + k]);
            [[unroll]] for (uint k = 0u; k < PPS; ++k) {
                const uint j = sg + SEG * k;
                sc_set(j * SCS + sr, tb + j < row_end ? exp(sv[k] - mn) : 0.0);
            }
            m_row = mn;
            if (sg == 0u) smn[sr] = mn;
        }
        barrier();

        // 4. P.V over the tile, then its sums into the running ones, rescaled to the new max.
        if (pv) {
            vec4 ta[4];
            float tl[4];
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                ta[i] = vec4(0.0);
                tl[i] = 0.0;
            }
            for (uint u0 = 0u; u0 < len; u0 += U) {
                if (u0 > 0u) {
                    [[unroll]] for (uint u = 0u; u < U; ++u)
                        if (u0 + u < len) vw[u] = load_v(rb + u0 + u, lane, NL, hd, v4, kvd, kbase);
                }
                [[unroll]] for (uint u = 0u; u < U; ++u) {
                    const uint j = u0 + u;
                    if (j >= len) break;  // rows past the end may hold anything (0 * NaN)
                    const vec4 v = vec4(unpackHalf2x16(vw[u].x), unpackHalf2x16(vw[u].y));
                    const vec4 w = weights(j, r0, rpt);
                    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                        ta[i] += w[i] * v;
                        tl[i] += w[i];
                    }
                }
            }
            [[unroll]] for (uint i = 0u; i < 4u; ++i) {
                if (i < rpt && r0 + i < R) {
                    const float mn = smn[r0 + i], corr = exp(m_run[i] - mn);
                    m_run[i] = mn;
                    l_run[i] = l_run[i] * corr + tl[i];
                    acc[i] = acc[i] * corr + ta[i];
                }
            }
        }
    }

    if (pv) {
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            const uint r = r0 + i, tr = r / gw, g = r % gw;
            if (i >= rpt || r >= R || tr >= nt || g >= ng) continue;
            const uint ob = (t0 + tr) * qd + (h0 + g) * hd;
            const float inv = 1.0 / l_run[i];
            [[unroll]] for (uint k = 0u; k < 4u; ++k) {
                const uint d = v4 ? 4u * lane + k : lane + k * NL;
                if (d < hd) o[ob + d] = acc[i][k] * inv;
            }
        }
    }
}
