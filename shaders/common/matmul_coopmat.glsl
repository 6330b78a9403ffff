// y[c][r] = dot(W row r, x[c]) for prompt batches on tensor cores (VK_NV_cooperative_matrix):
// 64 x 64 output tiles per workgroup of 4 subgroups of 32 (the host uses this only where the
// subgroup size is 32 and the device lists 16x16x16 f16 x f16 -> f32 matrices). Each 32-wide
// K slice of W is dequantized (common/wtype.glsl) and x converted to f16 into shared memory;
// each subgroup then accumulates its 32 x 32 quarter as 2 x 2 f32 16 x 16 matrices.
// x in f16 costs ~2^-12 relative per element (the tests allow for it).
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require

#define BM 64
#define BN 64
#define BK 32
layout(local_size_x = 128) in;
#define W_BINDING 0
#include "common/wtype.glsl"
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) writeonly buffer YBuf { float y[]; };
layout(push_constant) uniform PC { MatMulPC p; };

shared float16_t ws[BM * BK];  // [m][k]: A, row-major
shared float16_t xs[BN * BK];  // [n][k]: B (k x n), column-major
shared float cs[4 * 32 * 32];  // each subgroup's 32 x 32 result, row-major

void main() {
    wtype_init(p.n_rows, p.ne0);
    const uint tid = gl_LocalInvocationID.x, sg = tid / 32u, lane = tid % 32u;
    const uint sm = sg / 2u, sn = sg % 2u;
    const uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][2];
    for (uint i = 0u; i < 2u; ++i)
        for (uint j = 0u; j < 2u; ++j) acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
    const uint units = BK / UNIT;
    for (uint k0 = 0u; k0 < p.ne0; k0 += BK) {
        for (uint idx = tid; idx < BM * units; idx += 128u) {
            const uint r = idx / units, uu = idx % units, row = row0 + r, k = k0 + uu * UNIT;
            float v[UNIT];
            if (row < p.n_rows && k < p.ne0) {
                load_unit(row_base(row, p.ne0), k / UNIT, v);
            } else {
                for (uint e = 0u; e < UNIT; ++e) v[e] = 0.0;
            }
            for (uint e = 0u; e < UNIT; ++e) ws[r * BK + uu * UNIT + e] = float16_t(v[e]);
        }
        for (uint idx = tid; idx < BN * BK; idx += 128u) {
            const uint c = idx / BK, k = idx % BK, col = col0 + c;
            xs[idx] = float16_t((col < p.n_cols && k0 + k < p.ne0) ? x[col * p.ne0 + k0 + k] : 0.0);
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk += 16u) {
            fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> a[2], b[2];
            for (uint i = 0u; i < 2u; ++i) coopMatLoadNV(a[i], ws, (sm * 32u + i * 16u) * BK + kk, BK, false);
            for (uint j = 0u; j < 2u; ++j) coopMatLoadNV(b[j], xs, (sn * 32u + j * 16u) * BK + kk, BK, true);
            for (uint i = 0u; i < 2u; ++i)
                for (uint j = 0u; j < 2u; ++j) acc[i][j] = coopMatMulAddNV(a[i], b[j], acc[i][j]);
        }
        barrier();
    }
    for (uint i = 0u; i < 2u; ++i)
        for (uint j = 0u; j < 2u; ++j)
            coopMatStoreNV(acc[i][j], cs, sg * 1024u + (i * 16u) * 32u + j * 16u, 32u, false);
    barrier();
    for (uint e = lane; e < 1024u; e += 32u) {
        const uint row = row0 + sm * 32u + e / 32u, col = col0 + sn * 32u + e % 32u;
        if (row < p.n_rows && col < p.n_cols) y[col * p.n_rows + row] = cs[sg * 1024u + e];
    }
}
