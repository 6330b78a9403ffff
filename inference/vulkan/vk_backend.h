#pragma once
// Entry points of the Vulkan backend for create_backend() and `llamadesk-cli devices`.
#include <memory>
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

}  // namespace ld
