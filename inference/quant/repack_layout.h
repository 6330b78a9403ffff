#pragma once
// Byte sizes of the packed layout (repack.h), shared by the packer and the AVX-512 kernels.
// The AVX-512 file reads only the constants: an inline member function compiled there could be
// merged by the linker with the copy scalar code calls.
#include <cstddef>
#include <cstdint>

#include "inference/quant/types.h"

namespace ld::detail {

// Per block (32 elements for Q4_0/Q8_0, 256 for K-quants) of a 16-row group: `qs` bytes of
// quantized values (64-byte vectors, lane r = row r), then, after all blocks' qs, `sc` bytes
// of scales per block.
struct PackLayout {
    int block, qs, sc;
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
};
inline constexpr PackLayout PackLayout::kQ4_0{32, 4 * 64, 32};            // 4 nibble vectors, d
inline constexpr PackLayout PackLayout::kQ8_0{32, 8 * 64, 32};            // 8 byte vectors, d
inline constexpr PackLayout PackLayout::kQ4_K{256, 32 * 64, 128 + 128 + 64};  // scales, mins, d, dmin
inline constexpr PackLayout PackLayout::kQ6_K{256, 48 * 64, 256 + 32};    // ql, qh; scales, d

}  // namespace ld::detail
