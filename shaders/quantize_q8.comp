#version 450
// Decode activations for the int8 matvec (layout: QuantizeQ8PC in common/push_constants.h), one
// invocation per block of 32 values, from a (mode 0), silu(a) * b (mode 1) or rmsnorm(a) * b
// (mode 2). The f32 values go to `f` as well. Mode 2 spreads one row over many workgroups: each
// recomputes the row's sum of squares (n floats, from cache) instead of one workgroup doing the
// whole row, which on the H200 made add_rmsnorm a 15.6 us stage.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 64
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Q { int q8_words[]; };
layout(std430, binding = 2) writeonly buffer QD { vec4 q8_scales[]; };
layout(std430, binding = 3) writeonly buffer F { float f[]; };
layout(push_constant) uniform PC { QuantizeQ8PC p; };

shared float red[WG];

#include "common/q8_block.glsl"

float value(uint i, float scale) {
    const float v = a[i];
    if (p.mode == 1u) return v / (1.0 + exp(-v)) * b[i];
    if (p.mode == 2u) return v * scale * b[i];
    return v;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    float scale = 1.0;
    if (p.mode == 2u) {  // uniform: every workgroup sums the whole row
        float ss = 0.0;
        const uint n4 = p.n / 4u;
        for (uint i = tid; i < n4; i += WG) {
            const vec4 v = a4[i];
            ss += dot(v, v);
        }
        for (uint i = 4u * n4 + tid; i < p.n; i += WG) ss += a[i] * a[i];
        red[tid] = ss;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1) {
            if (tid < s) red[tid] += red[tid + s];
            barrier();
        }
        scale = inversesqrt(red[0] / float(p.n) + p.eps);
    }
    const uint blk = gl_WorkGroupID.x * WG + tid, i0 = 32u * blk;
    if (i0 >= p.n) return;
    float v[32];
    for (uint k = 0u; k < 32u; ++k) {
        v[k] = i0 + k < p.n ? value(i0 + k, scale) : 0.0;
        if (i0 + k < p.n) f[i0 + k] = v[k];
    }
    if (p.write_q8 != 0u) store_q8_block(v, blk, p.n);
}
