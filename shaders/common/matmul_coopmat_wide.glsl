// y[c][r] = dot(W row r, x[c]) for prompt batches on tensor cores (VK_NV_cooperative_matrix, 16x16x16
// f16 x f16 -> f32), the successor of common/matmul_coopmat.glsl built to expose less latency per
// K step: 128-wide K slices (4x fewer steps and barriers, 32 MMAs per subgroup per step), weights
// read as 16-byte slots by all 128 threads (common/wslot.glsl; the old kernel had half its threads
// dequantize whole 32-element blocks with 2-byte loads), x read as vec4. 64 x 64 output tiles,
// 4 subgroups of 32 in a 2 x 2 grid, each a 32 x (BN / 2) quarter as 2 x (BN / 32) f32 matrices.
// Each slice's weight words and x are loaded into registers before the barrier that waits for
// the last slice's products, then stored to the tiles as 4 packed halves per store. (Loading the
// next slice during this one's products, one barrier ahead, was no faster on the H100: 5,355
// against 5,387 tok/s on 8B Q4_K_M prompts, 5% slower on Q4_0; nor were the packed stores alone.)
// Shared memory: padded 64 x 128 and BN x 128 f16 tiles + one subgroup's result (38 KiB at BN = 64).
// Needs ne0 % 128 == 0.
// EMULATE_COOPMAT replaces the matrix operations with plain loops over the same shared tiles (lane
// l of each group of 32 threads owns elements l, l + 32, ... of each 16 x 16 matrix) so devices
// without cooperative matrices (lavapipe in CI) test the tiling, loads and stores; its .comp sets
// BN = 32 to fit lavapipe's 32 KiB of shared memory.
#ifndef EMULATE_COOPMAT
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#endif
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require

#define BM 64
#ifndef BN
#define BN 64
#endif
#define QN (BN / 2)   // columns of a subgroup's quarter
#define NJ (QN / 16)  // its 16-column matrices
#define BK 128
#define BKP 136  // row stride in halves: rows 16 bytes off a 256-byte multiple, against bank conflicts
layout(local_size_x = 128) in;
layout(push_constant) uniform PC { MatMulPC p; };
#include "common/wslot.glsl"
layout(std430, binding = 1) readonly buffer XBuf { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer XBuf16 { uvec4 x8[]; };  // with X16: 8 halves
layout(std430, binding = 2) writeonly buffer YBuf { float y[]; };

#define BKP4 (BKP / 4)
shared uvec2 ws[BM * BKP4];  // [m][k]: A, row-major, 4 halves an element (packed: the element types
                             // coopMatLoadNV takes are scalars, uvec2 and uvec4)
shared uvec2 xs[BN * BKP4];  // [n][k]: B (k x n), column-major
shared float cs[32 * QN];     // one subgroup's 32 x QN result, row-major

uvec2 pack4(vec4 v) { return uvec2(packHalf2x16(v.xy), packHalf2x16(v.zw)); }
#ifdef EMULATE_COOPMAT
float half_at(uvec2 w, uint k) { return unpackHalf2x16(k < 2u ? w.x : w.y)[k & 1u]; }
#endif

// X16 (specialization constant 0): x arrives as halves (to_f16.comp), read as 8 per load and
// stored to the tile as they are; else as floats, converted here by every 64-row tile (the H100:
// 5,531 against 5,379 tok/s on 8B Q4_K_M prompts, 5,539 against 5,587 on Q4_0).
layout(constant_id = 0) const uint X16 = 0;
#define XV (BN / 4)   // f32 x: vec4 loads per thread per slice (BN columns x 32 vec4s / 128 threads)
#define XH (BN / 8)   // f16 x: uvec4 loads (BN columns x 16 / 128 threads)

// The slice at k0 into registers. W: 64 rows x 4 slots, two per thread (idx = tid + 128 i: row
// idx / 4, slot idx % 4); rows past the end repeat the last (not stored). x: column idx / 32, vec4
// idx % 32 (f16: column idx / 16, uvec4 idx % 16); columns past the end are zero.
WRaw wr[2];
vec4 xr[XV];
uvec4 xh[XH];
void load_slice(uint tid, uint row0, uint col0, uint k0) {
    for (uint i = 0u; i < 2u; ++i) {
        const uint idx = tid + 128u * i;
        wr[i] = slot_load(min(row0 + idx / 4u, p.n_rows - 1u), k0, idx % 4u);
    }
    if (X16 != 0u) {
        for (uint i = 0u; i < XH; ++i) {
            const uint idx = tid + 128u * i, col = col0 + idx / 16u;
            xh[i] = col < p.n_cols ? x8[(col * p.ne0 + k0) / 8u + idx % 16u] : uvec4(0u);
        }
    } else {
        for (uint i = 0u; i < XV; ++i) {
            const uint idx = tid + 128u * i, col = col0 + idx / 32u;
            xr[i] = col < p.n_cols ? x4[(col * p.ne0 + k0) / 4u + idx % 32u] : vec4(0.0);
        }
    }
}

void main() {
    wslot_init();
    const uint tid = gl_LocalInvocationID.x, sg = tid / 32u, lane = tid % 32u;
    const uint sm = sg / 2u, sn = sg % 2u;
    const uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
#ifdef EMULATE_COOPMAT
    float acc[2][NJ][8];
    for (uint i = 0u; i < 2u; ++i)
        for (uint j = 0u; j < NJ; ++j)
            for (uint t = 0u; t < 8u; ++t) acc[i][j][t] = 0.0;
#else
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][NJ];
    for (uint i = 0u; i < 2u; ++i)
        for (uint j = 0u; j < NJ; ++j) acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
#endif
    for (uint k0 = 0u; k0 < p.ne0; k0 += BK) {
        load_slice(tid, row0, col0, k0);
        barrier();  // the last slice's products have read the tiles
        for (uint i = 0u; i < 2u; ++i) {
            const uint idx = tid + 128u * i, r = idx / 4u, ls = idx % 4u;
            float v[32];
            slot_values(wr[i], k0, ls, v);
            for (uint e = 0u; e < 32u; e += 4u)
                ws[r * BKP4 + slot_pos(ls, e) / 4u] = pack4(vec4(v[e], v[e + 1u], v[e + 2u], v[e + 3u]));
        }
        if (X16 != 0u) {
            for (uint i = 0u; i < XH; ++i) {
                const uint idx = tid + 128u * i, o = (idx / 16u) * BKP4 + 2u * (idx % 16u);
                xs[o] = xh[i].xy;
                xs[o + 1u] = xh[i].zw;
            }
        } else {
            for (uint i = 0u; i < XV; ++i) {
                const uint idx = tid + 128u * i;
                xs[(idx / 32u) * BKP4 + idx % 32u] = pack4(xr[i]);
            }
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk += 16u) {
#ifdef EMULATE_COOPMAT
            for (uint i = 0u; i < 2u; ++i)
                for (uint j = 0u; j < NJ; ++j)
                    for (uint t = 0u; t < 8u; ++t) {
                        const uint e = lane + 32u * t, a = (sm * 32u + i * 16u + e / 16u) * BKP + kk;
                        const uint b = (sn * QN + j * 16u + e % 16u) * BKP + kk;
                        float s = 0.0;
                        for (uint k = 0u; k < 16u; ++k)
                            s += half_at(ws[(a + k) / 4u], (a + k) % 4u) * half_at(xs[(b + k) / 4u], (b + k) % 4u);
                        acc[i][j][t] += s;
                    }
#else
            fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[2], b[NJ];
            for (uint i = 0u; i < 2u; ++i)
                coopMatLoadNV(a[i], ws, ((sm * 32u + i * 16u) * BKP + kk) / 4u, BKP4, false);
            for (uint j = 0u; j < NJ; ++j)
                coopMatLoadNV(b[j], xs, ((sn * QN + j * 16u) * BKP + kk) / 4u, BKP4, true);
            for (uint i = 0u; i < 2u; ++i)
                for (uint j = 0u; j < NJ; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
#endif
        }
    }
    // One subgroup's quarter at a time through cs (keeps shared memory under 48 KiB).
    for (uint s = 0u; s < 4u; ++s) {
        if (sg == s) {
#ifdef EMULATE_COOPMAT
            for (uint i = 0u; i < 2u; ++i)
                for (uint j = 0u; j < NJ; ++j)
                    for (uint t = 0u; t < 8u; ++t) {
                        const uint e = lane + 32u * t;
                        cs[(i * 16u + e / 16u) * QN + j * 16u + e % 16u] = acc[i][j][t];
                    }
#else
            for (uint i = 0u; i < 2u; ++i)
                for (uint j = 0u; j < NJ; ++j) coopMatStoreNV(acc[i][j], cs, (i * 16u) * QN + j * 16u, QN, false);
#endif
        }
        barrier();
        for (uint e = tid; e < 32u * QN; e += 128u) {
            const uint row = row0 + (s / 2u) * 32u + e / QN, col = col0 + (s % 2u) * QN + e % QN;
            if (row < p.n_rows && col < p.n_cols) y[col * p.n_rows + row] = cs[e];
        }
        barrier();
    }
}
