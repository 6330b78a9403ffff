#version 450
// Flash-decoding, part 2: out[h] = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c over the chunks
// attention_split.comp wrote for head h (M = max_c m_c). One workgroup per head.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 64
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer P { float part[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { AttentionSplitPC p; };

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
    }
}
