// Device-memory accounting of the Vulkan backend (issue 8: switching models frees GPU memory;
// issue 3: a real check for leaked device memory). Every vkAllocateMemory is counted on the
// backend's own Device; after a backend is destroyed its counter must read exactly zero, and
// switching models 20 times must not grow anything.
#include <algorithm>
#include <cstdio>
#include <set>

#include "inference/vulkan/vk_backend.h"
#include "model_fixture.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";
const char* kTiny31 = "models/tiny-llama31-random-f16.gguf";
constexpr int kCtx = 256, kBatch = 32;

double mib(uint64_t b) { return double(b) / double(1 << 20); }

// What the backend should hold: every distinct weight once, the f16 KV cache, and activations
// for one batch (see VulkanBackend's constructor). Per-buffer alignment is allowed on top.
struct Expected {
    uint64_t weights = 0, kv = 0, activations = 0;
};

Expected expected_bytes(const Model& m) {
    const LlamaParams& p = m.params;
    Expected e;
    std::set<const uint8_t*> seen;  // tied weights are uploaded once
    auto add = [&](const Weight& w) {
        if (seen.insert(w.data).second) e.weights += w.nbytes;
    };
    add(m.tok_embd);
    add(m.output_norm);
    add(m.output);
    for (const LayerWeights& L : m.layers)
        for (const Weight* w : L.all())
            add(*w);
    const uint64_t ctx = uint64_t(std::min(kCtx, p.ctx_train));
    e.kv = 2 * uint64_t(p.n_layers) * ctx * uint64_t(p.kv_dim()) * 2;
    const uint64_t B = kBatch, f = sizeof(float);
    e.activations = B * f * (3 * uint64_t(p.dim) + 2 * uint64_t(p.q_dim()) + 2 * uint64_t(p.kv_dim()) +
                             2 * uint64_t(p.ffn_dim) + 1 + uint64_t(p.rope_dim)) +
                    uint64_t(p.n_vocab) * f;
    return e;
}

std::unique_ptr<Backend> make(const Model& m) {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the variables CTest sets for this run
    o.kind = "vulkan";
    o.n_ctx = kCtx;
    o.n_batch = kBatch;
    return create_backend(m, o);
}

TEST(VkMemory, BufferCountsItsAllocation) {
    LD_REQUIRE_VULKAN(env);
    const vk::MemoryCounter& c = env->dev.memory_counter();
    const uint64_t bytes0 = c.bytes, allocs0 = c.allocations;
    {
        vk::Buffer a = env->device(1000);
        EXPECT_EQ(c.allocations, allocs0 + 1);
        EXPECT_GE(c.bytes, bytes0 + 1000);
        vk::Buffer b = std::move(a);  // a move transfers the count, it does not double it
        EXPECT_EQ(c.allocations, allocs0 + 1);
        b = vk::Buffer(env->dev, 64, vk::Buffer::Kind::host);  // the old allocation is freed
        EXPECT_EQ(c.allocations, allocs0 + 1);
    }
    EXPECT_EQ(c.bytes, bytes0);
    EXPECT_EQ(c.allocations, allocs0);
}

// Issue 8: alternate stories260K and tiny-llama31 twenty times, one forward each.
TEST(VkMemory, TwentyModelSwitchesFreeEverything) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    LD_REQUIRE_SHARED(kTiny31);
    const std::unique_ptr<Model> models[2] = {load_model(shared_path(kStories)), load_model(shared_path(kTiny31))};
    const char* names[2] = {"stories260K", "tiny-llama31"};
    uint64_t loaded_bytes[2] = {0, 0}, loaded_allocs[2] = {0, 0};
    std::optional<uint64_t> driver_min[2], driver_max[2];
    // The test's own device persists across rounds: its driver-reported usage (when the
    // extension exists) must come back to the same value after every destroy.
    const std::optional<uint64_t> env_driver0 = env->dev.driver_heap_usage();
    uint64_t env_driver_drift = 0;
    const uint64_t env_bytes0 = env->dev.memory_counter().bytes;

    for (int round = 0; round < 20; ++round) {
        const int k = round % 2;
        const Model& m = *models[k];
        std::function<VulkanMemoryUsage()> probe;
        {
            std::unique_ptr<Backend> b = make(m);
            const int32_t tok = 1;
            std::vector<float> out(size_t(b->vocab_size()));
            b->forward(&tok, 1, 0, out.data(), false);
            ASSERT_TRUE(std::isfinite(out[0]));
            const VulkanMemoryUsage u = vulkan_device_memory(*b);
            probe = vulkan_memory_probe(*b);
            if (round < 2) {
                const Expected e = expected_bytes(m);
                const uint64_t low = e.weights + e.kv;
                const uint64_t high = low + e.activations + u.allocations * (uint64_t(64) << 10);
                std::printf("[vk-memory] %-12s %llu bytes (%.2f MiB) in %llu allocations; expected "
                            "weights %.2f + KV %.2f + activations %.2f MiB; driver heap usage %s\n",
                            names[k], static_cast<unsigned long long>(u.bytes), mib(u.bytes),
                            static_cast<unsigned long long>(u.allocations), mib(e.weights), mib(e.kv),
                            mib(e.activations),
                            u.driver_heap_usage ? (std::to_string(mib(*u.driver_heap_usage)) + " MiB").c_str()
                                                : "unavailable (no VK_EXT_memory_budget)");
                EXPECT_GE(u.bytes, low) << names[k];
                EXPECT_LE(u.bytes, high) << names[k];
                loaded_bytes[k] = u.bytes;
                loaded_allocs[k] = u.allocations;
            } else {  // the same model loads into exactly the same allocations every time
                EXPECT_EQ(u.bytes, loaded_bytes[k]) << names[k] << " round " << round;
                EXPECT_EQ(u.allocations, loaded_allocs[k]) << names[k] << " round " << round;
            }
            if (u.driver_heap_usage) {
                driver_min[k] = std::min(driver_min[k].value_or(UINT64_MAX), *u.driver_heap_usage);
                driver_max[k] = std::max(driver_max[k].value_or(0), *u.driver_heap_usage);
            }
        }
        const VulkanMemoryUsage after = probe();
        EXPECT_EQ(after.bytes, 0u) << names[k] << " leaked device memory in round " << round;
        EXPECT_EQ(after.allocations, 0u) << names[k] << " leaked allocations in round " << round;
        EXPECT_EQ(env->dev.memory_counter().bytes, env_bytes0);
        if (env_driver0) {
            const uint64_t now = env->dev.driver_heap_usage().value_or(0);
            env_driver_drift = std::max(env_driver_drift, now > *env_driver0 ? now - *env_driver0 : *env_driver0 - now);
        }
    }
    // Driver figures include allocations the driver makes for itself (pipelines, pools), so
    // they get a small tolerance instead of exact equality.
    const uint64_t tol = uint64_t(4) << 20;
    for (int k = 0; k < 2; ++k)
        if (driver_min[k]) {
            std::printf("[vk-memory] %-12s driver heap usage while loaded: %.2f .. %.2f MiB over 10 loads\n",
                        names[k], mib(*driver_min[k]), mib(*driver_max[k]));
            EXPECT_LE(*driver_max[k] - *driver_min[k], tol) << names[k];
        }
    if (env_driver0) {
        std::printf("[vk-memory] persistent device: driver heap usage drift after destroys %.2f MiB\n",
                    mib(env_driver_drift));
        EXPECT_LE(env_driver_drift, tol);
    } else {
        std::printf("[vk-memory] %s has no VK_EXT_memory_budget; checked the exact counters only\n",
                    env->dev.info().name.c_str());
    }
    std::printf("[vk-memory] 20 switches: every destroy returned to 0 bytes / 0 allocations\n");
}

}  // namespace
}  // namespace ld::test
