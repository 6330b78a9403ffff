// Push-constant blocks shared by the C++ side (inference/vulkan/vk_ops.cpp) and the shaders.
// Only 4-byte scalars, so GLSL's push-constant layout and C++ agree; the C++ side checks sizes.
#ifndef LD_PUSH_CONSTANTS_H
#define LD_PUSH_CONSTANTS_H

#ifdef __cplusplus
#include <cstdint>
namespace ld::vk {
using uint = uint32_t;
#define LD_CHECK_SIZE(T, n) static_assert(sizeof(T) == (n), #T " must match its GLSL block");
#else
#define LD_CHECK_SIZE(T, n)
#endif

// get_rows_*: out[t][i] = dequant(W row ids[t])[i]; one invocation per element.
struct GetRowsPC {
    uint n_rows;   // tokens
    uint ne0;      // row width
    uint w_rows;   // rows of W (the split layouts of vk_repack.h need the matrix size)
};
LD_CHECK_SIZE(GetRowsPC, 12)

// rmsnorm: out[r] = x[r] / rms(x[r]) * w; one workgroup per row.
struct RmsNormPC {
    uint n_rows;
    uint ne0;
    uint x_offset;    // floats: first row read
    float eps;
};
LD_CHECK_SIZE(RmsNormPC, 16)

// rope: rotates adjacent pairs of each head's first rope_dim values by the per-token cos/sin
// table (n_tokens x rope_dim / 2 pairs of cos, sin).
struct RopePC {
    uint n_tokens;
    uint n_heads;
    uint head_dim;
    uint rope_dim;
};
LD_CHECK_SIZE(RopePC, 16)

// rope_store: rope on q (in place) and k, k and v written as f16 into the caches at pos + t.
struct RopeStorePC {
    uint n_tokens;
    uint q_dim;      // n_heads * head_dim
    uint kv_dim;     // n_kv_heads * head_dim
    uint head_dim;
    uint rope_dim;
    uint pos;
};
LD_CHECK_SIZE(RopeStorePC, 24)

// kv_store: cache[pos + t][i] = f16(src[t][i]) for K and V.
struct KvStorePC {
    uint n_tokens;
    uint kv_dim;
    uint pos;
};
LD_CHECK_SIZE(KvStorePC, 12)

// attention: tokens pos .. pos + n_tokens - 1, token t causal over pos + t + 1 cached positions;
// one workgroup per (KV head [x part of its group], tile of tokens), layout in attention.comp.
struct AttentionPC {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint pos;
    float scale;
    uint n_tokens;
};
LD_CHECK_SIZE(AttentionPC, 24)

// attention_split / attention_combine (decode, one token): query head h's n_kv cached positions
// in n_split chunks of `chunk` positions, one workgroup per (KV head, chunk) for the heads that
// share it, then one per head merges.
struct AttentionSplitPC {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint n_kv;
    uint chunk;
    uint n_split;
    float scale;
    uint write_q8;  // combine: also the int8 copy of the output (head_dim % 32 == 0)
};
LD_CHECK_SIZE(AttentionSplitPC, 32)

// swiglu (g = silu(g) * u) and add (a += b): element-wise over n values.
struct EltwisePC {
    uint n;
};
LD_CHECK_SIZE(EltwisePC, 4)

// matvec_*: y[c][r] = dot(W row r, x[c]) for r < n_rows, c < n_cols.
struct MatVecPC {
    uint ne0;         // input width
    uint n_rows;      // output rows
    uint n_cols;      // activations (tokens)
    uint row_groups;  // workgroups along x (rows wrap into y when past the 65535 limit)
    uint accumulate;  // 1: y += the product (decode's residual adds), 0: y = the product
};
LD_CHECK_SIZE(MatVecPC, 20)

// Decode's q/k/v matvecs with RoPE and the KV-cache store in their epilogue
// (common/matvec_store.glsl, ROPE_EPILOGUE): one column, rows in pairs (NUM_ROWS and n_rows
// even). mode 0: y = rope(W x) (the query); 1: cache row pos = f16(rope(W x)) (the key); 2:
// cache row pos = f16(W x) (the value). The cos/sin table is token 0's (n_rows = kv_dim for 1, 2).
struct MatVecRopePC {
    MatVecPC mv;
    uint mode;
    uint head_dim;
    uint rope_dim;
    uint pos;
};
LD_CHECK_SIZE(MatVecRopePC, 36)

// Decode activations quantized for the int8 matvec (common/matvec_q8.glsl), n % 32 == 0 values:
// bytes [0, n) int8 quants, then at byte n one vec4 {d, s0, s1, 0} per block of 32, value i =
// d * q[i] and s0, s1 = d * (sum of the block's first, second 16 quants); q8_bytes(n) = 3 n / 2.
// A batch of rows holds them one after the other (row r at byte r * q8_bytes(n)); quantize_q8
// takes row r of a (and of b in mode 1) and writes row r of the outputs in workgroup row y = r.
// quantize_q8 writes them, one invocation per block, from
//   mode 0: a;  mode 1: silu(a) * b (the FFN's SwiGLU);  mode 2: rmsnorm(a) * b (weights b),
// and also writes those f32 values to its f32 output (for weights without an int8 kernel). When
// n % 32 != 0 only the f32 values are written.
struct QuantizeQ8PC {
    uint n;
    uint mode;
    float eps;        // mode 2
    uint write_q8;    // n % 32 == 0 and a consumer reads the int8 copy
};
LD_CHECK_SIZE(QuantizeQ8PC, 16)

// matmul_q8b_*: y[c][r] (+)= dot(W row r, x[x_col0 + c]) for r < n_rows, c < n_cols <= 16, x
// being n_cols + x_col0 columns of int8 activations, each in QuantizeQ8PC's layout (q8_bytes(ne0)
// bytes per column, one after the other): small batches (several sequences' decode tokens, a
// speculative verification), bound by reading W once (common/matmul_q8b.glsl).
struct MatMulQ8PC {
    uint ne0;
    uint n_rows;
    uint n_cols;
    uint row_groups;  // workgroups along x (rows wrap into y when past the 65535 limit)
    uint accumulate;  // 1: y += the product (the residual adds), 0: y = the product
    uint x_col0;      // first column of x read (the output matrix on the last rows only)
};
LD_CHECK_SIZE(MatMulQ8PC, 24)

// matmul_*: the same product for batches, tiled: each workgroup computes a 64 x 64 block of y.
struct MatMulPC {
    uint ne0;
    uint n_rows;
    uint n_cols;
};
LD_CHECK_SIZE(MatMulPC, 12)

#ifdef __cplusplus
}  // namespace ld::vk
#endif
#undef LD_CHECK_SIZE
#endif
