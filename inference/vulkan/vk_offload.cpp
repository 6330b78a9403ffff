#include "inference/vulkan/vk_offload.h"

#include <algorithm>

#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"

namespace ld::vk {

OffloadPlan plan_offload(const std::vector<uint64_t>& layer_bytes, uint64_t embd_bytes, uint64_t fixed_bytes,
                         uint64_t available, int requested, const std::string& device_name) {
    const int n = int(layer_bytes.size());
    OffloadPlan plan;
    plan.gpu_layers = requested < 0 ? n : std::min(requested, n);
    uint64_t layers = 0;
    for (int l = 0; l < plan.gpu_layers; ++l) layers += layer_bytes[size_t(l)];
    // Asked for fewer layers on the GPU: the embedding goes with them (it is read row by row).
    plan.embd_in_sysmem = plan.gpu_layers < n && embd_bytes > 0;
    auto gpu = [&] { return fixed_bytes + layers + (plan.embd_in_sysmem ? 0 : embd_bytes); };
    const uint64_t room = available > gpu_headroom(available) ? available - gpu_headroom(available) : 0;
    if (requested < 0 && available > 0) {
        if (gpu() > room && embd_bytes > 0) plan.embd_in_sysmem = true;
        while (gpu() > room && plan.gpu_layers > 0) layers -= layer_bytes[size_t(--plan.gpu_layers)];
        if (gpu() > room)
            fail("the output matrix and norms (", gpu() >> 20, " MiB) do not fit ", device_name, " (", room >> 20,
                 " MiB free after the KV cache and buffers) even with every layer's weights in system memory; use a "
                 "smaller context or the CPU backend");
    }
    plan.gpu_bytes = gpu();
    return plan;
}

}  // namespace ld::vk
