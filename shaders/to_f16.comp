#version 450
// y = x as halves, 4 per invocation (n % 4 == 0): prompt batches' activations for the 128-wide-K
// tensor-core matmul (common/matmul_coopmat_wide.glsl with X16), converted once per batch instead
// of once per 64-row tile of every weight that reads them.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { vec4 x4[]; };
layout(std430, binding = 1) writeonly buffer Y { uvec2 y4[]; };
layout(push_constant) uniform PC { EltwisePC p; };

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 256u;
    if (i >= p.n / 4u) return;
    const vec4 v = x4[i];
    y4[i] = uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw));
}
