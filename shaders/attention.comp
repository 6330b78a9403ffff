#version 450
// Causal GQA attention over the f16 KV cache: one workgroup per (query head, token). Keys are
// visited in chunks of WG positions with a streaming (online) softmax, so the context length is
// bounded only by the cache: out = softmax(q . K^T * scale) V.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "common/push_constants.h"

#define WG 64
#define MAX_HEAD_DIM 256
#define NEG_BIG -1.0e30
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer KC { float16_t kc[]; };
layout(std430, binding = 2) readonly buffer VC { float16_t vc[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { AttentionPC p; };

shared float qs[MAX_HEAD_DIM];
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
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint hd = p.head_dim;
    const uint g = h / (p.n_heads / p.n_kv_heads);
    const uint kvd = p.n_kv_heads * hd;
    const uint qo = (t * p.n_heads + h) * hd;
    const uint n_kv = p.pos + t + 1u;
    for (uint d = tid; d < hd; d += WG) qs[d] = q[qo + d] * p.scale;
    barrier();

    float m = NEG_BIG, l = 0.0;
    float acc[MAX_HEAD_DIM / WG];
    for (uint k = 0u; k < MAX_HEAD_DIM / WG; ++k) acc[k] = 0.0;
    for (uint c0 = 0u; c0 < n_kv; c0 += WG) {
        const uint j = c0 + tid;
        float s = NEG_BIG;
        if (j < n_kv) {
            s = 0.0;
            const uint kb = j * kvd + g * hd;
            for (uint d = 0u; d < hd; ++d) s += qs[d] * float(kc[kb + d]);
        }
        const float mn = max(m, reduce_max(tid, s));
        const float e = j < n_kv ? exp(s - mn) : 0.0;
        ps[tid] = e;
        const float corr = exp(m - mn);
        l = l * corr + reduce_sum(tid, e);  // its barriers also publish ps
        const uint cnt = min(uint(WG), n_kv - c0);
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
    const float inv = 1.0 / l;
    for (uint k = 0u; k < MAX_HEAD_DIM / WG; ++k) {
        const uint d = tid + k * WG;
        if (d < hd) o[qo + d] = acc[k] * inv;
    }
}
