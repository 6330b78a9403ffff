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
    uint64_t host_bytes = 0;   // of `bytes`, those in host-visible system memory (weights kept
                               // there by BackendOptions::gpu_layers or for lack of room, I/O buffers)
    std::optional<uint64_t> driver_heap_usage;
};
// Throws ld::Error when `backend` is not a Vulkan backend.
VulkanMemoryUsage vulkan_device_memory(const Backend& backend);
// The same counters, readable after the backend is destroyed (they must then read zero; the
// driver figure is absent because its device is gone). For leak checks.
std::function<VulkanMemoryUsage()> vulkan_memory_probe(const Backend& backend);

// Profile of a Vulkan backend (BackendOptions::tuning.vk_profile, or vulkan_enable_profiling()):
// host time per batch and, where the queue has timestamps, GPU time per op summed over the
// backend's life.
struct VulkanOpTime {
    std::string op;         // "<decode|prompt> <op>", e.g. "decode matvec q4_k attn_q", "prompt rope_store"
    uint64_t calls = 0;
    double total_us = 0;    // from the previous stamp: the op plus the barrier and launch before it
    double weight_bytes = 0;  // weight bytes read over all calls (matvec/matmul/get_rows), else 0
};
struct VulkanProfile {
    uint64_t batches = 0;   // command buffers submitted by forward()
    double record_us = 0, run_us = 0;  // host: recording, and submit to fence (sums)
    bool timestamps = false;  // false: profiling off or the device has none (`note` says which)
    std::string note;
    uint64_t gpu_batches = 0;
    double gpu_us = 0;      // first to last stamp, summed: = the sum of ops' total_us
    uint64_t dropped_marks = 0;
    std::vector<VulkanOpTime> ops;  // by total time, largest first
};
// Starts profiling `backend` from its next batch (what Tuning::vk_profile does at creation).
// Returns "" when GPU timestamps run, else the one-line reason they cannot (host times still do).
// Throws ld::Error when `backend` is not a Vulkan backend.
std::string vulkan_enable_profiling(Backend& backend);
VulkanProfile vulkan_profile(const Backend& backend);
// The table printed at the backend's destruction when profiling: op, calls, total ms, mean us,
// % of GPU time, GB/s of weight bytes.
std::string format_vulkan_profile(const VulkanProfile& p);

}  // namespace ld
