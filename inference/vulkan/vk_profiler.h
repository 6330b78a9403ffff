#pragma once
// GPU timestamps per op (Tuning::vk_profile, or vulkan_enable_profiling()): one timestamp query
// at the start of a batch's command buffer and one after every op, read back after the fence and
// summed per op name over the backend's life. Only exists while profiling, so the
// forward pass pays nothing otherwise.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "inference/vulkan/vk_backend.h"

namespace ld::vk {

class Device;

class Profiler {
public:
    // `max_ops`: the most ops one command buffer records (the query pool holds max_ops + 1).
    // Throws ld::Error with a one-line reason when the queue has no timestamps.
    Profiler(const Device& dev, uint32_t max_ops);
    ~Profiler();
    Profiler(const Profiler&) = delete;
    Profiler& operator=(const Profiler&) = delete;

    void begin(VkCommandBuffer cmd);  // right after Commands::begin(): resets the pool, first stamp
    // Timestamp after the op just recorded. `weight_bytes`: bytes of weights it reads (GB/s column).
    void mark(VkCommandBuffer cmd, const std::string& op, double weight_bytes = 0);
    void collect();  // after the fence: adds this batch's times per op
    // Ops and batch totals so far; record/run times are the backend's, filled in by it.
    VulkanProfile profile() const;

private:
    struct Stat { std::string op; uint64_t calls = 0; double ns = 0, bytes = 0; };
    const Device& dev_;
    VkQueryPool pool_ = VK_NULL_HANDLE;
    uint32_t capacity_;        // queries in the pool
    uint64_t mask_;            // timestampValidBits
    double period_ns_;         // timestampPeriod
    std::vector<uint32_t> pending_;  // stat index of each mark of the batch being recorded
    uint64_t dropped_ = 0;     // marks past the pool's size (not timed)
    uint64_t batches_ = 0;
    double gpu_ns_ = 0;        // first to last stamp, summed over batches
    std::vector<Stat> stats_;
    std::unordered_map<std::string, uint32_t> index_;
};

}  // namespace ld::vk
