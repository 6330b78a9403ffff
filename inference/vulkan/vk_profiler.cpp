#include "inference/vulkan/vk_profiler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "inference/core/error.h"
#include "inference/vulkan/vk_device.h"

namespace ld::vk {

Profiler::Profiler(const Device& dev, uint32_t max_ops) : dev_(dev), capacity_(max_ops + 1) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(dev.physical(), &n, nullptr);
    std::vector<VkQueueFamilyProperties> families(n);
    vkGetPhysicalDeviceQueueFamilyProperties(dev.physical(), &n, families.data());
    const uint32_t bits = dev.queue_family() < n ? families[dev.queue_family()].timestampValidBits : 0;
    period_ns_ = dev.limits().timestampPeriod;
    // timestampValidBits decides for our queue; timestampComputeAndGraphics only promises it for all.
    if (bits == 0 || !(period_ns_ > 0))
        fail("GPU timestamps unsupported on ", dev.info().name, " (timestampValidBits ", bits,
             ", timestampComputeAndGraphics ", dev.limits().timestampComputeAndGraphics ? 1 : 0,
             ", timestampPeriod ", period_ns_, ")");
    mask_ = bits >= 64 ? ~uint64_t(0) : (uint64_t(1) << bits) - 1;
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = capacity_;
    check(vkCreateQueryPool(dev.device(), &qi, nullptr, &pool_), "vkCreateQueryPool");
}

Profiler::~Profiler() { vkDestroyQueryPool(dev_.device(), pool_, nullptr); }

void Profiler::begin(VkCommandBuffer cmd) {
    pending_.clear();
    vkCmdResetQueryPool(cmd, pool_, 0, capacity_);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, pool_, 0);
}

void Profiler::mark(VkCommandBuffer cmd, const std::string& op, double weight_bytes) {
    if (pending_.size() + 1 >= capacity_) {
        ++dropped_;
        return;
    }
    auto [it, added] = index_.try_emplace(op, uint32_t(stats_.size()));
    if (added) stats_.push_back(Stat{op});
    stats_[it->second].bytes += weight_bytes;
    pending_.push_back(it->second);
    // Latched once every earlier command is through the compute stage: the interval since the
    // previous stamp is this op's run plus the barrier and launch before it. Ops with no barrier
    // between them (q/k/v, gate/up) may overlap; their sum stays exact.
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, pool_, uint32_t(pending_.size()));
}

void Profiler::collect() {
    if (pending_.empty()) return;
    const uint32_t n = uint32_t(pending_.size()) + 1;
    std::vector<uint64_t> t(n);
    check(vkGetQueryPoolResults(dev_.device(), pool_, 0, n, n * sizeof(uint64_t), t.data(), sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
          "vkGetQueryPoolResults");
    for (uint32_t i = 0; i + 1 < n; ++i) {
        const uint64_t ticks = ((t[i + 1] & mask_) - (t[i] & mask_)) & mask_;  // wraps with the counter
        Stat& s = stats_[pending_[i]];
        s.ns += double(ticks) * period_ns_;
        s.calls += 1;
    }
    gpu_ns_ += double(((t[n - 1] & mask_) - (t[0] & mask_)) & mask_) * period_ns_;
    ++batches_;
    pending_.clear();
}

VulkanProfile Profiler::profile() const {
    VulkanProfile p;
    p.timestamps = true;
    p.gpu_batches = batches_;
    p.gpu_us = gpu_ns_ / 1e3;
    p.dropped_marks = dropped_;
    for (const Stat& s : stats_)
        if (s.calls) p.ops.push_back(VulkanOpTime{s.op, s.calls, s.ns / 1e3, s.bytes});
    std::sort(p.ops.begin(), p.ops.end(), [](const VulkanOpTime& a, const VulkanOpTime& b) { return a.total_us > b.total_us; });
    return p;
}

}  // namespace ld::vk

namespace ld {

std::string format_vulkan_profile(const VulkanProfile& p) {
    std::string out;
    char line[256];
    if (p.batches > 0) {
        std::snprintf(line, sizeof line, "vulkan profile: %llu batches, recording %.1f us, submit to fence %.1f us per batch\n",
                      (unsigned long long)p.batches, p.record_us / double(p.batches), p.run_us / double(p.batches));
        out += line;
    }
    if (!p.timestamps) return out + (p.note.empty() ? "" : "vulkan profile: " + p.note + "\n");
    double sum = 0;
    for (const VulkanOpTime& o : p.ops) sum += o.total_us;
    std::snprintf(line, sizeof line, "GPU timestamps: %llu batches, %.3f ms between first and last stamp (%.1f%% of submit to fence)%s\n",
                  (unsigned long long)p.gpu_batches, p.gpu_us / 1e3, p.run_us > 0 ? 100.0 * p.gpu_us / p.run_us : 0.0,
                  p.dropped_marks ? " (some ops untimed: query pool too small)" : "");
    out += line;
    // Per phase: GPU time per batch (a decode batch is one token) and the share of weight ops.
    for (const char* phase : {"decode", "prompt"}) {
        const std::string pre = std::string(phase) + " ";
        double all = 0, weighted = 0, bytes = 0;
        uint64_t n = 0;
        for (const VulkanOpTime& o : p.ops) {
            if (o.op.compare(0, pre.size(), pre) != 0) continue;
            all += o.total_us;
            if (o.weight_bytes > 0) weighted += o.total_us, bytes += o.weight_bytes;
            if (o.op == pre + "get_rows") n = o.calls;
        }
        if (n == 0) continue;
        std::snprintf(line, sizeof line, "%s: %llu batches, %.1f us GPU per batch, %.1f%% in matvec/matmul (%.2f GB/s of weights), %.1f%% in the rest\n",
                      phase, (unsigned long long)n, all / double(n), all > 0 ? 100.0 * weighted / all : 0.0,
                      weighted > 0 ? bytes / (weighted * 1e3) : 0.0, all > 0 ? 100.0 * (all - weighted) / all : 0.0);
        out += line;
    }
    std::snprintf(line, sizeof line, "%-36s %8s %11s %10s %6s %8s\n", "op", "calls", "total ms", "mean us", "%", "GB/s");
    out += line;
    for (const VulkanOpTime& o : p.ops) {
        char gbs[16] = "";
        if (o.weight_bytes > 0 && o.total_us > 0) std::snprintf(gbs, sizeof gbs, "%.2f", o.weight_bytes / (o.total_us * 1e3));
        std::snprintf(line, sizeof line, "%-36s %8llu %11.3f %10.2f %6.1f %8s\n", o.op.c_str(), (unsigned long long)o.calls,
                      o.total_us / 1e3, o.total_us / double(o.calls), sum > 0 ? 100.0 * o.total_us / sum : 0.0, gbs);
        out += line;
    }
    return out;
}

}  // namespace ld
