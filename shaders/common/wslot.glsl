// A weight row's 32-element slots read with 16-byte (Q6_K: 8-byte) loads from the device layouts
// of inference/vulkan/vk_repack.h (the same slots common/matvec_wide.glsl reads), for tiles of
// 128 consecutive k: each row's tile holds 4 slots. slot_values(row, k0, ls, v) dequantizes
// slot ls (0..3) of the tile starting at k0; slot_pos(ls, e) is where its element e goes in the
// tile. Needs ne0 % 128 == 0. Declares binding 0 and uses p (MatMulPC): ne0, n_rows.
#extension GL_EXT_shader_16bit_storage : require

#if defined(WTYPE_Q4_0)
// block = slot: 16 quant bytes (low nibble of byte j = element j, high = j + 16), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void wslot_init() { D0 = p.n_rows * (p.ne0 / 32u) * 8u; }
uint slot_pos(uint ls, uint e) { return 32u * ls + e; }
void slot_values(uint row, uint k0, uint ls, out float v[32]) {
    const uint g = row * (p.ne0 / 32u) + k0 / 32u + ls;
    const uvec4 q = w4[g];
    const float d = float(wd[D0 + g]);
    for (uint i = 0u; i < 4u; ++i)
        for (uint b = 0u; b < 4u; ++b) {
            v[4u * i + b] = (float((q[i] >> (8u * b)) & 15u) - 8.0) * d;
            v[16u + 4u * i + b] = (float((q[i] >> (8u * b + 4u)) & 15u) - 8.0) * d;
        }
}

#elif defined(WTYPE_Q8_0)
// block = slot: 32 int8 quants (two 16-byte loads), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void wslot_init() { D0 = p.n_rows * (p.ne0 / 32u) * 16u; }
uint slot_pos(uint ls, uint e) { return 32u * ls + e; }
void slot_values(uint row, uint k0, uint ls, out float v[32]) {
    const uint g = row * (p.ne0 / 32u) + k0 / 32u + ls;
    const uvec4 a = w4[2u * g], b = w4[2u * g + 1u];
    const float d = float(wd[D0 + g]);
    for (uint i = 0u; i < 4u; ++i)
        for (uint k = 0u; k < 4u; ++k) {
            v[4u * i + k] = float(bitfieldExtract(int(a[i]), int(8u * k), 8)) * d;
            v[16u + 4u * i + k] = float(bitfieldExtract(int(b[i]), int(8u * k), 8)) * d;
        }
}

#elif defined(WTYPE_Q4_K)
// GGUF block_q4_K (144 bytes = 9 x 16): header {d, dmin, scales[12]}, then qs[128]. A tile is
// half a super-block (hh = k0 / 128 % 2): slot ls is super-block slot 4 hh + ls, i.e. pair j of
// 32 quant bytes, half `half` of it: low nibbles = sub-block 2j elements 16 half .. +15, high
// nibbles = sub-block 2j + 1's.
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
void wslot_init() {}
uint slot_pos(uint ls, uint e) { return 64u * (ls >> 1) + 16u * (ls & 1u) + (e < 16u ? e : e + 16u); }
uvec2 scale_min(uvec4 h, uint s) {  // shifts only: no run-time vector index (local memory on NVIDIA)
    const uint t = 8u * (s & 3u);
    const uint a = h.y >> t, b = h.z >> t, c = h.w >> t;
    return s < 4u ? uvec2(a & 63u, b & 63u)
                  : uvec2((c & 15u) | (((a >> 6) & 3u) << 4), ((c >> 4) & 15u) | (((b >> 6) & 3u) << 4));
}
void slot_values(uint row, uint k0, uint ls, out float v[32]) {
    const uint blk = row * (p.ne0 / 256u) + k0 / 256u, s = 4u * ((k0 / 128u) & 1u) + ls;
    const uint j = s >> 1, half_ = s & 1u;
    const uvec4 h = w4[blk * 9u];
    const uvec4 q = w4[blk * 9u + 1u + 2u * j + half_];
    const vec2 dm = unpackHalf2x16(h.x);
    const uvec2 sm0 = scale_min(h, 2u * j), sm1 = scale_min(h, 2u * j + 1u);
    const float d0 = dm.x * float(sm0.x), m0 = dm.y * float(sm0.y);
    const float d1 = dm.x * float(sm1.x), m1 = dm.y * float(sm1.y);
    for (uint i = 0u; i < 4u; ++i)
        for (uint b = 0u; b < 4u; ++b) {
            v[4u * i + b] = d0 * float((q[i] >> (8u * b)) & 15u) - m0;
            v[16u + 4u * i + b] = d1 * float((q[i] >> (8u * b + 4u)) & 15u) - m1;
        }
}

#elif defined(WTYPE_Q6_K)
// Split block_q6_K: 208 bytes (26 x 8) {ql[128], qh[64], int8 scales[16]}, then the d's. A tile
// is half n = k0 / 128 % 2 of a super-block; slot ls (l0 = 8 ls) holds elements 32 qq + l0 .. +7
// of the four quarters qq, from 8 bytes of ql (two places) and 8 bytes of qh.
layout(std430, binding = 0) readonly buffer WBuf { uvec2 w2[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void wslot_init() { D0 = p.n_rows * (p.ne0 / 256u) * 104u; }
uint slot_pos(uint ls, uint e) { return 32u * (e >> 3) + 8u * ls + (e & 7u); }
void slot_values(uint row, uint k0, uint ls, out float v[32]) {
    const uint blk = row * (p.ne0 / 256u) + k0 / 256u, n = (k0 / 128u) & 1u, l0 = 8u * ls;
    const uint b = blk * 26u;
    const uvec2 lo = w2[b + (64u * n + l0) / 8u];
    const uvec2 hi = w2[b + (64u * n + 32u + l0) / 8u];
    const uvec2 qh = w2[b + (128u + 32u * n + l0) / 8u];
    const uvec2 sc = w2[b + 24u + n];
    const float d = float(wd[D0 + blk]);
    // int8 scale of quarter qq: sc[8 n + l0 / 16 + 2 qq] (bytes of sc.x for qq < 2, of sc.y after)
    const uint t = 8u * (l0 >> 4);
    const float s0 = d * float(bitfieldExtract(int(sc.x >> t), 0, 8)), s1 = d * float(bitfieldExtract(int(sc.x >> (t + 16u)), 0, 8));
    const float s2 = d * float(bitfieldExtract(int(sc.y >> t), 0, 8)), s3 = d * float(bitfieldExtract(int(sc.y >> (t + 16u)), 0, 8));
    for (uint i = 0u; i < 2u; ++i)
        for (uint k = 0u; k < 4u; ++k) {
            const uint sh = 8u * k, e = 4u * i + k;
            const uint a = lo[i] >> sh, c = hi[i] >> sh, hb = qh[i] >> sh;
            v[e] = s0 * (float((a & 15u) | ((hb & 3u) << 4)) - 32.0);
            v[8u + e] = s1 * (float((c & 15u) | (((hb >> 2) & 3u) << 4)) - 32.0);
            v[16u + e] = s2 * (float(((a >> 4) & 15u) | (((hb >> 4) & 3u) << 4)) - 32.0);
            v[24u + e] = s3 * (float(((c >> 4) & 15u) | (((hb >> 6) & 3u) << 4)) - 32.0);
        }
}

#else
#error "define one of WTYPE_Q4_0, WTYPE_Q8_0, WTYPE_Q4_K, WTYPE_Q6_K"
#endif
