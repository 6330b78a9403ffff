// K-quant pieces shared by the readers of 32-element slots (common/matvec_wide.glsl,
// common/matvec_q8.glsl, common/wslot.glsl). Include after declaring the weight buffer: `w4`
// (uvec4) for Q4_K, `w2` (uvec2, the split layout of inference/vulkan/vk_repack.h) for Q6_K.
// Everything is extracted with shifts: a vector indexed at run time would be spilled to local
// memory on NVIDIA.

#if defined(WTYPE_Q4_K)
// 6-bit scale and min of sub-block s from block_q4_K's header (scales bytes 0..11 = h.y, h.z, h.w).
uvec2 q4k_scale_min(uvec4 h, uint s) {
    const uint t = 8u * (s & 3u);
    const uint a = h.y >> t, b = h.z >> t, c = h.w >> t;
    return s < 4u ? uvec2(a & 63u, b & 63u)
                  : uvec2((c & 15u) | (((a >> 6) & 3u) << 4), ((c >> 4) & 15u) | (((b >> 6) & 3u) << 4));
}
#endif

#if defined(WTYPE_Q6_K)
// Slot (half n, l0 = 0, 8, 16, 24) of split block_q6_K number blk (26 words of 8 bytes): elements
// 128 n + 32 qq + l0 .. +7 of the four quarters qq. lo / hi: the 8 ql bytes holding quarters 0, 2 /
// 1, 3 (low / high nibbles); qh: their 2-bit highs (quarter qq at bit 2 qq of each byte); sc: the
// quarters' int8 scales sc[8 n + l0 / 16 + 2 qq].
struct Q6KSlot {
    uvec2 lo, hi, qh;
    ivec4 sc;
};
// The slot's four words as loaded (sc: the half's 8 scale bytes), and the scales taken out of
// them: separate so a reader can issue the loads long before it needs the values.
struct Q6KWords {
    uvec2 lo, hi, qh, sc;
};
Q6KWords q6k_words(uint blk, uint n, uint l0) {
    const uint b = blk * 26u;
    return Q6KWords(w2[b + (64u * n + l0) / 8u], w2[b + (64u * n + 32u + l0) / 8u],
                    w2[b + (128u + 32u * n + l0) / 8u], w2[b + 24u + n]);
}
Q6KSlot q6k_slot_of(Q6KWords w, uint l0) {
    Q6KSlot s;
    s.lo = w.lo;
    s.hi = w.hi;
    s.qh = w.qh;
    const uint t = 8u * (l0 >> 4);  // bytes of sc.x for quarters 0 and 1, of sc.y for 2 and 3
    s.sc = ivec4(bitfieldExtract(int(w.sc.x >> t), 0, 8), bitfieldExtract(int(w.sc.x >> (t + 16u)), 0, 8),
                 bitfieldExtract(int(w.sc.y >> t), 0, 8), bitfieldExtract(int(w.sc.y >> (t + 16u)), 0, 8));
    return s;
}
Q6KSlot q6k_slot(uint blk, uint n, uint l0) { return q6k_slot_of(q6k_words(blk, n, l0), l0); }
// The 6-bit quants (0..63) of quarter qq for the 4 elements of word i, one per byte.
uint q6k_quarter(Q6KSlot s, uint i, uint qq) {
    const uint l = (qq & 1u) == 0u ? s.lo[i] : s.hi[i];
    return ((l >> (4u * (qq >> 1))) & 0x0F0F0F0Fu) | (((s.qh[i] >> (2u * qq)) & 0x03030303u) << 4);
}
#endif
