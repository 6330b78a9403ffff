// A weight row's 32-element slots read with 16-byte (Q6_K: 8-byte) loads from the device layouts
// of inference/vulkan/vk_repack.h (the same slots common/matvec_wide.glsl reads), for tiles of
// 128 consecutive k: each row's tile holds 4 slots. slot_load(row, k0, ls) issues the loads of
// slot ls (0..3) of the tile starting at k0 and returns the words as loaded; slot_values(raw, k0,
// ls, v) dequantizes them (split so a kernel can hold the next tile's words in registers while
// it computes on this one). slot_pos(ls, e) is where element e goes in the tile: runs of 4 (at
// least) consecutive e stay consecutive and 4-aligned, so a tile can be written as vec4s.
// Needs ne0 % 128 == 0. Declares binding 0 and uses p (MatMulPC): ne0, n_rows.
#extension GL_EXT_shader_16bit_storage : require

#if defined(WTYPE_Q4_0)
// block = slot: 16 quant bytes (low nibble of byte j = element j, high = j + 16), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void wslot_init() { D0 = p.n_rows * (p.ne0 / 32u) * 8u; }
uint slot_pos(uint ls, uint e) { return 32u * ls + e; }
struct WRaw { uvec4 q; float16_t d; };
WRaw slot_load(uint row, uint k0, uint ls) {
    const uint g = row * (p.ne0 / 32u) + k0 / 32u + ls;
    return WRaw(w4[g], wd[D0 + g]);
}
void slot_values(WRaw r, uint k0, uint ls, out float v[32]) {
    const float d = float(r.d);
    for (uint i = 0u; i < 4u; ++i)
        for (uint b = 0u; b < 4u; ++b) {
            v[4u * i + b] = (float((r.q[i] >> (8u * b)) & 15u) - 8.0) * d;
            v[16u + 4u * i + b] = (float((r.q[i] >> (8u * b + 4u)) & 15u) - 8.0) * d;
        }
}

#elif defined(WTYPE_Q8_0)
// block = slot: 32 int8 quants (two 16-byte loads), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void wslot_init() { D0 = p.n_rows * (p.ne0 / 32u) * 16u; }
uint slot_pos(uint ls, uint e) { return 32u * ls + e; }
struct WRaw { uvec4 a, b; float16_t d; };
WRaw slot_load(uint row, uint k0, uint ls) {
    const uint g = row * (p.ne0 / 32u) + k0 / 32u + ls;
    return WRaw(w4[2u * g], w4[2u * g + 1u], wd[D0 + g]);
}
void slot_values(WRaw r, uint k0, uint ls, out float v[32]) {
    const float d = float(r.d);
    for (uint i = 0u; i < 4u; ++i)
        for (uint k = 0u; k < 4u; ++k) {
            v[4u * i + k] = float(bitfieldExtract(int(r.a[i]), int(8u * k), 8)) * d;
            v[16u + 4u * i + k] = float(bitfieldExtract(int(r.b[i]), int(8u * k), 8)) * d;
        }
}

#elif defined(WTYPE_Q4_K)
// GGUF block_q4_K (144 bytes = 9 x 16): header {d, dmin, scales[12]}, then qs[128]. A tile is
// half a super-block (hh = k0 / 128 % 2): slot ls is super-block slot 4 hh + ls, i.e. pair j of
// 32 quant bytes, half `half` of it: low nibbles = sub-block 2j elements 16 half .. +15, high
// nibbles = sub-block 2j + 1's.
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
#include "common/kquant.glsl"
void wslot_init() {}
uint slot_pos(uint ls, uint e) { return 64u * (ls >> 1) + 16u * (ls & 1u) + (e < 16u ? e : e + 16u); }
struct WRaw { uvec4 h, q; };
WRaw slot_load(uint row, uint k0, uint ls) {
    const uint blk = row * (p.ne0 / 256u) + k0 / 256u, s = 4u * ((k0 / 128u) & 1u) + ls;
    return WRaw(w4[blk * 9u], w4[blk * 9u + 1u + s]);  // pair j = s / 2, half s % 2: word 1 + 2j + half
}
void slot_values(WRaw r, uint k0, uint ls, out float v[32]) {
    const uint j = (4u * ((k0 / 128u) & 1u) + ls) >> 1;
    const vec2 dm = unpackHalf2x16(r.h.x);
    const uvec2 sm0 = q4k_scale_min(r.h, 2u * j), sm1 = q4k_scale_min(r.h, 2u * j + 1u);
    const float d0 = dm.x * float(sm0.x), m0 = dm.y * float(sm0.y);
    const float d1 = dm.x * float(sm1.x), m1 = dm.y * float(sm1.y);
    for (uint i = 0u; i < 4u; ++i)
        for (uint b = 0u; b < 4u; ++b) {
            v[4u * i + b] = d0 * float((r.q[i] >> (8u * b)) & 15u) - m0;
            v[16u + 4u * i + b] = d1 * float((r.q[i] >> (8u * b + 4u)) & 15u) - m1;
        }
}

#elif defined(WTYPE_Q6_K)
// Split block_q6_K: 208 bytes (26 x 8) {ql[128], qh[64], int8 scales[16]}, then the d's. A tile
// is half n = k0 / 128 % 2 of a super-block; slot ls (l0 = 8 ls) holds elements 32 qq + l0 .. +7
// of the four quarters qq, from 8 bytes of ql (two places) and 8 bytes of qh.
layout(std430, binding = 0) readonly buffer WBuf { uvec2 w2[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
#include "common/kquant.glsl"
uint D0;
void wslot_init() { D0 = p.n_rows * (p.ne0 / 256u) * 104u; }
uint slot_pos(uint ls, uint e) { return 32u * (e >> 3) + 8u * ls + (e & 7u); }
struct WRaw { Q6KWords w; float16_t d; };
WRaw slot_load(uint row, uint k0, uint ls) {
    const uint blk = row * (p.ne0 / 256u) + k0 / 256u;
    return WRaw(q6k_words(blk, (k0 / 128u) & 1u, 8u * ls), wd[D0 + blk]);
}
void slot_values(WRaw r, uint k0, uint ls, out float v[32]) {
    const Q6KSlot s = q6k_slot_of(r.w, 8u * ls);
    const vec4 sc = float(r.d) * vec4(s.sc);
    for (uint i = 0u; i < 2u; ++i) {
        const uint q0 = q6k_quarter(s, i, 0u), q1 = q6k_quarter(s, i, 1u);
        const uint q2 = q6k_quarter(s, i, 2u), q3 = q6k_quarter(s, i, 3u);
        for (uint k = 0u; k < 4u; ++k) {
            const uint sh = 8u * k, e = 4u * i + k;
            v[e] = sc.x * (float((q0 >> sh) & 63u) - 32.0);
            v[8u + e] = sc.y * (float((q1 >> sh) & 63u) - 32.0);
            v[16u + e] = sc.z * (float((q2 >> sh) & 63u) - 32.0);
            v[24u + e] = sc.w * (float((q3 >> sh) & 63u) - 32.0);
        }
    }
}

#else
#error "define one of WTYPE_Q4_0, WTYPE_Q8_0, WTYPE_Q4_K, WTYPE_Q6_K"
#endif
