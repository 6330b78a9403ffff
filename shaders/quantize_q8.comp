#version 450
// Decode activations for the int8 matvec (layout: QuantizeQ8PC in common/push_constants.h) from a
// (mode 0), silu(a) * b (mode 1) or rmsnorm(a) * b (mode 2); the f32 values go to `f` as well.
// Each invocation owns 4 consecutive values (one int8 word), 8 invocations a block of 32, so loads
// and stores are coalesced and a 4096-value row spreads over 16 workgroups (one invocation per
// block took 12.6 us per RMSNorm on the H100: 128 threads walking 32 values each). Mode 2 has each
// workgroup recompute the row's sum of squares (16 KiB from cache) rather than wait for another.
// Workgroup row y takes row y of a batch (small-batch steps; the layout in push_constants.h).
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define WG 64
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) writeonly buffer Q { int q8_words[]; };
layout(std430, binding = 2) writeonly buffer QD { vec4 q8_scales[]; };
layout(std430, binding = 3) writeonly buffer F { float f[]; };
layout(std430, binding = 3) writeonly buffer F4 { vec4 f4[]; };
layout(push_constant) uniform PC { QuantizeQ8PC p; };

shared float red[WG];
shared int sums[WG];

vec4 value4(vec4 v, vec4 w, float scale) {
    if (p.mode == 1u) return v / (1.0 + exp(-v)) * w;
    if (p.mode == 2u) return v * scale * w;
    return v;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    // Row offsets: floats of a, f (and b in mode 1), then the int8 copy's words and scales.
    const uint row = gl_WorkGroupID.y, ra = row * p.n, rb = p.mode == 1u ? ra : 0u;
    const uint rq = row * (3u * p.n / 8u), rd = row * (3u * p.n / 32u);
    float scale = 1.0;
    if (p.mode == 2u) {  // uniform: every workgroup sums the whole row
        float ss = 0.0;
        if (p.n % 4u == 0u) {
            for (uint i = tid; i < p.n / 4u; i += WG) {
                const vec4 v = a4[ra / 4u + i];
                ss += dot(v, v);
            }
        } else {
            for (uint i = tid; i < p.n; i += WG) ss += a[ra + i] * a[ra + i];
        }
        red[tid] = ss;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1) {
            if (tid < s) red[tid] += red[tid + s];
            barrier();
        }
        scale = inversesqrt(red[0] / float(p.n) + p.eps);
        barrier();  // red is reused below
    }
    const uint word = gl_WorkGroupID.x * WG + tid, i0 = 4u * word;
    vec4 v = vec4(0.0);
    if (i0 + 4u <= p.n && p.n % 4u == 0u) {
        v = value4(a4[ra / 4u + word], p.mode == 0u ? vec4(0.0) : b4[rb / 4u + word], scale);
        f4[ra / 4u + word] = v;
    } else {
        for (uint k = 0u; k < 4u; ++k)
            if (i0 + k < p.n) {
                v[k] = value4(vec4(a[ra + i0 + k]), vec4(p.mode == 0u ? 0.0 : b[rb + i0 + k]), scale).x;
                f[ra + i0 + k] = v[k];
            }
    }
    if (p.write_q8 == 0u) return;  // uniform
    // d = amax / 127 over the block's 32 values, q = round-half-even(v / d) as the tests' CPU
    // reference; the block's s0 and s1 are d times the sums of its first and second 16 quants.
    const uint g = tid & ~7u;  // the block's first invocation
    const vec4 av = abs(v);
    red[tid] = max(max(av.x, av.y), max(av.z, av.w));
    barrier();
    float amax = 0.0;
    for (uint k = 0u; k < 8u; ++k) amax = max(amax, red[g + k]);
    const float id = amax > 0.0 ? 127.0 / amax : 0.0;
    const ivec4 q = clamp(ivec4(roundEven(v * id)), -127, 127);
    const bool live = i0 < p.n;
    if (live) q8_words[rq + word] = (q.x & 0xFF) | ((q.y & 0xFF) << 8) | ((q.z & 0xFF) << 16) | ((q.w & 0xFF) << 24);
    sums[tid] = q.x + q.y + q.z + q.w;
    barrier();
    if (live && tid == g) {
        const float d = amax / 127.0;
        const int s0 = sums[g] + sums[g + 1u] + sums[g + 2u] + sums[g + 3u];
        const int s1 = sums[g + 4u] + sums[g + 5u] + sums[g + 6u] + sums[g + 7u];
        q8_scales[rd + p.n / 16u + word / 8u] = vec4(d, d * float(s0), d * float(s1), 0.0);
    }
}
