// Weight storage of one ggml type, selected by defining one of WTYPE_F32, WTYPE_F16, WTYPE_Q8_0,
// WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q6_K (and W_BINDING) before including. Blocks are read byte-exact from the GGUF layout
// (inference/quant/types.h) as 16-bit words, so only 16-bit storage access is required.
//   UNIT                      elements dequantized together (a block, or 1 for float types)
//   row_base(row, ne0)        first storage word of a row
//   load_unit(base, u, v)     dequantizes unit u of the row starting at base
#extension GL_EXT_shader_16bit_storage : require

#if defined(WTYPE_F32)
layout(std430, binding = W_BINDING) readonly buffer WBuf { float w[]; };
#define UNIT 1
uint row_base(uint row, uint ne0) { return row * ne0; }
void load_unit(uint base, uint u, out float v[UNIT]) { v[0] = w[base + u]; }

#elif defined(WTYPE_F16)
layout(std430, binding = W_BINDING) readonly buffer WBuf { float16_t w[]; };
#define UNIT 1
uint row_base(uint row, uint ne0) { return row * ne0; }
void load_unit(uint base, uint u, out float v[UNIT]) { v[0] = float(w[base + u]); }

#elif defined(WTYPE_Q8_0)
// block_q8_0: f16 d, int8 qs[32] = 17 words
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32
uint row_base(uint row, uint ne0) { return row * (ne0 / 32u) * 17u; }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint h = base + u * 17u;
    const float d = unpackHalf2x16(uint(w[h])).x;
    for (uint j = 0u; j < 16u; ++j) {
        const int q = int(uint(w[h + 1u + j]));
        v[2u * j] = float(bitfieldExtract(q, 0, 8)) * d;
        v[2u * j + 1u] = float(bitfieldExtract(q, 8, 8)) * d;
    }
}

#elif defined(WTYPE_Q4_0)
// block_q4_0: f16 d, uint8 qs[16] (low nibble = element j, high = j + 16) = 9 words
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32
uint row_base(uint row, uint ne0) { return row * (ne0 / 32u) * 9u; }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint h = base + u * 9u;
    const float d = unpackHalf2x16(uint(w[h])).x;
    for (uint j = 0u; j < 8u; ++j) {
        const uint q = uint(w[h + 1u + j]);
        v[2u * j] = (float(q & 15u) - 8.0) * d;
        v[2u * j + 16u] = (float((q >> 4) & 15u) - 8.0) * d;
        v[2u * j + 1u] = (float((q >> 8) & 15u) - 8.0) * d;
        v[2u * j + 17u] = (float((q >> 12) & 15u) - 8.0) * d;
    }
}

#elif defined(WTYPE_Q4_K) || defined(WTYPE_Q6_K)
layout(std430, binding = W_BINDING) readonly buffer WBuf { uint16_t w[]; };
#define UNIT 32  // a sub-block: super-blocks of 256 hold 8 units
uint wbyte(uint h, uint k) { return (uint(w[h + (k >> 1)]) >> ((k & 1u) * 8u)) & 255u; }

#if defined(WTYPE_Q4_K)
// block_q4_K: f16 d, f16 dmin, uint8 scales[12] (6-bit scale and min per sub-block), qs[128]
// = 72 words. Sub-block s uses nibbles (s odd: high) of qs[32 * (s / 2) ..].
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
// block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d = 105 words.
// Sub-block s: half n = s / 4, quarter k = s % 4 (ggml's q1..q4), 16-element scales.
uint row_base(uint row, uint ne0) { return row * (ne0 / 256u) * 105u; }
void load_unit(uint base, uint u, out float v[UNIT]) {
    const uint h = base + (u >> 3) * 105u, s = u & 7u, n = s >> 2, k = s & 3u;
    const float d = unpackHalf2x16(uint(w[h + 104u])).x;
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
#error "define one of WTYPE_F32, WTYPE_F16, WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q6_K"
#endif
