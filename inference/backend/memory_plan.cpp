#include "inference/backend/memory_plan.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "inference/core/error.h"

namespace ld {

uint64_t gpu_headroom(uint64_t available) { return (uint64_t(256) << 20) + available / 100 * 3; }

uint64_t kv_cache_bytes(const LlamaParams& p, int n_ctx, int elem_bytes) {
    return 2 * uint64_t(std::max(p.n_layers, 0)) * uint64_t(std::max(n_ctx, 0)) * uint64_t(std::max(p.kv_dim(), 0)) *
           uint64_t(std::max(elem_bytes, 0));
}

int MemoryPlan::max_fitting_ctx() const {
    const uint64_t fixed = weights + buffers + headroom;
    if (free <= fixed || kv_per_position == 0) return 0;
    const uint64_t n = std::min<uint64_t>((free - fixed) / kv_per_position, uint64_t(1) << 30);
    return int(n > 256 ? n / 256 * 256 : n);  // a round number to suggest
}

uint64_t system_memory_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    while (in >> key >> kib) {
        if (key == "MemAvailable:") return kib << 10;
        in.ignore(256, '\n');
    }
    return 0;
}

std::string format_bytes(uint64_t bytes) {
    char buf[48];
    if (bytes >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1ull << 30));
    else if (bytes >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / double(1ull << 20));
    else std::snprintf(buf, sizeof buf, "%.0f KiB", double(bytes) / 1024.0);
    return buf;
}

std::string describe(const MemoryPlan& p) {
    std::string s = "weights " + format_bytes(p.weights) + " + KV cache " + format_bytes(p.kv_cache) + " (" +
                    std::to_string(p.n_ctx) + " positions) + buffers " + format_bytes(p.buffers) + " = " +
                    format_bytes(p.need());
    if (p.free > 0) s += " of " + format_bytes(p.free) + " free";
    if (!p.device.empty()) s += " on " + p.device;
    return s;
}

void require_fits(const MemoryPlan& p, const std::string& backend, const std::string& alternatives) {
    if (p.fits()) return;
    MemoryPlan unnamed = p;  // the device is named first, not again at the end
    unnamed.device.clear();
    std::string msg = backend + ": the model does not fit " + (p.device.empty() ? "the device" : p.device) + ": " +
                      describe(unnamed) + " (" + format_bytes(p.need() + p.headroom - p.free) + " short, with " +
                      format_bytes(p.headroom) + " left for the driver";
    if (p.total > 0) msg += "; the device has " + format_bytes(p.total) + " in all";
    msg += ")";
    const int ctx = p.max_fitting_ctx();
    // A context that fits is only worth suggesting when it is long enough to chat in.
    if (ctx >= 512 && ctx < p.n_ctx) msg += "; a context of up to " + std::to_string(ctx) + " positions fits (--ctx " + std::to_string(ctx) + ")";
    else if (p.weights + p.buffers + p.headroom > p.free)
        msg += "; the weights alone need " + format_bytes(p.weights) + (alternatives.empty() ? "" : ": use " + alternatives);
    else if (!alternatives.empty()) msg += "; use a smaller context or " + alternatives;
    fail(msg);
}

}  // namespace ld
