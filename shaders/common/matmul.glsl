// y[c][r] = dot(W row r, x[c]) for a batch of columns: 64 x 64 output tiles per workgroup of
// 256 threads (4 x 4 each). Each 32-wide slice of K is dequantized once into shared memory
// (common/wtype.glsl) and reused by all 64 columns of the tile.
#extension GL_GOOGLE_include_directive : require
#include "common/push_constants.h"

#define BM 64
#define BN 64
#define BK 32
layout(local_size_x = 256) in;
#define W_BINDING 0
#include "common/wtype.glsl"
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) writeonly buffer YBuf { float y[]; };
layout(push_constant) uniform PC { MatMulPC p; };

shared float ws[BM][BK + 1];
shared float xs[BN][BK + 1];

void main() {
    wtype_init(p.n_rows, p.ne0);
    const uint tid = gl_LocalInvocationID.x;
    const uint tx = tid % 16u, ty = tid / 16u;
    const uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
    float acc[4][4];
    for (uint i = 0u; i < 4u; ++i)
        for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;
    const uint units = BK / UNIT;
    for (uint k0 = 0u; k0 < p.ne0; k0 += BK) {
        for (uint idx = tid; idx < BM * units; idx += 256u) {
            const uint r = idx / units, uu = idx % units, row = row0 + r;
            const uint k = k0 + uu * UNIT;
            float v[UNIT];
            if (row < p.n_rows && k < p.ne0) {
                load_unit(row_base(row, p.ne0), k / UNIT, v);
            } else {
                for (uint e = 0u; e < UNIT; ++e) v[e] = 0.0;
            }
            for (uint e = 0u; e < UNIT; ++e) ws[r][uu * UNIT + e] = v[e];
        }
        for (uint idx = tid; idx < BN * BK; idx += 256u) {
            const uint c = idx / BK, k = idx % BK, col = col0 + c;
            xs[c][k] = (col < p.n_cols && k0 + k < p.ne0) ? x[col * p.ne0 + k0 + k] : 0.0;
        }
        barrier();
        // Two-level summation (per slice, then across slices) keeps long rows accurate.
        float part[4][4];
        for (uint i = 0u; i < 4u; ++i)
            for (uint j = 0u; j < 4u; ++j) part[i][j] = 0.0;
        for (uint k = 0u; k < BK; ++k) {
            float a[4], b[4];
            for (uint i = 0u; i < 4u; ++i) a[i] = ws[ty * 4u + i][k];
            for (uint j = 0u; j < 4u; ++j) b[j] = xs[tx * 4u + j][k];
            for (uint i = 0u; i < 4u; ++i)
                for (uint j = 0u; j < 4u; ++j) part[i][j] += a[i] * b[j];
        }
        for (uint i = 0u; i < 4u; ++i)
            for (uint j = 0u; j < 4u; ++j) acc[i][j] += part[i][j];
        barrier();
    }
    for (uint i = 0u; i < 4u; ++i)
        for (uint j = 0u; j < 4u; ++j) {
            const uint row = row0 + ty * 4u + i, col = col0 + tx * 4u + j;
            if (row < p.n_rows && col < p.n_cols) y[col * p.n_rows + row] = acc[i][j];
        }
}
