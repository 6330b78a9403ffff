// One 32-weight slot of a quantized matrix against 32 int8 activations (the layout of
// QuantizeQ8PC in common/push_constants.h), for the int8 readers: the decode matvec
// (common/matvec_q8.glsl) and the small-batch matmul (common/matmul_q8b.glsl). Per weight type:
//   load_ws(g) -> WS   the weight words of slot g, unpacked to int8 lanes (weight work only),
//   load_xs(xb, s) -> XS  x's quants and block scales for slot s of the column starting at
//                      16-byte index xb of the int8 buffer (0 for decode's single column),
//   ws_dot(WS, XS)     their dot product (integer dot products of 4 bytes, common/dot4x8.glsl).
// Split so the small-batch kernel unpacks a weight slot once and dots it with every column.
// Before including: the weight buffer layout comes from here; the including shader declares x
// as `ivec4 xq4[]`, `ivec2 xq2[]` and `vec4 xd[]` (binding 1), includes common/dot4x8.glsl and
// the push constants `p` (p.ne0, p.n_rows), then calls q8_init() and sets XD0 = p.ne0 / 16.
uint XD0;  // vec4 index of block 0's scales in a column

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
XS load_xs(uint xb, uint s) { return XS(xq4[xb + 2u * s], xq4[xb + 2u * s + 1u], xd[xb + XD0 + s]); }
struct WS { ivec4 lo, hi; float d; };
WS load_ws(uint g) {
    const uvec4 q = w4[g];
    return WS(ivec4(q & 0x0F0F0F0Fu), ivec4((q >> 4) & 0x0F0F0F0Fu), float(wd[D0 + g]));
}
float ws_dot(WS w, XS x) {
    int acc = 0;
    for (uint i = 0u; i < 4u; ++i) acc += dot4x8(w.lo[i], x.a[i]) + dot4x8(w.hi[i], x.b[i]);
    // (q - 8) . x = q . x - 8 sum(x)
    return w.d * (x.d.x * float(acc) - 8.0 * (x.d.y + x.d.z));
}

#elif defined(WTYPE_Q8_0)
// slot = block: 32 int8 quants (two 16-byte loads), then the d's
layout(std430, binding = 0) readonly buffer WBuf { uvec4 w4[]; };
layout(std430, binding = 0) readonly buffer WD { float16_t wd[]; };
uint D0;
void q8_init() { D0 = p.n_rows * (p.ne0 / 32u) * 16u; }
struct XS { ivec4 a, b; vec4 d; };
XS load_xs(uint xb, uint s) { return XS(xq4[xb + 2u * s], xq4[xb + 2u * s + 1u], xd[xb + XD0 + s]); }
struct WS { ivec4 a, b; float d; };
WS load_ws(uint g) { return WS(ivec4(w4[2u * g]), ivec4(w4[2u * g + 1u]), float(wd[D0 + g])); }
float ws_dot(WS w, XS x) {
    int acc = 0;
    for (uint i = 0u; i < 4u; ++i) acc += dot4x8(w.a[i], x.a[i]) + dot4x8(w.b[i], x.b[i]);
    return w.d * x.d.x * float(acc);
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
XS load_xs(uint xb, uint s) {
    const uint blk = s >> 3, ls = s & 7u, j = ls >> 1, half_ = ls & 1u;
    const uint b = 8u * blk + 2u * j;
    const vec4 ea = xd[xb + XD0 + b], eb = xd[xb + XD0 + b + 1u];
    return XS(xq4[xb + 2u * b + half_], xq4[xb + 2u * b + 2u + half_], ea.x, eb.x, half_ == 0u ? ea.y : ea.z,
              half_ == 0u ? eb.y : eb.z);
}
struct WS { ivec4 lo, hi; vec2 dm; uvec2 sm0, sm1; };
WS load_ws(uint g) {
    const uint blk = g >> 3, ls = g & 7u, j = ls >> 1, half_ = ls & 1u;
    const uvec4 h = w4[blk * 9u];
    const uvec4 q = w4[blk * 9u + 1u + 2u * j + half_];
    return WS(ivec4(q & 0x0F0F0F0Fu), ivec4((q >> 4) & 0x0F0F0F0Fu), unpackHalf2x16(h.x), q4k_scale_min(h, 2u * j),
              q4k_scale_min(h, 2u * j + 1u));
}
float ws_dot(WS w, XS x) {
    int lo = 0, hi = 0;
    for (uint i = 0u; i < 4u; ++i) {
        lo += dot4x8(w.lo[i], x.a[i]);
        hi += dot4x8(w.hi[i], x.b[i]);
    }
    return w.dm.x * (float(w.sm0.x) * x.da * float(lo) + float(w.sm1.x) * x.db * float(hi)) -
           w.dm.y * (float(w.sm0.y) * x.sa + float(w.sm1.y) * x.sb);
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
XS load_xs(uint xb, uint s) {
    const uint blk = s >> 3, ls = s & 7u, n = ls >> 2, l0 = 8u * (ls & 3u);
    const uint e = 2u * xb + 32u * blk + 16u * n + l0 / 8u;  // ivec2 index of quarter 0
    const uint b = xb + XD0 + 8u * blk + 4u * n;
    return XS(xq2[e], xq2[e + 4u], xq2[e + 8u], xq2[e + 12u], vec4(xd[b].x, xd[b + 1u].x, xd[b + 2u].x, xd[b + 3u].x));
}
// The four quarters' quants minus 32 (two words each), their scales and the super-block's d.
struct WS { ivec2 q0, q1, q2, q3; ivec4 sc; float d; };
WS load_ws(uint g) {
    const uint blk = g >> 3, ls = g & 7u;
    const Q6KSlot s = q6k_slot(blk, ls >> 2, 8u * (ls & 3u));
    WS w;
    for (uint i = 0u; i < 2u; ++i) {
        w.q0[i] = minus32(q6k_quarter(s, i, 0u));
        w.q1[i] = minus32(q6k_quarter(s, i, 1u));
        w.q2[i] = minus32(q6k_quarter(s, i, 2u));
        w.q3[i] = minus32(q6k_quarter(s, i, 3u));
    }
    w.sc = s.sc;
    w.d = float(wd[D0 + blk]);
    return w;
}
float ws_dot(WS w, XS x) {
    ivec4 acc = ivec4(0);  // per quarter
    for (uint i = 0u; i < 2u; ++i) {
        acc.x += dot4x8(w.q0[i], x.x0[i]);
        acc.y += dot4x8(w.q1[i], x.x1[i]);
        acc.z += dot4x8(w.q2[i], x.x2[i]);
        acc.w += dot4x8(w.q3[i], x.x3[i]);
    }
    return w.d * dot(vec4(w.sc * acc), x.d);
}

#else
#error "define one of WTYPE_Q8_0, WTYPE_Q4_0, WTYPE_Q4_K, WTYPE_Q6_K"
#endif
