// y[c][r] = dot(W row r, x[c]): one workgroup per (row, column); the weight type comes from
// common/wtype.glsl. Dequantization is fused: blocks are expanded in registers, never stored.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 64
layout(local_size_x = WG) in;
#define W_BINDING 0
#include "common/wtype.glsl"
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) buffer YBuf { float y[]; };  // read when p.accumulate
layout(push_constant) uniform PC { MatVecPC p; };

shared float red[WG];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * p.row_groups;
    const uint col = gl_WorkGroupID.z;
    if (row >= p.n_rows) return;  // uniform across the workgroup
    wtype_init(p.n_rows, p.ne0);
    const uint base = row_base(row, p.ne0);
    const uint xo = col * p.ne0;
    float acc = 0.0;
    for (uint u = tid; u < p.ne0 / UNIT; u += WG) {
        float v[UNIT];
        load_unit(base, u, v);
        const uint xi = xo + u * UNIT;
        for (uint k = 0u; k < UNIT; ++k) acc += v[k] * x[xi + k];
    }
    red[tid] = acc;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    if (tid == 0u) {
        const uint i = col * p.n_rows + row;
        y[i] = (p.accumulate != 0u ? y[i] : 0.0) + red[0];
    }
}
