// Packing of GGUF weight rows into the 16-row interleaved layout of repack.h, and dispatch to
// the packed kernels. Packing is plain byte shuffling (no SIMD), done once at load time.
#include "inference/quant/repack.h"

#include <cstring>

#include "inference/core/error.h"
#include "inference/quant/quant.h"
#include "inference/quant/quant_internal.h"
#include "inference/quant/repack_layout.h"

namespace ld {

namespace {

using detail::PackLayout;

// Lane r of 4-byte chunk `chunk` of the 64-byte vector for that chunk.
inline uint8_t* lane(uint8_t* qs, int chunk, int r) { return qs + size_t(chunk) * 64 + size_t(r) * 4; }

void pack_q4_0(const block_q4_0* const* rows, int64_t nb, uint8_t* qs, uint8_t* sc) {
    for (int64_t i = 0; i < nb; ++i) {
        uint8_t* q = qs + PackLayout::kQ4_0.q_at(nb, i);
        uint16_t* d = reinterpret_cast<uint16_t*>(sc + PackLayout::kQ4_0.s_at(nb, i));
        for (int r = 0; r < kPackRows; ++r) {
            if (!rows[r]) continue;  // padding rows stay zero: scale 0 contributes nothing
            const block_q4_0& b = rows[r][i];
            d[r] = b.d;
            for (int c = 0; c < 4; ++c) std::memcpy(lane(q, c, r), b.qs + 4 * c, 4);
        }
    }
}

void pack_q8_0(const block_q8_0* const* rows, int64_t nb, uint8_t* qs, uint8_t* sc) {
    for (int64_t i = 0; i < nb; ++i) {
        uint8_t* q = qs + PackLayout::kQ8_0.q_at(nb, i);
        uint16_t* d = reinterpret_cast<uint16_t*>(sc + PackLayout::kQ8_0.s_at(nb, i));
        for (int r = 0; r < kPackRows; ++r) {
            if (!rows[r]) continue;
            const block_q8_0& b = rows[r][i];
            d[r] = b.d;
            // Stored +128 (unsigned) for VPDPBUSD; the kernel subtracts 128 * sum(y).
            for (int c = 0; c < 8; ++c)
                for (int k = 0; k < 4; ++k) lane(q, c, r)[k] = uint8_t(b.qs[4 * c + k]) ^ 0x80;
        }
    }
}

// Q4_K: chunk 8k+c holds qs[32k+4c .. +3] (low nibbles: sub-block 2k, high: 2k+1). Scales:
// [8 sub-blocks][16 rows] u8, mins [4 pairs][16 rows][2] u8, d[16] fp16, dmin[16] fp16.
void pack_q4_K(const block_q4_K* const* rows, int64_t nb, uint8_t* qs, uint8_t* sc) {
    for (int64_t i = 0; i < nb; ++i) {
        uint8_t* q = qs + PackLayout::kQ4_K.q_at(nb, i);
        uint8_t* s = sc + PackLayout::kQ4_K.s_at(nb, i);
        uint16_t* d = reinterpret_cast<uint16_t*>(s + 256);
        for (int r = 0; r < kPackRows; ++r) {
            if (!rows[r]) continue;
            const block_q4_K& b = rows[r][i];
            for (int c = 0; c < 32; ++c) std::memcpy(lane(q, c, r), b.qs + 4 * c, 4);
            for (int j = 0; j < 8; ++j) {
                uint8_t scale, min;
                detail::get_scale_min_k4(j, b.scales, &scale, &min);
                s[j * 16 + r] = scale;
                s[128 + (j / 2) * 32 + r * 2 + (j % 2)] = min;
            }
            d[r] = b.d;
            d[16 + r] = b.dmin;
        }
    }
}

// Q6_K: chunk q6k_ql_slot(g) holds ql[4g .. +3] (g < 32), chunk q6k_qh_slot(g) holds qh[4g .. +3]
// (g < 16), in the one-token kernel's read order (repack_layout.h). Scales:
// [16 sub-blocks][16 rows] i8, then d[16] fp16.
void pack_q6_K(const block_q6_K* const* rows, int64_t nb, uint8_t* qs, uint8_t* sc) {
    for (int64_t i = 0; i < nb; ++i) {
        uint8_t* q = qs + PackLayout::kQ6_K.q_at(nb, i);
        uint8_t* s = sc + PackLayout::kQ6_K.s_at(nb, i);
        uint16_t* d = reinterpret_cast<uint16_t*>(s + 256);
        for (int r = 0; r < kPackRows; ++r) {
            if (!rows[r]) continue;
            const block_q6_K& b = rows[r][i];
            for (int g = 0; g < 32; ++g) std::memcpy(lane(q, detail::q6k_ql_slot(g), r), b.ql + 4 * g, 4);
            for (int g = 0; g < 16; ++g) std::memcpy(lane(q, detail::q6k_qh_slot(g), r), b.qh + 4 * g, 4);
            for (int k = 0; k < 16; ++k) s[k * 16 + r] = uint8_t(b.scales[k]);
            d[r] = b.d;
            d[16 + r] = 0;  // the block's padding to a whole vector
        }
    }
}

// Inverses of the packers for one row (lane r of its group).
void unpack_q4_0(const uint8_t* qs, const uint8_t* sc, int64_t nb, int r, block_q4_0* out) {
    for (int64_t i = 0; i < nb; ++i) {
        std::memcpy(&out[i].d, sc + PackLayout::kQ4_0.s_at(nb, i) + 2 * r, 2);
        const uint8_t* q = qs + PackLayout::kQ4_0.q_at(nb, i);
        for (int c = 0; c < 4; ++c) std::memcpy(out[i].qs + 4 * c, q + c * 64 + r * 4, 4);
    }
}

void unpack_q8_0(const uint8_t* qs, const uint8_t* sc, int64_t nb, int r, block_q8_0* out) {
    for (int64_t i = 0; i < nb; ++i) {
        std::memcpy(&out[i].d, sc + PackLayout::kQ8_0.s_at(nb, i) + 2 * r, 2);
        const uint8_t* q = qs + PackLayout::kQ8_0.q_at(nb, i);
        for (int c = 0; c < 8; ++c)
            for (int k = 0; k < 4; ++k) out[i].qs[4 * c + k] = int8_t(q[c * 64 + r * 4 + k] ^ 0x80);
    }
}

void unpack_q4_K(const uint8_t* qs, const uint8_t* sc, int64_t nb, int r, block_q4_K* out) {
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* q = qs + PackLayout::kQ4_K.q_at(nb, i);
        const uint8_t* s = sc + PackLayout::kQ4_K.s_at(nb, i);
        block_q4_K& b = out[i];
        for (int c = 0; c < 32; ++c) std::memcpy(b.qs + 4 * c, q + c * 64 + r * 4, 4);
        uint8_t scale[8], min[8];
        for (int j = 0; j < 8; ++j) {
            scale[j] = s[j * 16 + r];
            min[j] = s[128 + (j / 2) * 32 + r * 2 + (j % 2)];
        }
        // Re-encode the 6-bit scales and mins (inverse of get_scale_min_k4).
        for (int j = 0; j < 4; ++j) {
            b.scales[j] = uint8_t(scale[j] | ((scale[j + 4] >> 4) << 6));
            b.scales[j + 4] = uint8_t(min[j] | ((min[j + 4] >> 4) << 6));
            b.scales[j + 8] = uint8_t((scale[j + 4] & 0xF) | ((min[j + 4] & 0xF) << 4));
        }
        std::memcpy(&b.d, s + 256 + 2 * r, 2);
        std::memcpy(&b.dmin, s + 288 + 2 * r, 2);
    }
}

void unpack_q6_K(const uint8_t* qs, const uint8_t* sc, int64_t nb, int r, block_q6_K* out) {
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* q = qs + PackLayout::kQ6_K.q_at(nb, i);
        const uint8_t* s = sc + PackLayout::kQ6_K.s_at(nb, i);
        block_q6_K& b = out[i];
        for (int g = 0; g < 32; ++g) std::memcpy(b.ql + 4 * g, q + detail::q6k_ql_slot(g) * 64 + r * 4, 4);
        for (int g = 0; g < 16; ++g) std::memcpy(b.qh + 4 * g, q + detail::q6k_qh_slot(g) * 64 + r * 4, 4);
        for (int k = 0; k < 16; ++k) b.scales[k] = int8_t(s[k * 16 + r]);
        std::memcpy(&b.d, s + 256 + 2 * r, 2);
    }
}

template <class B>
void pack_groups(void (*pack)(const B* const*, int64_t, uint8_t*, uint8_t*), const PackLayout& L,
                 int64_t n, int64_t nrows, const void* W, void* dst, int64_t g0, int64_t g1) {
    const int64_t nb = n / L.block;
    const size_t rs = size_t(nb) * sizeof(B);
    const size_t gs = L.group_bytes(n);
    for (int64_t g = g0; g < g1; ++g) {
        const B* rows[kPackRows];
        for (int r = 0; r < kPackRows; ++r) {
            const int64_t row = g * kPackRows + r;
            rows[r] = row < nrows ? reinterpret_cast<const B*>(static_cast<const uint8_t*>(W) + size_t(row) * rs)
                                  : nullptr;
        }
        uint8_t* qs = static_cast<uint8_t*>(dst) + size_t(g) * gs;
        // Padding rows must read as zero (scale 0); full groups overwrite every byte.
        if ((g + 1) * kPackRows > nrows) std::memset(qs, 0, gs);
        pack(rows, nb, qs, qs);  // offsets within the group: PackLayout
    }
}

bool has_layout(GgmlType t) {
    return t == GgmlType::Q4_0 || t == GgmlType::Q8_0 || t == GgmlType::Q4_K || t == GgmlType::Q6_K;
}

void check(GgmlType t, int64_t n, int64_t nrows, const char* what) {
    if (!has_layout(t)) fail(what, ": no packed layout for ", type_name(t));
    const int64_t blk = PackLayout::of(t).block;
    if (n <= 0 || n % blk != 0 || nrows < 0)
        fail(what, ": bad shape ", n, " x ", nrows, " for packed ", type_name(t));
}

}  // namespace

bool can_repack(GgmlType t, int64_t n) {
    if (!has_layout(t) || n <= 0 || n % PackLayout::of(t).block != 0) return false;
    return detected_isa() == Isa::AVX512 && detail::avx512_built();
}

size_t packed_size(GgmlType t, int64_t n, int64_t nrows) {
    check(t, n, nrows, "packed_size");
    return size_t((nrows + kPackRows - 1) / kPackRows) * PackLayout::of(t).group_bytes(n);
}

void repack_groups(GgmlType t, int64_t n, int64_t nrows, const void* W, void* dst, int64_t g0,
                   int64_t g1) {
    check(t, n, nrows, "repack_groups");
    const int64_t ng = (nrows + kPackRows - 1) / kPackRows;
    if (g0 < 0 || g1 > ng || g1 < g0) fail("repack_groups: bad group range [", g0, ", ", g1, ")");
    switch (t) {
    case GgmlType::Q4_0: pack_groups(pack_q4_0, PackLayout::kQ4_0, n, nrows, W, dst, g0, g1); break;
    case GgmlType::Q8_0: pack_groups(pack_q8_0, PackLayout::kQ8_0, n, nrows, W, dst, g0, g1); break;
    case GgmlType::Q4_K: pack_groups(pack_q4_K, PackLayout::kQ4_K, n, nrows, W, dst, g0, g1); break;
    case GgmlType::Q6_K: pack_groups(pack_q6_K, PackLayout::kQ6_K, n, nrows, W, dst, g0, g1); break;
    default: break;
    }
}

void packed_row(GgmlType t, int64_t n, int64_t nrows, const void* P, int64_t r, void* dst) {
    check(t, n, nrows, "packed_row");
    if (r < 0 || r >= nrows) fail("packed_row: row ", r, " outside [0, ", nrows, ")");
    const PackLayout& L = PackLayout::of(t);
    const int64_t nb = n / L.block;
    const uint8_t* qs = static_cast<const uint8_t*>(P) + size_t(r / kPackRows) * L.group_bytes(n);
    const uint8_t* sc = qs;  // PackLayout::s_at is from the group start
    const int lane = int(r % kPackRows);
    switch (t) {
    case GgmlType::Q4_0: unpack_q4_0(qs, sc, nb, lane, static_cast<block_q4_0*>(dst)); break;
    case GgmlType::Q8_0: unpack_q8_0(qs, sc, nb, lane, static_cast<block_q8_0*>(dst)); break;
    case GgmlType::Q4_K: unpack_q4_K(qs, sc, nb, lane, static_cast<block_q4_K*>(dst)); break;
    case GgmlType::Q6_K: unpack_q6_K(qs, sc, nb, lane, static_cast<block_q6_K*>(dst)); break;
    default: break;
    }
}

void packed_matvec(GgmlType t, int64_t n, int64_t nrows, const void* P, const void* xq, float* y,
                   int64_t r0, int64_t r1) {
    packed_matmul(t, n, nrows, P, xq, 1, y, 0, r0, r1);
}

void packed_matmul(GgmlType t, int64_t n, int64_t nrows, const void* P, const void* xq, int64_t nb,
                   float* y, int64_t ldy, int64_t r0, int64_t r1) {
    if (!can_repack(t, n)) fail("packed_matmul: no packed kernel for ", type_name(t), " on this CPU");
    if (r0 < 0 || r1 < r0 || r1 > nrows) fail("packed_matmul: bad row range [", r0, ", ", r1, ")");
    if (nb < 0 || (nb > 1 && ldy < r1)) fail("packed_matmul: bad batch ", nb, " / stride ", ldy);
    if (r0 == r1 || nb == 0) return;
    detail::avx512_packed_matmul(t, n, P, xq, nb, y, ldy, r0, r1);
}

}  // namespace ld
