// Weights in system memory (inference/vulkan/vk_offload.h): the placement plan on its own, then
// whole models with some or all layers' weights in host-visible buffers, which must give exactly
// the logits of the same model with every weight in device memory (the same kernels run; only
// where the weights live changes).
#include <string>

#include "inference/vulkan/vk_backend.h"
#include "inference/backend/memory_plan.h"
#include "inference/vulkan/vk_offload.h"
#include "model_fixture.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

constexpr uint64_t MiB = uint64_t(1) << 20;
const std::vector<uint64_t> kLayers(8, 100 * MiB);  // 8 layers of 100 MiB
// Below: an embedding of 50 MiB, 20 MiB of output and norms; `available` is what the GPU has
// left once the KV cache and activations are allocated.

// What `available` must be for `need` bytes to fit after the headroom.
uint64_t available_for(uint64_t need) {
    uint64_t a = need;
    while (a - gpu_headroom(a) < need) a += MiB;
    return a;
}

TEST(VkOffloadPlan, EverythingStaysWhenItFits) {
    const vk::OffloadPlan p = vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, available_for(870 * MiB), -1, "gpu");
    EXPECT_EQ(p.gpu_layers, 8);
    EXPECT_FALSE(p.embd_in_sysmem);
    EXPECT_EQ(p.gpu_bytes, 870 * MiB);
    // Unknown free memory: nothing moves.
    EXPECT_EQ(vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, 0, -1, "gpu").gpu_layers, 8);
}

TEST(VkOffloadPlan, EmbeddingFirstThenLayersFromTheEnd) {
    // 50 MiB short: the embedding alone makes room.
    vk::OffloadPlan p = vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, available_for(820 * MiB), -1, "gpu");
    EXPECT_EQ(p.gpu_layers, 8);
    EXPECT_TRUE(p.embd_in_sysmem);
    // 250 MiB short: the embedding and 2 layers (3 would leave unused room).
    p = vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, available_for(620 * MiB), -1, "gpu");
    EXPECT_EQ(p.gpu_layers, 6);
    EXPECT_TRUE(p.embd_in_sysmem);
    EXPECT_EQ(p.gpu_bytes, 620 * MiB);
    // A tied embedding (embd_bytes 0, counted in fixed) never moves.
    p = vk::plan_offload(kLayers, 0, 70 * MiB, available_for(620 * MiB), -1, "gpu");
    EXPECT_EQ(p.gpu_layers, 5);
    EXPECT_FALSE(p.embd_in_sysmem);
    EXPECT_LE(p.gpu_bytes, 620 * MiB);
}

TEST(VkOffloadPlan, RequestedLayersAndTooSmallDevices) {
    vk::OffloadPlan p = vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, 0, 3, "gpu");
    EXPECT_EQ(p.gpu_layers, 3);
    EXPECT_TRUE(p.embd_in_sysmem);
    EXPECT_EQ(vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, 0, 0, "gpu").gpu_layers, 0);
    p = vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, 0, 99, "gpu");
    EXPECT_EQ(p.gpu_layers, 8);
    EXPECT_FALSE(p.embd_in_sysmem);
    // Not even the output and norms fit (after the KV cache and buffers): a clear error.
    try {
        vk::plan_offload(kLayers, 50 * MiB, 20 * MiB, available_for(10 * MiB), -1, "Tiny GPU");
        ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("do not fit Tiny GPU"), std::string::npos) << what;
        EXPECT_NE(what.find("system memory"), std::string::npos) << what;
    }
}

std::unique_ptr<Backend> vulkan_with_layers(const Model& m, int gpu_layers) {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the variables CTest sets for this run
    o.kind = "vulkan";
    o.n_ctx = 256;
    o.n_batch = 16;
    o.gpu_layers = gpu_layers;
    return create_backend(m, o);
}

// Prompt logits (all rows, in batches of 16) and a few decode steps.
std::vector<float> run(Backend& b, const std::vector<int32_t>& ids) {
    std::vector<float> out = logits_of(b, ids, true), one(size_t(b.vocab_size()));
    for (int i = 0; i < 4; ++i) {
        const int32_t t = ids[size_t(i)];
        b.forward(&t, 1, int(ids.size()) + i, one.data(), false);
        out.insert(out.end(), one.begin(), one.end());
    }
    return out;
}

class VkOffloadModel : public ::testing::TestWithParam<const char*> {};

TEST_P(VkOffloadModel, SameLogitsWithWeightsInSystemMemory) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(GetParam());
    std::unique_ptr<Model> m = load_model(shared_path(GetParam()));
    std::unique_ptr<Tokenizer> tok = Tokenizer::create(m->vocab);
    const std::vector<int32_t> ids = tokenize_prompt(*tok, "Once upon a time, there was a little dog who liked to run and play.");
    ASSERT_GE(ids.size(), 8u);
    std::unique_ptr<Backend> all = vulkan_with_layers(*m, -1);
    EXPECT_EQ(all->name().find("system memory"), std::string::npos) << all->name();
    const uint64_t io_bytes = vulkan_device_memory(*all).host_bytes;  // token ids, cos/sin, logits
    const std::vector<float> want = run(*all, ids);
    const int n = m->params.n_layers;
    const bool tied = m->tok_embd.data == m->output.data;
    for (int layers : {n - 1, 1, 0}) {
        std::unique_ptr<Backend> b = vulkan_with_layers(*m, layers);
        const std::string note = std::to_string(n - layers) + " of " + std::to_string(n) + " layers in system memory";
        EXPECT_NE(b->name().find(note), std::string::npos) << b->name();
        // The weights of layers >= `layers` (and an untied embedding) are in host-visible memory.
        uint64_t moved = tied ? 0 : m->tok_embd.nbytes;
        for (int l = layers; l < n; ++l) {
            const LayerWeights& L = m->layers[size_t(l)];
            for (const Weight* w : L.all())
                moved += w->nbytes;
        }
        const uint64_t host = vulkan_device_memory(*b).host_bytes;
        EXPECT_GE(host, io_bytes + moved) << layers << " of " << n << " layers on the GPU";
        EXPECT_LT(host, io_bytes + moved + 64 * 1024 * uint64_t(n + 1)) << "more than the moved weights (allocation rounding aside)";
        EXPECT_EQ(run(*b, ids), want) << layers << " of " << n << " layers on the GPU";
    }
}

INSTANTIATE_TEST_SUITE_P(Models, VkOffloadModel,
                         ::testing::Values("models/stories260K.gguf", "models/tiny-llama31-random-f16.gguf"),
                         [](const auto& info) { return std::string(info.index == 0 ? "Stories260K" : "Tiny31"); });

}  // namespace
}  // namespace ld::test
