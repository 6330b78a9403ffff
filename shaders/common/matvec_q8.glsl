// y[r] (+)= dot(W row r, x) for decode with x quantized to int8 per block of 32 (the layout of
// QuantizeQ8PC in push_constants.h): integer dot products of 4 bytes (common/dot4x8.glsl), one
// float multiply per block and weight scale. The launch shape is common/matvec_wide.glsl's:
// NUM_ROWS rows per workgroup of WG threads, thread t takes slots t, t + WG, ... of 32 weights
// (16-byte loads from vk_repack.h's layout), each slot's x (32 bytes + its block scales) is
// loaded once for all NUM_ROWS rows; subgroupAdd, then shared memory across subgroups.
// x's traffic per 32 weights is 48 bytes instead of the f32 kernel's 128. Needs ne0 % 32 == 0.
#extension GL_EXT_shader_16bit_storage : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common/dot4x8.glsl"

layout(constant_id = 0) const uint NUM_ROWS = 2;
layout(local_size_x_id = 1, local_size_x = 64) in;
// Slots a thread takes per loop step (1 or 2): with 2 it has both slots' loads in flight at once.
layout(constant_id = 2) const uint UNROLL = 1;
#define WG gl_WorkGroupSize.x
layout(std430, binding = 1) readonly buffer XQ4 { ivec4 xq4[]; };  // 16 quants
layout(std430, binding = 1) readonly buffer XQ2 { ivec2 xq2[]; };  // 8 quants
layout(std430, binding = 1) readonly buffer XD { vec4 xd[]; };     // {d, s0, s1, 0} at byte ne0
layout(std430, binding = 2) buffer YBuf { float y[]; };  // read when p.accumulate
#include "common/matvec_pc.glsl"
// The weight types' slots (load_ws, load_xs, ws_dot), shared with common/matmul_q8b.glsl.
#include "common/q8_slot.glsl"
float slot_dot(uint g, XS x) { return ws_dot(load_ws(g), x); }

shared float red[NUM_ROWS][WG];  // one entry per subgroup; WG covers a subgroup size of 1
#include "common/matvec_store.glsl"

void main() {
    q8_init();
    XD0 = p.ne0 / 16u;
    const uint tid = gl_LocalInvocationID.x;
    const uint row0 = (gl_WorkGroupID.x + gl_WorkGroupID.y * p.row_groups) * NUM_ROWS;
    if (row0 >= p.n_rows) return;  // uniform across the workgroup
    const uint slots = p.ne0 / 32u;
    // Rows past the end repeat the last row (no out-of-range loads) and are not written.
    uint g0[NUM_ROWS];
    float acc[NUM_ROWS];
    for (uint r = 0u; r < NUM_ROWS; ++r) {
        g0[r] = min(row0 + r, p.n_rows - 1u) * slots;
        acc[r] = 0.0;
    }
    if (UNROLL == 2u) {
        for (uint s = tid; s < slots; s += 2u * WG) {
            const uint s1 = min(s + WG, slots - 1u);  // past the end: a repeat, not added
            const XS x0 = load_xs(0u, s), x1 = load_xs(0u, s1);
            const bool second = s + WG < slots;
            for (uint r = 0u; r < NUM_ROWS; ++r) {
                const float a = slot_dot(g0[r] + s, x0), b = slot_dot(g0[r] + s1, x1);
                acc[r] += second ? a + b : a;
            }
        }
    } else {
        for (uint s = tid; s < slots; s += WG) {
            const XS x = load_xs(0u, s);
            for (uint r = 0u; r < NUM_ROWS; ++r) acc[r] += slot_dot(g0[r] + s, x);
        }
    }
    for (uint r = 0u; r < NUM_ROWS; ++r) {
        const float v = subgroupAdd(acc[r]);
        if (subgroupElect()) red[r][gl_SubgroupID] = v;
    }
    barrier();
    store_rows(row0, 0u);
}
