#pragma once
// Device layout of quantized weights. GGUF blocks of Q4_0 (18 bytes), Q8_0 (34) and Q6_K (210)
// are only 2-byte aligned, so a shader could not read them with 16-byte loads. At upload each
// such matrix is split into two regions: every block's quants back to back (16, 32 or 208
// bytes: 16-byte aligned), then every block's f16 scale d. The byte count is unchanged, rows stay
// in order, and shaders/common/wtype.glsl finds the scales at n_blocks * quant_bytes.
// Other types (F32, F16, Q4_K with its 144-byte blocks) keep the GGUF layout.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "inference/quant/types.h"

namespace ld::vk {

// Bytes of one block's quants in the split layout; 0 when `t` keeps the GGUF layout.
size_t repack_quant_bytes(GgmlType t);

// Splits n_blocks consecutive GGUF blocks at `src` into quants (n_blocks * repack_quant_bytes)
// and scales (n_blocks * 2 bytes). Throws ld::Error for a type that is not repacked.
void repack_blocks(GgmlType t, const uint8_t* src, size_t n_blocks, uint8_t* quants, uint8_t* scales);

// The whole matrix (`nbytes` of GGUF blocks) in the device layout; a copy for other types.
std::vector<uint8_t> repack_weight(GgmlType t, const uint8_t* src, size_t nbytes);

}  // namespace ld::vk
