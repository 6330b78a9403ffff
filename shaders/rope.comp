#version 450
// Rotates adjacent pairs (x[2i], x[2i+1]) of each head's first rope_dim values in place by the
// token's angles; cs holds (cos, sin) per token and pair, computed on the CPU in double-checked
// f32 exactly as the CPU backend does (so long positions keep full precision).
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer CS { vec2 cs[]; };
layout(push_constant) uniform PC { RopePC p; };

void main() {
    const uint half_dim = p.rope_dim / 2u;
    const uint idx = gl_GlobalInvocationID.x;
    if (idx >= p.n_tokens * p.n_heads * half_dim) return;
    const uint i = idx % half_dim;
    const uint h = (idx / half_dim) % p.n_heads;
    const uint t = idx / (half_dim * p.n_heads);
    const uint o = (t * p.n_heads + h) * p.head_dim + 2u * i;
    const vec2 c = cs[t * half_dim + i];
    const float a = x[o], b = x[o + 1u];
    x[o] = a * c.x - b * c.y;
    x[o + 1u] = a * c.y + b * c.x;
}
