#version 450
// g = silu(g) * u
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(push_constant) uniform PC { EltwisePC p; };

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= p.n) return;
    const float x = g[i];
    g[i] = x / (1.0 + exp(-x)) * u[i];
}
