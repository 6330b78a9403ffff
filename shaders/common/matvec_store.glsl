// The decode matvecs' last step (common/matvec_wide.glsl, common/matvec_q8.glsl): red[r][s] holds
// subgroup s's partial sum of row row0 + r. Thread r < NUM_ROWS finishes row row0 + r: y = sum, or
// y += sum (p.accumulate: decode's residual adds), or with ROPE_EPILOGUE the RoPE rotation of the
// row pair (row0 is even and NUM_ROWS even, so a pair never spans workgroups) and, for keys and
// values, the f16 store into the KV cache (MatVecRopePC): decode then needs no rope_store pass.
#ifdef ROPE_EPILOGUE
#extension GL_EXT_shader_16bit_storage : require
layout(std430, binding = 3) readonly buffer CS { vec2 cs[]; };       // token 0: (rope_dim / 2) (cos, sin)
layout(std430, binding = 4) writeonly buffer KV { float16_t kv[]; };  // (n_ctx, n_rows) cache
#endif

float row_sum(uint r) {
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; ++i) s += red[r][i];
    return s;
}

void store_rows(uint row0, uint col) {
    const uint r = gl_LocalInvocationID.x;
    if (r >= NUM_ROWS || row0 + r >= p.n_rows) return;
    const uint row = row0 + r;
    const float v = row_sum(r);
#ifdef ROPE_EPILOGUE
    const uint d = row % pr.head_dim;
    float o = v;
    if (pr.mode != 2u && d < pr.rope_dim) {
        const float other = row_sum(r ^ 1u);  // the pair's other element
        const vec2 c = cs[d / 2u];
        o = (d & 1u) == 0u ? v * c.x - other * c.y : other * c.y + v * c.x;
    }
    if (pr.mode == 0u)
        y[row] = o;
    else
        kv[pr.pos * p.n_rows + row] = float16_t(o);
#else
    const uint i = col * p.n_rows + row;
    y[i] = (p.accumulate != 0u ? y[i] : 0.0) + v;
#endif
}
