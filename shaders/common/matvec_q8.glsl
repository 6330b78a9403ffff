// y[r] (+)= dot(W row r, x) for decode with x quantized to int8 per block of 32 (the layout of
// QuantizeQ8PC in push_constants.h): integer dot products of 4 bytes (common/dot4x8.glsl), one
// float multiply per block and weight scale. The launch shape is common/matvec_wide.glsl's:
// NUM_ROWS rows per workgroup of WG threads, thread t takes slots t, t + WG, ... of 32 weights
// (16-byte loads from vk_repack.h's layout), each slot's x (32 bytes + its block scales) is
// loaded once for all NUM_ROWS rows; subgroupAdd, then shared memory across subgroups.
// x's traffic per 32 weights is 48 bytes instead of the f32 kernel's 128. Needs ne0 % 32 == 0.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/dot4x8.glsl"

layout(constant_id = 0) const uint NUM_ROWS = 2;
layout(local_size_x_id = 1, local_size_x = 64) in;
// Slots a thread takes per loop step (1 or 2): with 2 it has both slots' loads in flight at once.
layout(constant_id = 2) const uint UNROLL = 1;
#define WG gl_WorkGroupSize.x
layout(std430, binding = 1) readonly buffer XQ4 { ivec4 xq4[]; };  // 16 quants
layout(std430, binding = 1) readonly buffer XQ2 { ivec2 xq2[]; };  // 8 quants
layout(std430, binding = 1) readonly buffer XD { vec4 xd[]; };     // {d, s0, s1, 0} at byte ne0
layout(std430, binding = 2) buffer YBuf { float y[]; };  // read when p.accumulate
#include "common/matvec_pc.glsl"
uint XD0;  // vec4 index of block 0's scales

// Four 6-bit quants minus 32 as packed int8, in place in each byte (no carry between bytes):
// q ^ 32 is q - 32 where bit 5 was set; where it was clear it is q + 32, and setting bits 6 and 7
// makes it q + 224 = q - 32 (mod 256).
int minus32(uint q) {
    const uint t = q ^ 0x20202020u;
    return int(t | (((t >> 5) & 0x01010101u) * 0xC0u));
}

#if defined(WTYPE_Q4_0)
// slot = block: 16 quant bytes (low nibble of byte j = element j, high = j + 16), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void q8_init() { D0 = p.n_rows * (p.ne0 / 32u) * 8u; }
struct XS { ivec4 a, b; vec4 d; };
XS load_xs(uint s) { return XS(xq4[2u * s], xq4[2u * s + 1u], xd[XD0 + s]); }
float slot_dot(uint g, XS x) {
    const uvec4 q = w4[g];
    int acc = 0;
    for (uint i = 0u; i < 4u; ++i) {
        acc += dot4x8(int(q[i] & 0x0F0F0F0Fu), x.a[i]);
        acc += dot4x8(int((q[i] >> 4) & 0x0F0F0F0Fu), x.b[i]);
    }
    // (q - 8) . x = q . x - 8 sum(x)
    return float(wd[D0 + g]) * (x.d.x * float(acc) - 8.0 * (x.d.y + x.d.z));
}

#elif defined(WTYPE_Q8_0)
// slot = block: 32 int8 quants (two 16-byte loads), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void q8_init() { D0 = p.n_rows * (p.ne0 / 32u) * 16u; }
struct XS { ivec4 a, b; vec4 d; };
XS load_xs(uint s) { return XS(xq4[2u * s], xq4[2u * s + 1u], xd[XD0 + s]); }
float slot_dot(uint g, XS x) {
    const uvec4 qa = w4[2u * g], qb = w4[2u * g + 1u];
    int acc = 0;
    for (uint i = 0u; i < 4u; ++i) acc += dot4x8(int(qa[i]), x.a[i]) + dot4x8(int(qb[i]), x.b[i]);
    return float(wd[D0 + g]) * x.d.x * float(acc);
}

#elif defined(WTYPE_Q4_K)
// GGUF block_q4_K (144 bytes = 9 x 16): header {d, dmin, scales[12]}, then qs[128]. Slot ls of a
// super-block (8 slots): pair j = ls / 2 of 32 quant bytes, half = ls % 2 of it: 16 bytes whose
// low nibbles are sub-block 2j elements 16 half .. +15 and high nibbles sub-block 2j + 1's, i.e.
// half `half` of x blocks 8 blk + 2j and 8 blk + 2j + 1.
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
#include "common/kquant.glsl"
void q8_init() {}
struct XS { ivec4 a, b; float da, db, sa, sb; };
XS load_xs(uint s) {
    const uint blk = s >> 3, ls = s & 7u, j = ls >> 1, half_ = ls & 1u;
    const uint xb = 8u * blk + 2u * j;
    const vec4 ea = xd[XD0 + xb], eb = xd[XD0 + xb + 1u];
    return XS(xq4[2u * xb + half_], xq4[2u * xb + 2u + half_], ea.x, eb.x, half_ == 0u ? ea.y : ea.z,
              half_ == 0u ? eb.y : eb.z);
}
float slot_dot(uint g, XS x) {
    const uint blk = g >> 3, ls = g & 7u, j = ls >> 1, half_ = ls & 1u;
    const uvec4 h = w4[blk * 9u];
    const uvec4 q = w4[blk * 9u + 1u + 2u * j + half_];
    const vec2 dm = unpackHalf2x16(h.x);
    const uvec2 sm0 = q4k_scale_min(h, 2u * j), sm1 = q4k_scale_min(h, 2u * j + 1u);
    int lo = 0, hi = 0;
    for (uint i = 0u; i < 4u; ++i) {
        lo += dot4x8(int(q[i] & 0x0F0F0F0Fu), x.a[i]);
        hi += dot4x8(int((q[i] >> 4) & 0x0F0F0F0Fu), x.b[i]);
    }
    return dm.x * (float(sm0.x) * x.da * float(lo) + float(sm1.x) * x.db * float(hi)) -
           dm.y * (float(sm0.y) * x.sa + float(sm1.y) * x.sb);
}

#elif defined(WTYPE_Q6_K)
// Split block_q6_K: 208 bytes (26 x 8) {ql[128], qh[64], int8 scales[16]}, then the d's. Slot ls
// of a super-block (8 slots): half n = ls / 4, l0 = 8 (ls % 4): elements 128 n + 32 qq + l0 .. +7
// for the four quarters qq (x block 8 blk + 4 n + qq), from 8 bytes of ql (two places) and 8 of qh.
layout(std430, binding = 0) readonly buffer WBuf { uvec2 w2[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
#include "common/kquant.glsl"
uint D0;
void q8_init() { D0 = p.n_rows * (p.ne0 / 256u) * 104u; }
struct XS { ivec2 x0, x1, x2, x3; vec4 d; };
XS load_xs(uint s) {
    const uint blk = s >> 3, ls = s & 7u, n = ls >> 2, l0 = 8u * (ls & 3u);
    const uint e = 32u * blk + 16u * n + l0 / 8u;  // ivec2 index of quarter 0
    const uint b = XD0 + 8u * blk + 4u * n;
    return XS(xq2[e], xq2[e + 4u], xq2[e + 8u], xq2[e + 12u], vec4(xd[b].x, xd[b + 1u].x, xd[b + 2u].x, xd[b + 3u].x));
}
float slot_dot(uint g, XS x) {
    const uint blk = g >> 3, ls = g & 7u;
    const Q6KSlot s = q6k_slot(blk, ls >> 2, 8u * (ls & 3u));
    ivec4 acc = ivec4(0);  // per quarter
    for (uint i = 0u; i < 2u; ++i) {
        acc.x += dot4x8(minus32(q6k_quarter(s, i, 0u)), x.x0[i]);
        acc.y += dot4x8(minus32(q6k_quarter(s, i, 1u)), x.x1[i]);
        acc.z += dot4x8(minus32(q6k_quarter(s, i, 2u)), x.x2[i]);
        acc.w += dot4x8(minus32(q6k_quarter(s, i, 3u)), x.x3[i]);
    }
    return float(wd[D0 + blk]) * dot(vec4(s.sc * acc), x.d);
}

#else
#error "define one of WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q6_K"
#endif

shared float red[NUM_ROWS][WG];  // one entry per subgroup; WG covers a subgroup size of 1
#include "common/matvec_store.glsl"

void main() {
    q8_init();
    XD0 = p.ne0 / 16u;
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = (gl_WorkGroupID.x + gl_WorkGroupID.y * p.row_groups) * NUM_ROWS;
    if (row0 >= p.n_rows) return;  // uniform across the workgroup
    const uint slots = p.ne0 / 32u;
    // Rows past the end repeat the last row (no out-of-range loads) and are not written.
    uint g0[NUM_ROWS];
    float acc[NUM_ROWS];
    for (uint r = 0u; r < NUM_ROWS; ++r) {
        g0[r] = min(row0 + r, p.n_rows - 1u) * slots;
        acc[r] = 0.0;
    }
    if (UNROLL == 2u) {
        for (uint s = tid; s < slots; s += 2u * WG) {
            const uint s1 = min(s + WG, slots - 1u);  // past the end: a repeat, not added
            const XS x0 = load_xs(s), x1 = load_xs(s1);
            const bool second = s + WG < slots;
            for (uint r = 0u; r < NUM_ROWS; ++r) {
                const float a = slot_dot(g0[r] + s, x0), b = slot_dot(g0[r] + s1, x1);
                acc[r] += second ? a + b : a;
            }
        }
    } else {
        for (uint s = tid; s < slots; s += WG) {
            const XS x = load_xs(s);
            for (uint r = 0u; r < NUM_ROWS; ++r) acc[r] += slot_dot(g0[r] + s, x);
        }
    }
    for (uint r = 0u; r < NUM_ROWS; ++r) {
        const float v = subgroupAdd(acc[r]);
        if (subgroupElect()) red[r][gl_SubgroupID] = v;
    }
    barrier();
    store_rows(row0, 0u);
}
