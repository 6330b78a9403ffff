// rope + kv_store in one pass: rotates each query head's pairs in place (as rope.comp), rotates
// each key pair and writes it with the matching value pair into the f16 caches at pos + t
// (rope_store.comp) or, with PAGED (rope_store_paged.comp), at cache row slots[t]. The cos/sin
// table has a row per token, so the positions themselves are the host's. One invocation per
// pair: the n_tokens x q_dim / 2 query pairs, then the n_tokens x kv_dim / 2 key (and value) pairs.
#extension GL_EXT_shader_16bit_storage : require
#include "common/push_constants.h"

layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Qb { float q[]; };
layout(std430, binding = 1) readonly buffer Kb { float k[]; };
layout(std430, binding = 2) readonly buffer Vb { float v[]; };
layout(std430, binding = 3) readonly buffer CS { vec2 cs[]; };
layout(std430, binding = 4) writeonly buffer KC { f16vec2 kc[]; };
layout(std430, binding = 5) writeonly buffer VC { f16vec2 vc[]; };
layout(push_constant) uniform PC { RopeStorePC p; };
#ifdef PAGED
layout(std430, binding = 6) readonly buffer Slots { int slots[]; };  // (n_tokens) cache rows
#define cache_row(t) uint(slots[t])
#else
#define cache_row(t) (p.pos + (t))
#endif

vec2 rotate(vec2 a, uint t, uint d) {  // d: element index inside the head (even)
    const uint half_dim = p.rope_dim / 2u;
    if (d >= p.rope_dim) return a;
    const vec2 c = cs[t * half_dim + d / 2u];
    return vec2(a.x * c.x - a.y * c.y, a.x * c.y + a.y * c.x);
}

void main() {
    const uint idx = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64u;
    const uint qp = p.q_dim / 2u, kp = p.kv_dim / 2u;
    if (idx < p.n_tokens * qp) {
        const uint t = idx / qp, i = idx % qp;
        const uint e = 2u * i, o = t * p.q_dim + e;
        const vec2 r = rotate(vec2(q[o], q[o + 1u]), t, e % p.head_dim);
        q[o] = r.x;
        q[o + 1u] = r.y;
        return;
    }
    const uint j = idx - p.n_tokens * qp;
    if (j >= p.n_tokens * kp) return;
    const uint t = j / kp, i = j % kp;
    const uint e = 2u * i, o = t * p.kv_dim + e;
    const vec2 r = rotate(vec2(k[o], k[o + 1u]), t, e % p.head_dim);
    const uint dst = (cache_row(t) * p.kv_dim + e) / 2u;
    kc[dst] = f16vec2(r);
    vc[dst] = f16vec2(vec2(v[o], v[o + 1u]));
}
