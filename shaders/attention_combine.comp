#version 450
// Flash-decoding, part 2: out[h] = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c over the chunks
// attention_split.comp wrote for head h (M = max_c m_c). One workgroup per head. With
// p.write_q8 (head_dim % 32 == 0) it also writes the int8 copy of the output that the wo matvec
// reads (QuantizeQ8PC's layout over n_heads * head_dim values), saving decode a quantize stage.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 64
#define MAX_HEAD_DIM 256
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer P { float part[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(std430, binding = 2) writeonly buffer Q { int q8_words[]; };
layout(std430, binding = 2) writeonly buffer QD { vec4 q8_scales[]; };
layout(push_constant) uniform PC { AttentionSplitPC p; };

shared float os[MAX_HEAD_DIM];

#include "common/q8_block.glsl"

void main() {
    const uint h = gl_WorkGroupID.x, hd = p.head_dim, ns = p.n_split;
    const uint n = p.n_heads * ns, mb = n * hd, lb = mb + n;
    float mx = -1.0e30;
    for (uint c = 0u; c < ns; ++c) mx = max(mx, part[mb + h * ns + c]);
    float l = 0.0;
    for (uint c = 0u; c < ns; ++c) l += exp(part[mb + h * ns + c] - mx) * part[lb + h * ns + c];
    const float inv = 1.0 / l;
    for (uint d = gl_LocalInvocationID.x; d < hd; d += WG) {
        float a = 0.0;
        for (uint c = 0u; c < ns; ++c) a += exp(part[mb + h * ns + c] - mx) * part[(h * ns + c) * hd + d];
        o[h * hd + d] = a * inv;
        os[d] = a * inv;
    }
    if (p.write_q8 == 0u) return;  // uniform
    barrier();
    const uint t = gl_LocalInvocationID.x;
    if (t < hd / 32u) {
        float v[32];
        for (uint k = 0u; k < 32u; ++k) v[k] = os[32u * t + k];
        store_q8_block(v, h * (hd / 32u) + t, p.n_heads * hd);
    }
}
