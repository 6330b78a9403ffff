// y[c][r] = dot(W row r, x[c]) for decode: NUM_ROWS rows per workgroup of WG threads. A row is cut
// into slots of SLOT elements, each read with one or two 16-byte (Q6_K: three 8-byte) loads from
// the device layout of inference/vulkan/vk_repack.h; thread t takes slots t, t + WG, ... of every
// row of its group, so a warp reads contiguous memory and each x slot is loaded once for all
// NUM_ROWS rows. Partial sums are reduced with subgroupAdd, then across subgroups in shared
// memory, so any subgroup size works (32 on NVIDIA, 8 on lavapipe).
// Needs ne0 % SLOT == 0 (vk_ops.cpp falls back to common/matvec.glsl otherwise).
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

// Rows per workgroup and threads per workgroup: specialization constants 0 and 1 (vk_ops.cpp;
// LLAMADESK_VK_MATVEC_ROWS, LLAMADESK_VK_MATVEC_WG).
layout(constant_id = 0) const uint NUM_ROWS = 2;
layout(local_size_x_id = 1, local_size_x = 64) in;
#define WG gl_WorkGroupSize.x
layout(std430, binding = 1) readonly buffer XBuf { vec4 x4[]; };
layout(std430, binding = 2) buffer YBuf { float y[]; };  // read when p.accumulate
#include "common/matvec_pc.glsl"
vec4 load_x(uint i) { return x4[i]; }

#if defined(WTYPE_F32)
layout(std430, binding = 0) readonly buffer WBuf { vec4 w4[]; };
#define SLOT 4
void wide_init() {}
// x vec4 k of slot s of a row (in vec4 units from the row start)
uint slot_x(uint s, uint k) { return s; }
float slot_dot(uint g, vec4 xv[SLOT / 4]) { return dot(w4[g], xv[0]); }

#elif defined(WTYPE_F16)
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
#define SLOT 8
void wide_init() {}
uint slot_x(uint s, uint k) { return 2u * s + k; }
float slot_dot(uint g, vec4 xv[SLOT / 4]) {
    const uvec4 q = w4[g];
    return dot(vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y)), xv[0]) +
           dot(vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w)), xv[1]);
}

#elif defined(WTYPE_Q4_0)
// slot = block: 16 quant bytes (low nibble of byte j = element j, high = j + 16), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
#define SLOT 32
uint D0;
void wide_init() { D0 = p.n_rows * (p.ne0 / 32u) * 8u; }
uint slot_x(uint s, uint k) { return 8u * s + k; }
float slot_dot(uint g, vec4 xv[SLOT / 4]) {
    const uvec4 q = w4[g];
    float acc = 0.0;
    for (uint i = 0u; i < 4u; ++i) {
        const uint v = q[i];
        const vec4 lo = vec4(uvec4(v, v >> 8, v >> 16, v >> 24) & 15u) - 8.0;
        const vec4 hi = vec4(uvec4(v >> 4, v >> 12, v >> 20, v >> 28) & 15u) - 8.0;
        acc += dot(lo, xv[i]) + dot(hi, xv[4u + i]);
    }
    return acc * float(wd[D0 + g]);
}

#elif defined(WTYPE_Q8_0)
// slot = block: 32 int8 quants (two 16-byte loads), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
#define SLOT 32
uint D0;
void wide_init() { D0 = p.n_rows * (p.ne0 / 32u) * 16u; }
uint slot_x(uint s, uint k) { return 8u * s + k; }
vec4 i8x4(uint v) {
    const int s = int(v);
    return vec4(bitfieldExtract(s, 0, 8), bitfieldExtract(s, 8, 8), bitfieldExtract(s, 16, 8), bitfieldExtract(s, 24, 8));
}
float slot_dot(uint g, vec4 xv[SLOT / 4]) {
    const uvec4 a = w4[2u * g], b = w4[2u * g + 1u];
    float acc = 0.0;
    for (uint i = 0u; i < 4u; ++i) acc += dot(i8x4(a[i]), xv[i]) + dot(i8x4(b[i]), xv[4u + i]);
    return acc * float(wd[D0 + g]);
}

#elif defined(WTYPE_Q4_K)
// GGUF block_q4_K (144 bytes = 9 x 16): header {d, dmin, scales[12]}, then qs[128]. Slot ls of a
// super-block (8 slots): pair j = ls / 2 of 32 quant bytes, half = ls % 2 of it: 16 bytes whose
// low nibbles are sub-block 2j elements 16 half .. +15 and high nibbles sub-block 2j + 1's.
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
#include "common/kquant.glsl"
#define SLOT 32
void wide_init() {}
uint slot_x(uint s, uint k) {
    const uint ls = s & 7u, j = ls >> 1, half_ = ls & 1u;
    return (s >> 3) * 64u + 16u * j + 4u * half_ + (k & 3u) + (k >> 2) * 8u;
}
float slot_dot(uint g, vec4 xv[SLOT / 4]) {
    const uint blk = g >> 3, ls = g & 7u, j = ls >> 1, half_ = ls & 1u;
    const uvec4 h = w4[blk * 9u];
    const uvec4 q = w4[blk * 9u + 1u + 2u * j + half_];
    const vec2 dm = unpackHalf2x16(h.x);
    const uvec2 sm0 = q4k_scale_min(h, 2u * j), sm1 = q4k_scale_min(h, 2u * j + 1u);
    const uint sc0 = sm0.x, mn0 = sm0.y, sc1 = sm1.x, mn1 = sm1.y;
    float dlo = 0.0, dhi = 0.0;
    vec4 xlo = vec4(0.0), xhi = vec4(0.0);
    for (uint i = 0u; i < 4u; ++i) {
        const uint v = q[i];
        dlo += dot(vec4(uvec4(v, v >> 8, v >> 16, v >> 24) & 15u), xv[i]);
        dhi += dot(vec4(uvec4(v >> 4, v >> 12, v >> 20, v >> 28) & 15u), xv[4u + i]);
        xlo += xv[i];
        xhi += xv[4u + i];
    }
    const float sxlo = xlo.x + xlo.y + xlo.z + xlo.w, sxhi = xhi.x + xhi.y + xhi.z + xhi.w;
    return dm.x * (float(sc0) * dlo + float(sc1) * dhi) - dm.y * (float(mn0) * sxlo + float(mn1) * sxhi);
}

#elif defined(WTYPE_Q6_K)
// Split block_q6_K: 208 bytes (26 x 8) {ql[128], qh[64], int8 scales[16]}, then the d's. Slot ls
// of a super-block (8 slots): half n = ls / 4, l0 = 8 (ls % 4): elements 128 n + 32 qq + l0 .. +7
// for the four quarters qq, from 8 bytes of ql (two places) and 8 bytes of qh.
layout(std430, binding = 0) readonly buffer WBuf { uvec2 w2[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
#include "common/kquant.glsl"
#define SLOT 32
uint D0;
void wide_init() { D0 = p.n_rows * (p.ne0 / 256u) * 104u; }
uint slot_x(uint s, uint k) {
    const uint ls = s & 7u, n = ls >> 2, l0 = 8u * (ls & 3u);
    return (s >> 3) * 64u + (128u * n + 32u * (k >> 1) + l0) / 4u + (k & 1u);
}
// The 4 quants of one byte lane each, minus 32, as floats.
vec4 q6k_floats(uint q) { return vec4((uvec4(q) >> uvec4(0u, 8u, 16u, 24u)) & 63u) - 32.0; }
float slot_dot(uint g, vec4 xv[SLOT / 4]) {
    const uint blk = g >> 3, ls = g & 7u;
    const Q6KSlot s = q6k_slot(blk, ls >> 2, 8u * (ls & 3u));
    float a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;  // per quarter: x slot k = 2 qq + word
    for (uint i = 0u; i < 2u; ++i) {
        a0 += dot(q6k_floats(q6k_quarter(s, i, 0u)), xv[i]);
        a1 += dot(q6k_floats(q6k_quarter(s, i, 1u)), xv[2u + i]);
        a2 += dot(q6k_floats(q6k_quarter(s, i, 2u)), xv[4u + i]);
        a3 += dot(q6k_floats(q6k_quarter(s, i, 3u)), xv[6u + i]);
    }
    return float(wd[D0 + blk]) * dot(vec4(s.sc), vec4(a0, a1, a2, a3));
}

#else
#error "define one of WTYPE_F32, WTYPE_F16, WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q6_K"
#endif

shared float red[NUM_ROWS][WG];  // one entry per subgroup; WG covers a subgroup size of 1
#include "common/matvec_store.glsl"

void main() {
    wide_init();
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = (gl_WorkGroupID.x + gl_WorkGroupID.y * p.row_groups) * NUM_ROWS;
    const uint col = gl_WorkGroupID.z;
    if (row0 >= p.n_rows) return;  // uniform across the workgroup
    const uint slots = p.ne0 / SLOT;
    const uint xo = col * (p.ne0 / 4u);
    // Rows past the end repeat the last row (no out-of-range loads) and are not written.
    uint g0[NUM_ROWS];
    float acc[NUM_ROWS];
    for (uint r = 0u; r < NUM_ROWS; ++r) {
        g0[r] = min(row0 + r, p.n_rows - 1u) * slots;
        acc[r] = 0.0;
    }
    for (uint s = tid; s < slots; s += WG) {
        vec4 xv[SLOT / 4];
        for (uint k = 0u; k < SLOT / 4; ++k) xv[k] = load_x(xo + slot_x(s, k));
        for (uint r = 0u; r < NUM_ROWS; ++r) acc[r] += slot_dot(g0[r] + s, xv);
    }
    for (uint r = 0u; r < NUM_ROWS; ++r) {
        const float v = subgroupAdd(acc[r]);
        if (subgroupElect()) red[r][gl_SubgroupID] = v;
    }
    barrier();
    store_rows(row0, col);
}
