// GPU timestamps per op (vk_profiler.h): every op class of the forward pass shows up for prompt
// and decode batches, with positive finite times that add up to no more than submit-to-fence,
// and profiling changes no logits.
#include <cmath>
#include <set>

#include "inference/vulkan/vk_backend.h"
#include "model_fixture.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";

// An 8-token prompt, then `steps` decode steps; returns the last logits.
std::vector<float> run(Backend& b, int steps) {
    std::vector<int32_t> ids = {1, 403, 407, 261, 378, 77, 308, 274};
    std::vector<float> logits(size_t(b.vocab_size()));
    b.forward(ids.data(), int(ids.size()), 0, logits.data(), false);
    for (int i = 0; i < steps; ++i) {
        int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
        b.forward(&next, 1, int(ids.size()) + i, logits.data(), false);
    }
    return logits;
}

TEST(VkProfile, EveryOpTimedAndWithinSubmitToFence) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    std::unique_ptr<Model> model = load_model(shared_path(kStories));
    std::unique_ptr<Backend> plain = backend_on("vulkan", *model, 256, 64);
    std::unique_ptr<Backend> prof = backend_on("vulkan", *model, 256, 64);
    if (!Tuning::from_env().vk_profile) {  // off unless asked: nothing recorded
        const VulkanProfile off = vulkan_profile(*plain);
        EXPECT_FALSE(off.timestamps);
        EXPECT_EQ(off.batches, 0u);
        EXPECT_TRUE(off.ops.empty());
    }
    const std::string why = vulkan_enable_profiling(*prof);
    if (!why.empty()) GTEST_SKIP() << why;

    const int steps = 6;
    const std::vector<float> want = run(*plain, steps);
    const std::vector<float> got = run(*prof, steps);
    EXPECT_EQ(got, want) << "timestamps changed the logits";

    const VulkanProfile p = vulkan_profile(*prof);
    const std::string table = format_vulkan_profile(p);
    std::printf("%s", table.c_str());
    ASSERT_TRUE(p.timestamps) << p.note;
    EXPECT_EQ(p.batches, uint64_t(1 + steps));
    EXPECT_EQ(p.gpu_batches, uint64_t(1 + steps));
    EXPECT_EQ(p.dropped_marks, 0u);

    const uint64_t L = uint64_t(model->params.n_layers);
    std::map<std::string, const VulkanOpTime*> by_name;
    double sum = 0;
    for (const VulkanOpTime& o : p.ops) {
        by_name[o.op] = &o;
        sum += o.total_us;
        EXPECT_TRUE(std::isfinite(o.total_us) && o.total_us > 0) << o.op << ": " << o.total_us << " us";
        EXPECT_GT(o.calls, 0u) << o.op;
        const bool weighted = o.op.find(" matvec") != std::string::npos || o.op.find(" matmul ") != std::string::npos;
        EXPECT_EQ(o.weight_bytes > 0, weighted) << o.op;
    }
    // Every op class of the forward pass, per phase, with the calls the pass makes.
    const std::string ty = "f32";  // stories260K's matrices
    struct Want { std::string op; uint64_t calls; };
    std::vector<Want> expected;
    for (const auto& [phase, n, mat, attn] :
         {std::tuple<std::string, uint64_t, std::string, std::string>{"prompt", 1, "matmul", "attention"},
          {"decode", uint64_t(steps), "matvec", "attention_split+combine"}}) {
        for (const char* role : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
            // decode's q/k/v do RoPE and the cache store in their epilogue (no rope_store)
            const bool qkv = role[0] == 'a' && role[5] != 'o';
            const std::string op = phase == "decode" && qkv ? "matvec_rope" : mat;
            expected.push_back({phase + " " + op + " " + ty + " " + role, n * L});
        }
        expected.push_back({phase + " " + (phase == "prompt" ? "matvec" : mat) + " " + ty + " output", n});
        expected.push_back({phase + " get_rows", n});
        expected.push_back({phase + " " + attn, n * L});
        if (phase == "prompt") {
            expected.push_back({phase + " rope_store", n * L});
            expected.push_back({phase + " rmsnorm", 2 * n});
            expected.push_back({phase + " add_rmsnorm", n * (2 * L - 1)});
            expected.push_back({phase + " swiglu", n * L});
            expected.push_back({phase + " add", n});
        } else {  // decode_layers(): residual adds inside wo and down; f32 weights read no int8 copy
            expected.push_back({phase + " rmsnorm_q8", n * (2 * L + 1)});
            expected.push_back({phase + " swiglu_q8", n * L});
        }
    }
    for (const Want& w : expected) {
        auto it = by_name.find(w.op);
        if (it == by_name.end()) {
            ADD_FAILURE() << "no time for \"" << w.op << "\"";
            continue;
        }
        EXPECT_EQ(it->second->calls, w.calls) << w.op;
    }
    EXPECT_EQ(p.ops.size(), expected.size()) << "ops not in the expected list:\n" << table;
    // Stamps lie inside the submit-to-fence wait; 2% + 20 us a batch for clock granularity.
    EXPECT_NEAR(sum, p.gpu_us, 1e-6 * p.gpu_us + 1e-3);
    EXPECT_LE(sum, p.run_us * 1.02 + 20.0 * double(p.batches)) << table;
    EXPECT_GT(sum, 0.0);
    EXPECT_NE(table.find("decode matvec_rope f32 attn_q"), std::string::npos) << table;
}

}  // namespace
}  // namespace ld::test
