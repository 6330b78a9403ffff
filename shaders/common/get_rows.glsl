// out[t] = dequantized row ids[t] of W (the token embedding): one invocation per unit.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

layout(local_size_x = 64) in;
#define W_BINDING 0
#include "common/wtype.glsl"
layout(std430, binding = 1) readonly buffer Ids { int ids[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };
layout(push_constant) uniform PC { GetRowsPC p; };

void main() {
    const uint u = gl_GlobalInvocationID.x;
    const uint t = gl_WorkGroupID.y;
    if (u >= p.ne0 / UNIT || t >= p.n_rows) return;
    wtype_init(p.w_rows, p.ne0);
    float v[UNIT];
    load_unit(row_base(uint(ids[t]), p.ne0), u, v);
    for (uint k = 0u; k < UNIT; ++k) o[t * p.ne0 + u * UNIT + k] = v[k];
}
