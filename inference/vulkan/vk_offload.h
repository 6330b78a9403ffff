#pragma once
// Which weights a Vulkan backend keeps in system memory (host-visible buffers the GPU reads over
// the bus) when a model does not fit the GPU, or when BackendOptions::gpu_layers asks for fewer
// layers on it. The same shaders run every layer; the weights in system memory only read slower
// (PCIe: tens of GB/s, against TB/s of device memory), so a model that does not fit still runs
// on the GPU instead of failing to load. First out: an embedding matrix of its own (decode reads
// one row of it per token), then whole layers from the last.
#include <cstdint>
#include <string>
#include <vector>

namespace ld::vk {

struct OffloadPlan {
    int gpu_layers = 0;           // layers 0 .. gpu_layers - 1 keep their weights on the GPU
    bool embd_in_sysmem = false;  // the token embedding (only when not tied to the output)
    uint64_t gpu_bytes = 0;       // the weights that stay on the GPU
};

// layer_bytes: each layer's weights; embd_bytes: the token embedding's, 0 when it is tied to the
// output matrix (which decode reads whole: it stays); fixed_bytes: the weights that always stay
// (output, norms). available: what the GPU can still take once the KV cache and activations are
// allocated (Device::device_local_available(); 0 = unknown: everything stays). requested:
// BackendOptions::gpu_layers (< 0: as many as fit). Throws ld::Error when even the weights that
// must stay do not fit.
OffloadPlan plan_offload(const std::vector<uint64_t>& layer_bytes, uint64_t embd_bytes, uint64_t fixed_bytes,
                         uint64_t available, int requested, const std::string& device_name);

}  // namespace ld::vk
