#version 450
// Flash-decoding, part 1: attention of one query token split across workgroups along the
// context. Workgroup (h, c) runs the streaming softmax of query head h over cached positions
// c * chunk .. min((c + 1) * chunk, n_kv) and writes its unnormalized output with its running max
// and sum; attention_combine.comp merges the chunks. At 4096 positions a 32-head model gets
// 32 x 16 workgroups instead of 32 that each walk the whole cache.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "common/push_constants.h"

#define WG 64
#define MAX_HEAD_DIM 256
#define NEG_BIG -1.0e30
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float16_t kc[]; };
layout(std430, binding = 1) readonly buffer KC8 { uvec4 kc8[]; };  // 8 halves per load
layout(std430, binding = 2) readonly buffer VC { float16_t vc[]; };
// (n_heads, n_split, head_dim) outputs, then (n_heads, n_split) maxima, then sums
layout(std430, binding = 3) writeonly buffer P { float part[]; };
layout(push_constant) uniform PC { AttentionSplitPC p; };

shared vec4 qs4[MAX_HEAD_DIM / 4];
shared float ps[WG];
shared float red[WG];

float reduce_max(uint tid, float v) {
    red[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] = max(red[tid], red[tid + s]);
        barrier();
    }
    const float r = red[0];
    barrier();
    return r;
}

float reduce_sum(uint tid, float v) {
    red[tid] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float r = red[0];
    barrier();
    return r;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint h = gl_WorkGroupID.x, c = gl_WorkGroupID.y;
    const uint hd = p.head_dim;
    const uint g = h / (p.n_heads / p.n_kv_heads);
    const uint kvd = p.n_kv_heads * hd;
    const uint begin = c * p.chunk, end = min(begin + p.chunk, p.n_kv);
    for (uint d = tid; d < hd / 4u; d += WG)
        qs4[d] = vec4(q[h * hd + 4u * d], q[h * hd + 4u * d + 1u], q[h * hd + 4u * d + 2u], q[h * hd + 4u * d + 3u]) * p.scale;
    if (hd % 4u != 0u && tid == 0u) {  // a head_dim that is not a multiple of 4: the tail, zero-padded
        vec4 t = vec4(0.0);
        for (uint d = hd & ~3u; d < hd; ++d) t[d & 3u] = q[h * hd + d] * p.scale;
        qs4[hd / 4u] = t;
    }
    barrier();
    // Keys 16 bytes at a time where rows allow it (head_dim % 8 == 0: every row starts aligned).
    const bool wide = hd % 8u == 0u;

    float m = NEG_BIG, l = 0.0;
    float acc[MAX_HEAD_DIM / WG];
    for (uint k = 0u; k < MAX_HEAD_DIM / WG; ++k) acc[k] = 0.0;
    for (uint c0 = begin; c0 < end; c0 += WG) {  // every chunk is non-empty (n_split = ceil)
        const uint j = c0 + tid;
        float s = NEG_BIG;
        if (j < end) {
            s = 0.0;
            const uint kb = j * kvd + g * hd;
            if (wide) {
                for (uint d8 = 0u; d8 < hd / 8u; ++d8) {
                    const uvec4 k8 = kc8[kb / 8u + d8];
                    s += dot(vec4(unpackHalf2x16(k8.x), unpackHalf2x16(k8.y)), qs4[2u * d8]) +
                         dot(vec4(unpackHalf2x16(k8.z), unpackHalf2x16(k8.w)), qs4[2u * d8 + 1u]);
                }
            } else {
                for (uint d = 0u; d < hd; ++d) s += qs4[d / 4u][d & 3u] * float(kc[kb + d]);
            }
        }
        const float mn = max(m, reduce_max(tid, s));
        const float e = j < end ? exp(s - mn) : 0.0;
        ps[tid] = e;
        const float corr = exp(m - mn);
        l = l * corr + reduce_sum(tid, e);  // its barriers also publish ps
        const uint cnt = min(uint(WG), end - c0);
        for (uint k = 0u; k < MAX_HEAD_DIM / WG; ++k) {
            const uint d = tid + k * WG;
            if (d >= hd) break;
            float a = acc[k] * corr;
            for (uint jj = 0u; jj < cnt; ++jj) a += ps[jj] * float(vc[(c0 + jj) * kvd + g * hd + d]);
            acc[k] = a;
        }
        m = mn;
        barrier();  // ps is rewritten by the next chunk
    }
    const uint slot = h * p.n_split + c;
    for (uint k = 0u; k < MAX_HEAD_DIM / WG; ++k) {
        const uint d = tid + k * WG;
        if (d < hd) part[slot * hd + d] = acc[k];
    }
    if (tid == 0u) {
        const uint n = p.n_heads * p.n_split;
        part[n * hd + slot] = m;
        part[n * hd + n + slot] = l;
    }
}
