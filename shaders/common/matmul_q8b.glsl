// y[c][r] (+)= dot(W row r, x[x_col0 + c]) for small batches (MatMulQ8PC in push_constants.h):
// 2..16 columns of int8 activations (quantize_q8's layout, one column after the other), the
// weight types of common/q8_slot.glsl. The decode matvec's launch shape (common/matvec_q8.glsl:
// NUM_ROWS rows per workgroup of WG threads, thread t takes slots t, t + WG, ...), but each
// weight slot is loaded and unpacked once and dotted with every column's slot: W is read once per
// step whatever the batch, as in decode, where the tiled prompt matmul (64 x 64 tiles) would read
// it once per 64 columns but do 64 columns' work for 2 (and, on lavapipe, cost 24 decode steps).
//
// NCOLS (specialization constant 2) is the number of columns, p.n_cols the same (vk_ops.cpp builds
// a program per column count on first use): every loop over columns has a constant trip count and
// no exit, so it unrolls and the NUM_ROWS x NCOLS accumulators stay in registers. (Programs for
// 4, 8 and 16 columns at most, with a uniform early exit, kept the loop rolled on lavapipe: a
// 2-column step's matmul cost 4.6 decode matvecs, against 3.0 with NCOLS = 2 exactly.)
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/dot4x8.glsl"

layout(constant_id = 0) const uint NUM_ROWS = 2;
layout(local_size_x_id = 1, local_size_x = 64) in;
layout(constant_id = 2) const uint NCOLS = 8;
#define WG gl_WorkGroupSize.x
layout(std430, binding = 1) readonly buffer XQ4 { ivec4 xq4[]; };  // 16 quants
layout(std430, binding = 1) readonly buffer XQ2 { ivec2 xq2[]; };  // 8 quants
layout(std430, binding = 1) readonly buffer XD { vec4 xd[]; };     // a column's {d, s0, s1, 0} at its byte ne0
layout(std430, binding = 2) buffer YBuf { float y[]; };  // read when p.accumulate
layout(push_constant) uniform PC { MatMulQ8PC p; };
#include "common/q8_slot.glsl"

// Partial sums of one chunk of columns: (column in chunk, row, subgroup), as many entries as the
// decode matvec's red[NUM_ROWS][WG] (any subgroup size, down to 1).
shared float red[NUM_ROWS * WG];

void main() {
    q8_init();
    XD0 = p.ne0 / 16u;
    const uint col_stride = 3u * p.ne0 / 32u;  // q8_bytes(ne0) in 16-byte units
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = (gl_WorkGroupID.x + gl_WorkGroupID.y * p.row_groups) * NUM_ROWS;
    if (row0 >= p.n_rows) return;  // uniform across the workgroup
    const uint slots = p.ne0 / 32u;
    // Rows past the end repeat the last row (no out-of-range loads) and are not written.
    uint g0[NUM_ROWS];
    for (uint r = 0u; r < NUM_ROWS; ++r) g0[r] = min(row0 + r, p.n_rows - 1u) * slots;
    float acc[NUM_ROWS * NCOLS];
    for (uint i = 0u; i < NUM_ROWS * NCOLS; ++i) acc[i] = 0.0;
    for (uint s = tid; s < slots; s += WG) {
        WS w[NUM_ROWS];
        for (uint r = 0u; r < NUM_ROWS; ++r) w[r] = load_ws(g0[r] + s);
        for (uint c = 0u; c < NCOLS; ++c) {
            const XS x = load_xs((p.x_col0 + c) * col_stride, s);
            for (uint r = 0u; r < NUM_ROWS; ++r) acc[r * NCOLS + c] += ws_dot(w[r], x);
        }
    }
    // Reduce in chunks of `per` columns, so that a chunk's subgroup partials fit `red`: per x
    // NUM_ROWS x gl_NumSubgroups <= NUM_ROWS x WG. One chunk where subgroups are 16 wide or more.
    const uint nsg = gl_NumSubgroups, per = min(NCOLS, max(1u, WG / nsg));
    for (uint c0 = 0u; c0 < NCOLS; c0 += per) {
        for (uint c = 0u; c < NCOLS; ++c) {
            if (c < c0 || c >= c0 + per) continue;  // uniform
            for (uint r = 0u; r < NUM_ROWS; ++r) {
                const float v = subgroupAdd(acc[r * NCOLS + c]);
                if (subgroupElect()) red[((c - c0) * NUM_ROWS + r) * nsg + gl_SubgroupID] = v;
            }
        }
        barrier();
        const uint n_out = min(per, NCOLS - c0) * NUM_ROWS;
        for (uint i = tid; i < n_out; i += WG) {
            const uint r = i % NUM_ROWS, c = c0 + i / NUM_ROWS, row = row0 + r;
            if (row >= p.n_rows) continue;
            float v = 0.0;
            for (uint k = 0u; k < nsg; ++k) v += red[i * nsg + k];
            const uint o = c * p.n_rows + row;
            y[o] = (p.accumulate != 0u ? y[o] : 0.0) + v;
        }
        barrier();  // red is refilled by the next chunk
    }
}
