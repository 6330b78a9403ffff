#pragma once
// Entry points of the Vulkan backend for create_backend() and `llamadesk-cli devices`.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inference/backend/backend.h"

namespace ld {

std::unique_ptr<Backend> create_vulkan_backend(const Model& model, const BackendOptions& options);
// True when a usable discrete or integrated GPU exists ("auto" then picks Vulkan; lavapipe
// and other CPU implementations are slower than the CPU backend).
bool vulkan_gpu_available();
// One line per Vulkan device for `llamadesk-cli devices` (empty plus `why` when none).
struct VulkanDeviceLine {
    std::string text;  // "vulkan 0: NVIDIA H100 (discrete, 80.0 GiB, subgroup 32, fp16, int8, coopmat NV)"
    std::string json;  // the same as a JSON object
};
std::vector<VulkanDeviceLine> describe_vulkan_devices(std::string* why);

// Device memory a Vulkan backend holds: what it allocated itself (exact) and, where the device
// has VK_EXT_memory_budget, the driver's heap usage for this process.
struct VulkanMemoryUsage {
    uint64_t bytes = 0;        // currently allocated with vkAllocateMemory
    uint64_t allocations = 0;  // live vkAllocateMemory allocations
    std::optional<uint64_t> driver_heap_usage;
};
// Throws ld::Error when `backend` is not a Vulkan backend.
VulkanMemoryUsage vulkan_device_memory(const Backend& backend);
// The same counters, readable after the backend is destroyed (they must then read zero; the
// driver figure is absent because its device is gone). For leak checks.
std::function<VulkanMemoryUsage()> vulkan_memory_probe(const Backend& backend);

}  // namespace ld
