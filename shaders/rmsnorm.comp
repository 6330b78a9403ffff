#version 450
// out[r] = x[x_offset + r * ne0 ...] / sqrt(mean(x^2) + eps) * w: one workgroup per row.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 64
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform PC { RmsNormPC p; };

shared float red[WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint r = gl_WorkGroupID.x;
    const uint xo = p.x_offset + r * p.ne0;
    float ss = 0.0;
    for (uint i = tid; i < p.ne0; i += WG) ss += x[xo + i] * x[xo + i];
    red[tid] = ss;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float scale = inversesqrt(red[0] / float(p.ne0) + p.eps);
    for (uint i = tid; i < p.ne0; i += WG) o[r * p.ne0 + i] = x[xo + i] * scale * w[i];
}
