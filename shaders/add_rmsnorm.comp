#version 450
// x[r] += o[r], then out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w: the residual add fused into the
// next norm (one barrier instead of two per use). One workgroup per row; each thread keeps its
// elements' sums, so x is read once and written once.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 256
layout(local_size_x = WG) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer O { float o[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) writeonly buffer Out { float out_[]; };
layout(push_constant) uniform PC { RmsNormPC p; };

shared float red[WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint base = gl_WorkGroupID.x * p.ne0;
    float ss = 0.0;
    for (uint i = tid; i < p.ne0; i += WG) {
        const float v = x[base + i] + o[base + i];
        x[base + i] = v;
        ss += v * v;
    }
    red[tid] = ss;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float scale = inversesqrt(red[0] / float(p.ne0) + p.eps);
    for (uint i = tid; i < p.ne0; i += WG) out_[base + i] = x[base + i] * scale * w[i];
}
