// The paged KV cache's constants and the storage-buffer structs its kernels read, shared by the
// C++ side (inference/vulkan/vk_ops.cpp, vk_backend.cpp) and the shaders, like push_constants.h.
// Only 4-byte scalars, so std430 and C++ agree; the C++ side checks sizes.
#ifndef LD_PAGED_KV_H
#define LD_PAGED_KV_H

#ifdef __cplusplus
#include <cstdint>
namespace ld::vk {
using uint = uint32_t;
#define LD_CHECK_SIZE(T, n) static_assert(sizeof(T) == (n), #T " must match its GLSL struct");
#define LD_CONST constexpr uint
#else
#define LD_CHECK_SIZE(T, n)
#define LD_CONST const uint
#endif

// Positions per cache block: the attention kernels' tile (TILE in common/attention.glsl and
// common/attention_split.glsl), so a tile of positions is one block, found with one table read,
// and its 64 rows stay contiguous in memory as in the unpaged cache (the same loads, the same
// speed). Smaller blocks would split tiles; larger ones only waste more of a sequence's last block.
#define LD_KV_BLOCK 64
LD_CONST kKvBlock = LD_KV_BLOCK;

// attention_paged: one workgroup's query tokens (y index), batch rows t0 .. t0 + n_tokens - 1 of
// one sequence at positions pos .. pos + n_tokens - 1; that sequence's block table starts at
// tables[table]. Ops::paged_tiles builds them.
struct AttentionTile {
    uint t0;
    uint n_tokens;
    uint pos;
    uint table;
};
LD_CHECK_SIZE(AttentionTile, 16)

#ifdef __cplusplus
}  // namespace ld::vk
#endif
#undef LD_CHECK_SIZE
#undef LD_CONST
#endif
