#version 450
// Flash-decoding, part 2: out[h] = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c over the chunks
// attention_split.comp wrote for head h (M = max_c m_c). One workgroup per head: 4 groups of 32
// threads each merge every 4th chunk in registers (a running max, rescaled like the split's
// tiles; lane l holds dims l, l + 32, ...), then the 4 results are merged in shared memory.
// Chunks in parallel rather than one serial walk per thread: the split makes up to 128 chunks
// per head (64 for the 8B at 4096 positions), and a serial chain of that many loads per dim
// would cost microseconds per layer. With p.write_q8 (head_dim % 32 == 0) it also writes the
// int8 copy of the output that the wo matvec reads (QuantizeQ8PC's layout over
// n_heads * head_dim values), saving decode a quantize stage.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common/push_constants.h"

#define WG 128
#define LANES 32
#define NG (WG / LANES)
#define MAX_HEAD_DIM 256
#define KMAX (MAX_HEAD_DIM / LANES)
#define NEG_BIG -1.0e30
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer P { float part[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(std430, binding = 2) writeonly buffer Q { int q8_words[]; };
layout(std430, binding = 2) writeonly buffer QD { vec4 q8_scales[]; };
layout(push_constant) uniform PC { AttentionSplitPC p; };

shared float os[MAX_HEAD_DIM];
shared float gacc[NG * MAX_HEAD_DIM];  // (group, dim) the groups' unnormalized sums
shared float gm[NG], gl[NG];           // their maxima and exp-sums

#include "common/q8_block.glsl"

void main() {
    const uint h = gl_WorkGroupID.x, hd = p.head_dim, ns = p.n_split;
    const uint n = p.n_heads * ns, mb = n * hd, lb = mb + n;
    const uint tid = gl_LocalInvocationID.x, grp = tid / LANES, lane = tid % LANES;
    float m = NEG_BIG, l = 0.0, acc[KMAX];
    [[unroll]] for (uint k = 0u; k < KMAX; ++k) acc[k] = 0.0;
    for (uint c = grp; c < ns; c += NG) {
        const uint slot = h * ns + c;
        const float mc = part[mb + slot], mn = max(m, mc);
        const float a = exp(m - mn), b = exp(mc - mn);  // a = 0 at the first chunk
        l = l * a + b * part[lb + slot];
        [[unroll]] for (uint k = 0u; k < KMAX; ++k) {
            const uint d = lane + k * LANES;
            if (d < hd) acc[k] = acc[k] * a + b * part[slot * hd + d];
        }
        m = mn;
    }
    [[unroll]] for (uint k = 0u; k < KMAX; ++k) {
        const uint d = lane + k * LANES;
        if (d < hd) gacc[grp * MAX_HEAD_DIM + d] = acc[k];
    }
    if (lane == 0u) {
        gm[grp] = m;
        gl[grp] = l;
    }
    barrier();
    float mx = NEG_BIG;
    [[unroll]] for (uint g = 0u; g < NG; ++g) mx = max(mx, gm[g]);
    float w[NG], lsum = 0.0;
    [[unroll]] for (uint g = 0u; g < NG; ++g) {
        w[g] = exp(gm[g] - mx);  // 0 for a group without chunks (ns < NG)
        lsum += w[g] * gl[g];
    }
    const float inv = 1.0 / lsum;
    for (uint d = tid; d < hd; d += WG) {
        float a = 0.0;
        [[unroll]] for (uint g = 0u; g < NG; ++g) a += w[g] * gacc[g * MAX_HEAD_DIM + d];
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
