#version 450
// a += b (residual connections)
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(push_constant) uniform PC { EltwisePC p; };

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= p.n) return;
    a[i] += b[i];
}
