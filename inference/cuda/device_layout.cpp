// Weight rows rewritten at upload into the device layouts of kernels.h: regrouping only moves
// bytes (the values stay bit-identical), so every kernel that reads a regrouped type reads
// the same numbers as from the file.
#include <cstring>

#include "inference/cuda/kernels.h"

namespace ld::cuda {

namespace {

struct Regroup {
    GgmlType dev;
    int block_bytes;  // bytes of one block in the file, d first
    int block_elems;
};

bool regroup_of(GgmlType t, Regroup* r) {
    switch (t) {
    case GgmlType::Q4_0: *r = {kQ4_0R, int(sizeof(block_q4_0)), QK4_0}; return true;
    case GgmlType::Q8_0: *r = {kQ8_0R, int(sizeof(block_q8_0)), QK8_0}; return true;
    case GgmlType::Q6_K: *r = {kQ6_KR, int(sizeof(block_q6_K)), QK_K}; return true;
    default: return false;
    }
}

}  // namespace

GgmlType device_type(GgmlType t, int64_t ne0) {
    Regroup r;
    if (!regroup_of(t, &r) || ne0 % (8 * r.block_elems) != 0) return t;
    return r.dev;
}

GgmlType file_type(GgmlType t) {
    if (t == kQ4_0R) return GgmlType::Q4_0;
    if (t == kQ8_0R) return GgmlType::Q8_0;
    if (t == kQ6_KR) return GgmlType::Q6_K;
    return t;
}

bool has_q8_dot(GgmlType t) {
    return t == kQ4_0R || t == kQ8_0R || t == kQ6_KR || t == GgmlType::Q4_1 || t == GgmlType::Q4_K ||
           t == GgmlType::Q5_K;
}

void to_device_layout(GgmlType t, int64_t ne0, int64_t rows, const uint8_t* src, uint8_t* dst) {
    const size_t row_bytes = row_size(t, ne0);
    Regroup r;
    if (device_type(t, ne0) == t || !regroup_of(t, &r)) {
        std::memcpy(dst, src, row_bytes * size_t(rows));
        return;
    }
    // Q4_0 / Q8_0 keep d at the start of a block, Q6_K at its end.
    const size_t body = size_t(r.block_bytes) - 2;
    const size_t d_at = t == GgmlType::Q6_K ? body : 0, body_at = t == GgmlType::Q6_K ? 0 : 2;
    const int64_t n_blocks = int64_t(row_bytes) / r.block_bytes;
    for (int64_t row = 0; row < rows; ++row) {
        const uint8_t* s = src + size_t(row) * row_bytes;
        uint8_t* d = dst + size_t(row) * row_bytes;
        for (int64_t g = 0; g < n_blocks; g += 8) {
            uint8_t* group = d + size_t(g) * size_t(r.block_bytes);
            for (int k = 0; k < 8; ++k) {
                const uint8_t* b = s + size_t(g + k) * size_t(r.block_bytes);
                std::memcpy(group + 2 * k, b + d_at, 2);
                std::memcpy(group + 16 + size_t(k) * body, b + body_at, body);
            }
        }
    }
}

}  // namespace ld::cuda
