#version 450
// Writes the batch's keys and values into the f16 cache at positions pos .. pos + n_tokens.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#include "common/push_constants.h"

layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer K { float k[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };
layout(std430, binding = 2) writeonly buffer KC { float16_t kc[]; };
layout(std430, binding = 3) writeonly buffer VC { float16_t vc[]; };
layout(push_constant) uniform PC { KvStorePC p; };

void main() {
    const uint idx = gl_GlobalInvocationID.x;
    if (idx >= p.n_tokens * p.kv_dim) return;
    const uint dst = p.pos * p.kv_dim + idx;
    kc[dst] = float16_t(k[idx]);
    vc[dst] = float16_t(v[idx]);
}
