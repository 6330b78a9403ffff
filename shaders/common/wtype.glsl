// Weight storage of one ggml type, selected by defining one of WTYPE_F32, WTYPE_F16, WTYPE_Q8_0,
// WTYPE_Q4_0, WTYPE_Q4_1, WTYPE_Q5_0, WTYPE_Q5_1, WTYPE_Q4_K, WTYPE_Q5_K, WTYPE_Q6_K (and W_BINDING)
// before including. Blocks are read as 16-bit words in the device layout of
// inference/vulkan/vk_repack.h: Q4_0, Q8_0 and Q6_K are split into all quants, then all f16
// scales (found through wtype_init); the others are byte-exact GGUF.
//   UNIT                      elements dequantized together (a block, or 1 for float types)
//   wtype_init(rows, ne0)     call first with the weight matrix's shape
//   row_base(row, ne0)        first storage word (or block, for split types) of a row
//   load_unit(base, u, v)     dequantizes unit u of the row starting at base
#extension GL_EXT_shader_16bit_storage : require

uint W_D0;  // split types: 16-bit index of the first scale (after every block's quants)

#if defined(WTYPE_F32)
layout(std430, binding = W_BINDING) readonly buffer WBuf { float w[]; };
#define UNIT 1
void wtype_init(uint rows, uint ne0) { W_D0 = 0u; }
uint row_base(uint row, uint ne0) { return row * ne0; }
void load_unit(uint base, uint u, out float v[UNIT]) { v[0] = w[base + u]; }

#elif defined(WTYPE_F16)
layout(std430, binding = W_BINDING) readonly buffer WBuf { float16_t w[]; };
#define UNIT 1
void wtype_init(uint rows, uint ne0) { W_D0 = 0u; }
uint row_base(uint row, uint ne0) { return row * ne0; }
void load_unit(uint base, uint u, out float v[UNIT]) { v[0] = float(w[base + u]); }

#elif defined(WTYPE_Q8_0)
// split block_q8_0: int8 qs[32] = 16 words per block, then the f16 d of every block
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32
void wtype_init(uint rows, uint ne0) { W_D0 = rows * (ne0 / 32u) * 16u; }
uint row_base(uint row, uint ne0) { return row * (ne0 / 32u); }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint b = base + u, h = b * 16u;
    const float d = unpackHalf2x16(uint(w[W_D0 + b])).x;
    for (uint j = 0u; j < 16u; ++j) {
        const int q = int(uint(w[h + j]));
        v[2u * j] = float(bitfieldExtract(q, 0, 8)) * d;
        v[2u * j + 1u] = float(bitfieldExtract(q, 8, 8)) * d;
    }
}

#elif defined(WTYPE_Q4_0)
// split block_q4_0: uint8 qs[16] (low nibble = element j, high = j + 16) = 8 words per block,
// then the f16 d of every block
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32
void wtype_init(uint rows, uint ne0) { W_D0 = rows * (ne0 / 32u) * 8u; }
uint row_base(uint row, uint ne0) { return row * (ne0 / 32u); }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint b = base + u, h = b * 8u;
    const float d = unpackHalf2x16(uint(w[W_D0 + b])).x;
    for (uint j = 0u; j < 8u; ++j) {
        const uint q = uint(w[h + j]);
        v[2u * j] = (float(q & 15u) - 8.0) * d;
        v[2u * j + 16u] = (float((q >> 4) & 15u) - 8.0) * d;
        v[2u * j + 1u] = (float((q >> 8) & 15u) - 8.0) * d;
        v[2u * j + 17u] = (float((q >> 12) & 15u) - 8.0) * d;
    }
}

#elif defined(WTYPE_Q4_1) || defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
// GGUF blocks of 32 (only the generic kernels read these): block_q4_1 {d, m, qs[16]} = 10 words,
// block_q5_0 {d, qh[4], qs[16]} = 11, block_q5_1 {d, m, qh[4], qs[16]} = 12. Element j < 16 is the
// low nibble of qs[j], j + 16 the high one; Q5 adds bit j (resp. j + 16) of qh as the fifth bit.
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32
#if defined(WTYPE_Q4_1)
#define BLOCK_WORDS 10u
#elif defined(WTYPE_Q5_0)
#define BLOCK_WORDS 11u
#else
#define BLOCK_WORDS 12u
#endif
void wtype_init(uint rows, uint ne0) { W_D0 = 0u; }
uint row_base(uint row, uint ne0) { return row * (ne0 / 32u) * BLOCK_WORDS; }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint h = base + u * BLOCK_WORDS;
    const float d = unpackHalf2x16(uint(w[h])).x;
#if defined(WTYPE_Q5_0)
    const float m = -16.0 * d;
    const uint qh = uint(w[h + 1u]) | (uint(w[h + 2u]) << 16), q0 = h + 3u;
#elif defined(WTYPE_Q5_1)
    const float m = unpackHalf2x16(uint(w[h + 1u])).x;
    const uint qh = uint(w[h + 2u]) | (uint(w[h + 3u]) << 16), q0 = h + 4u;
#else
    const float m = unpackHalf2x16(uint(w[h + 1u])).x;
    const uint qh = 0u, q0 = h + 2u;
#endif
    for (uint j = 0u; j < 8u; ++j) {
        const uint q = uint(w[q0 + j]), a = 2u * j, b = 2u * j + 1u;
        v[a] = float((q & 15u) | (((qh >> a) & 1u) << 4)) * d + m;
        v[a + 16u] = float(((q >> 4) & 15u) | (((qh >> (a + 16u)) & 1u) << 4)) * d + m;
        v[b] = float(((q >> 8) & 15u) | (((qh >> b) & 1u) << 4)) * d + m;
        v[b + 16u] = float(((q >> 12) & 15u) | (((qh >> (b + 16u)) & 1u) << 4)) * d + m;
    }
}

#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K) || defined(WTYPE_Q6_K)
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32  // a sub-block: super-blocks of 256 hold 8 units
uint wbyte(uint h, uint k) { return (uint(w[h + (k >> 1)]) >> ((k & 1u) * 8u)) & 255u; }

#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// 6-bit scale and min of sub-block s of a K block whose scales[12] start at word h.
uvec2 k_scale_min(uint h, uint s) {
    if (s < 4u) return uvec2(wbyte(h, s) & 63u, wbyte(h, s + 4u) & 63u);
    return uvec2((wbyte(h, s + 4u) & 15u) | ((wbyte(h, s - 4u) >> 6) << 4),
                 (wbyte(h, s + 4u) >> 4) | ((wbyte(h, s) >> 6) << 4));
}
#endif

#if defined(WTYPE_Q5_K)
// block_q5_K: f16 d, f16 dmin, scales[12], qh[32], qs[128] = 88 words. Sub-block s: nibbles
// (s odd: high) of qs[32 * (s / 2) + l], fifth bit = bit s of qh[l].
void wtype_init(uint rows, uint ne0) { W_D0 = 0u; }
uint row_base(uint row, uint ne0) { return row * (ne0 / 256u) * 88u; }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint h = base + (u >> 3) * 88u, s = u & 7u;
    const uvec2 sm = k_scale_min(h + 2u, s);
    const float d = unpackHalf2x16(uint(w[h])).x * float(sm.x), m = unpackHalf2x16(uint(w[h + 1u])).x * float(sm.y);
    const uint q0 = 48u + (s >> 1) * 32u, shift = (s & 1u) * 4u;
    for (uint l = 0u; l < 32u; ++l) {
        const uint q = ((wbyte(h, q0 + l) >> shift) & 15u) | (((wbyte(h, 16u + l) >> s) & 1u) << 4);
        v[l] = d * float(q) - m;
    }
}
#elif defined(WTYPE_Q4_K)
// block_q4_K: f16 d, f16 dmin, uint8 scales[12] (6-bit scale and min per sub-block), qs[128]
// = 72 words. Sub-block s uses nibbles (s odd: high) of qs[32 * (s / 2) ..].
void wtype_init(uint rows, uint ne0) { W_D0 = 0u; }
uint row_base(uint row, uint ne0) { return row * (ne0 / 256u) * 72u; }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint h = base + (u >> 3) * 72u, s = u & 7u;
    const vec2 dm = vec2(unpackHalf2x16(uint(w[h])).x, unpackHalf2x16(uint(w[h + 1u])).x);
    uint sc, mn;
    if (s < 4u) {
        sc = wbyte(h + 2u, s) & 63u;
        mn = wbyte(h + 2u, s + 4u) & 63u;
    } else {
        sc = (wbyte(h + 2u, s + 4u) & 15u) | ((wbyte(h + 2u, s - 4u) >> 6) << 4);
        mn = (wbyte(h + 2u, s + 4u) >> 4) | ((wbyte(h + 2u, s) >> 6) << 4);
    }
    const float d = dm.x * float(sc), m = dm.y * float(mn);
    const uint q0 = h + 8u + (s >> 1) * 16u, shift = (s & 1u) * 4u;
    for (uint l = 0u; l < 16u; ++l) {
        const uint q = uint(w[q0 + l]);
        v[2u * l] = d * float((q >> shift) & 15u) - m;
        v[2u * l + 1u] = d * float((q >> (8u + shift)) & 15u) - m;
    }
}
#else
// split block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16] = 104 words per
// block, then the f16 d of every block.
// Sub-block s: half n = s / 4, quarter k = s % 4 (ggml's q1..q4), 16-element scales.
void wtype_init(uint rows, uint ne0) { W_D0 = rows * (ne0 / 256u) * 104u; }
uint row_base(uint row, uint ne0) { return row * (ne0 / 256u); }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint b = base + (u >> 3), h = b * 104u, s = u & 7u, n = s >> 2, k = s & 3u;
    const float d = unpackHalf2x16(uint(w[W_D0 + b])).x;
    const uint ql0 = 64u * n + (k & 1u) * 32u, qlshift = (k >> 1) * 4u;
    const uint qh0 = 128u + 32u * n, qhshift = 2u * k;
    for (uint l = 0u; l < 32u; ++l) {
        const int sc = bitfieldExtract(int(wbyte(h, 192u + 8u * n + (l >> 4) + 2u * k)), 0, 8);
        const uint q = ((wbyte(h, ql0 + l) >> qlshift) & 15u) | (((wbyte(h, qh0 + l) >> qhshift) & 3u) << 4);
        v[l] = d * float(sc) * (float(q) - 32.0);
    }
}
#endif

#else
#error "define one of WTYPE_F32, WTYPE_F16, WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_1, WTYPE_Q5_0, WTYPE_Q5_1, WTYPE_Q4_K, WTYPE_Q5_K, WTYPE_Q6_K"
#endif
