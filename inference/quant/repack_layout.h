#pragma once
// Byte sizes of the packed layout (repack.h), shared by the packer and the AVX-512 kernels.
// The AVX-512 file reads only the constants: an inline member function compiled there could be
// merged by the linker with the copy scalar code calls.
#include <cstddef>
#include <cstdint>

#include "inference/quant/types.h"

namespace ld::detail {

// Per block (32 elements for Q4_0/Q8_0, 256 for K-quants) of a 16-row group: `qs` bytes of
// quantized values (64-byte vectors, lane r = row r) and `sc` bytes of scales. A group is runs
// of `per` blocks: the run's qs, then its scales (the last run may hold fewer blocks). So a
// group reads as one sequential stream, and every run is a whole number of 64-byte lines
// (Q4_0/Q8_0 pair two blocks' 32 scale bytes, K-quant scales are whole vectors). One stream
// instead of the qs and, beside them, the scales of all blocks: Q4_K and Q6_K one-token kernels
// read their weights from memory 40-50% faster (benchmarks/cpu.md).
struct PackLayout {
    int block, qs, sc, per;
    static const PackLayout kQ4_0, kQ8_0, kQ4_K, kQ6_K;
    static const PackLayout& of(GgmlType t) {
        switch (t) {
        case GgmlType::Q8_0: return kQ8_0;
        case GgmlType::Q4_K: return kQ4_K;
        case GgmlType::Q6_K: return kQ6_K;
        default: return kQ4_0;
        }
    }
    size_t group_bytes(int64_t n) const { return size_t(n / block) * size_t(qs + sc); }
    // Offsets of block i's qs and scales in a group of nb blocks.
    constexpr size_t q_at(int64_t nb, int64_t i) const {
        return size_t(i / per) * size_t(per) * size_t(qs + sc) + size_t(i % per) * size_t(qs);
    }
    constexpr size_t s_at(int64_t nb, int64_t i) const {
        const int64_t first = i / per * per, in_run = nb - first < per ? nb - first : per;
        return size_t(first) * size_t(qs + sc) + size_t(in_run) * size_t(qs) + size_t(i % per) * size_t(sc);
    }
};
inline constexpr PackLayout PackLayout::kQ4_0{32, 4 * 64, 32, 2};                // 4 nibble vectors, d
inline constexpr PackLayout PackLayout::kQ8_0{32, 8 * 64, 32, 2};                // 8 byte vectors, d
inline constexpr PackLayout PackLayout::kQ4_K{256, 32 * 64, 128 + 128 + 64, 1};  // scales, mins, d, dmin
inline constexpr PackLayout PackLayout::kQ6_K{256, 48 * 64, 256 + 32 + 32, 1};   // scales, d, 32 zero bytes

// Q6_K's 48 vectors of a block (32 of ql, 16 of qh) are stored in the order the one-token
// kernel reads them: for each k = 8h + t, ql vector 16h + t, ql vector 16h + 8 + t, qh vector
// 8h + t. The block then streams front to back (one sequential run per row group) instead of
// as three interleaved runs. Slot of ql vector g / qh vector g:
constexpr int q6k_ql_slot(int g) { return 3 * (8 * (g / 16) + g % 8) + (g % 16) / 8; }
constexpr int q6k_qh_slot(int g) { return 3 * (8 * (g / 8) + g % 8) + 2; }


}  // namespace ld::detail
