#include "inference/vulkan/vk_repack.h"

#include <cstring>

#include "inference/core/error.h"

namespace ld::vk {

namespace {
// Offset of the f16 d inside a GGUF block: first for Q4_0/Q8_0, last for Q6_K.
size_t scale_offset(GgmlType t) { return t == GgmlType::Q6_K ? 208 : 0; }
}  // namespace

size_t repack_quant_bytes(GgmlType t) {
    switch (t) {
        case GgmlType::Q4_0: return 16;
        case GgmlType::Q8_0: return 32;
        case GgmlType::Q6_K: return 208;
        default: return 0;
    }
}

void repack_blocks(GgmlType t, const uint8_t* src, size_t n_blocks, uint8_t* quants, uint8_t* scales) {
    const size_t qb = repack_quant_bytes(t);
    if (qb == 0) fail("Vulkan: ", type_name(t), " weights are not repacked");
    const size_t bb = traits(t).type_size, so = scale_offset(t), qo = so == 0 ? 2 : 0;
    for (size_t b = 0; b < n_blocks; ++b) {
        std::memcpy(quants + b * qb, src + b * bb + qo, qb);
        std::memcpy(scales + b * 2, src + b * bb + so, 2);
    }
}

std::vector<uint8_t> repack_weight(GgmlType t, const uint8_t* src, size_t nbytes) {
    std::vector<uint8_t> out(src, src + nbytes);
    const size_t qb = repack_quant_bytes(t);
    if (qb == 0) return out;
    const size_t bb = traits(t).type_size;
    if (nbytes % bb != 0) fail("Vulkan: ", nbytes, " bytes are not whole ", type_name(t), " blocks");
    const size_t n = nbytes / bb;
    repack_blocks(t, src, n, out.data(), out.data() + n * qb);
    return out;
}

}  // namespace ld::vk
