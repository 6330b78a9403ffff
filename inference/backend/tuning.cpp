#include "inference/backend/tuning.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ld {

namespace {

bool is(const char* v, const char* value) { return v && std::strcmp(v, value) == 0; }

int clamped(const char* v, int fallback, int lo, int hi) {
    return v && *v ? std::clamp(std::atoi(v), lo, hi) : fallback;
}

}  // namespace

// The engine's only reads of LLAMADESK_* variables.
Tuning Tuning::from_env() {
    Tuning t;
    t.vk_wide_matvec = !is(std::getenv("LLAMADESK_VK_MATVEC"), "generic");
    t.vk_matvec_rows = clamped(std::getenv("LLAMADESK_VK_MATVEC_ROWS"), t.vk_matvec_rows, 1, 8);
    t.vk_matvec_threads = clamped(std::getenv("LLAMADESK_VK_MATVEC_WG"), t.vk_matvec_threads, 32, 1024) / 32 * 32;
    t.vk_matvec_unroll = clamped(std::getenv("LLAMADESK_VK_MATVEC_UNROLL"), t.vk_matvec_unroll, 1, 2);
    const char* mm = std::getenv("LLAMADESK_VK_COOPMAT");
    if (is(mm, "classic")) t.vk_matmul = VkMatmul::classic;
    else if (is(mm, "0")) t.vk_matmul = VkMatmul::tiled;
    else if (is(mm, "emulate")) t.vk_matmul = VkMatmul::emulate;
    t.vk_int8 = !is(std::getenv("LLAMADESK_VK_Q8"), "0");
    t.vk_small_batch = clamped(std::getenv("LLAMADESK_VK_SMALL_BATCH"), t.vk_small_batch, 0, 16);
    t.vk_profile = is(std::getenv("LLAMADESK_VK_PROFILE"), "1");
    t.vk_validation = is(std::getenv("LLAMADESK_VULKAN_VALIDATION"), "1");
    const int split = clamped(std::getenv("LLAMADESK_CUDA_MV_SPLIT"), 0, 0, 4);
    t.cuda_mv_split = split == 1 || split == 2 || split == 4 ? split : 0;
    t.cuda_small_batch = clamped(std::getenv("LLAMADESK_CUDA_SMALL_BATCH"), t.cuda_small_batch, 0, 16);
    t.cuda_paged_chunk = clamped(std::getenv("LLAMADESK_CUDA_PAGED_CHUNK"), 0, -1, 1 << 20);
    t.cuda_fused_q8 = clamped(std::getenv("LLAMADESK_CUDA_FUSED_Q8"), t.cuda_fused_q8, 0, 2);
    t.cuda_mv_variant = clamped(std::getenv("LLAMADESK_CUDA_MV_VARIANT"), t.cuda_mv_variant, 0, 3);
    t.cuda_graph = !is(std::getenv("LLAMADESK_CUDA_GRAPH"), "0");
    t.cpu_repack = !is(std::getenv("LLAMADESK_CPU_REPACK"), "0");
    if (const char* v = std::getenv("LLAMADESK_CPU_ISA")) t.cpu_isa = v;
    if (const char* v = std::getenv("LLAMADESK_CUDA_PLUGIN")) t.cuda_plugin = v;
    return t;
}

}  // namespace ld
