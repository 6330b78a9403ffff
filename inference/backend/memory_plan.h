#pragma once
// What a GPU backend will allocate for a model, against the device's free memory, worked out
// before any of it is allocated: printed as one line when a model loads, and turned into a clear
// refusal naming the numbers (instead of an out-of-memory error halfway through the upload) when
// it does not fit. Pure arithmetic, so the CPU tests check it with the shapes of real models
// (a 70B on an 80 GB card) that no test machine could load.
#include <cstdint>
#include <string>

#include "inference/model/llama.h"

namespace ld {

struct MemoryPlan {
    std::string device;        // e.g. "NVIDIA H100 80GB HBM3"
    uint64_t weights = 0;      // the weights the device holds
    uint64_t kv_cache = 0;     // keys and values of every layer at n_ctx positions
    int n_ctx = 0;
    uint64_t kv_per_position = 0;  // kv_cache / n_ctx: what one position more or less costs
    uint64_t buffers = 0;      // activations, scratch, library workspaces
    uint64_t headroom = 0;     // kept free for the driver and allocation granularity
    uint64_t free = 0;         // the device's free memory before loading; 0 = unknown
    uint64_t total = 0;        // the device's memory; 0 = unknown

    uint64_t need() const { return weights + kv_cache + buffers; }
    // Unknown free memory counts as fitting (the allocation then reports what happens).
    bool fits() const { return free == 0 || need() + headroom <= free; }
    // The longest context whose KV cache fits beside the weights and buffers (a multiple of 256
    // when above 256); 0 when not even one position does.
    int max_fitting_ctx() const;
};

// Headroom a GPU backend leaves for the driver, other programs' growth and allocation
// granularity: 256 MiB plus 3% of what is available. The Vulkan offload planner keeps it free,
// and the app's model recommendation subtracts it from a GPU's memory, so both agree on what fits.
uint64_t gpu_headroom(uint64_t available);

// KV cache bytes of a model at n_ctx positions with elem_bytes per element (2 for f16).
uint64_t kv_cache_bytes(const LlamaParams& p, int n_ctx, int elem_bytes);

// MemAvailable of /proc/meminfo in bytes: the system memory a model built in memory may use
// (bench --synthetic checks it up front); 0 when unknown (not Linux).
uint64_t system_memory_available();

// "1.2 GiB" from bytes (one decimal; whole MiB below 1 GiB, KiB below 1 MiB).
std::string format_bytes(uint64_t bytes);

// One line: "weights 39.6 GiB + KV cache 2.5 GiB (8192 positions) + buffers 0.6 GiB = 42.7 GiB
// of 79.1 GiB free on NVIDIA H100 80GB HBM3".
std::string describe(const MemoryPlan& plan);

// Throws ld::Error when the plan does not fit: the line above, how much is missing, and what to
// do (a context that fits, else alternatives, e.g. "the Vulkan backend, which keeps layers in
// system memory"). `backend` names the backend ("CUDA").
void require_fits(const MemoryPlan& plan, const std::string& backend, const std::string& alternatives);

}  // namespace ld
