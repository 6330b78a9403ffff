// End-to-end Vulkan forward passes: the same references as tests/engine/test_model_reference.cpp
// (llama2.c's stories260K text, transformers' tiny Llama 3.1 logits) plus agreement with the
// CPU backend, on whatever device the loader offers (lavapipe in CI).
#include <algorithm>
#include <cmath>

#include "inference/model/synthetic.h"
#include "inference/vulkan/vk_backend.h"
#include "tests/gpu_model_checks.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";
const char* kTiny31 = "models/tiny-llama31-random-f16.gguf";

TEST(VkStories260K, GreedyEqualsLlama2cReference) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    expect_stories_greedy_reference("vulkan", shared_path(kStories));
}

// Batched prompt (with all logits), small batches and token-by-token decode all agree with the
// CPU backend. 5e-4: the GPU sums in other orders than the CPU (other kernels for batches and
// decode, FMA on NVIDIA), and an f32 rounding difference in k or v can flip a value's f16 rounding
// in the cache (a relative step of 2^-11); on this tiny model that moves logits by up to ~3e-4
// with kernels that agree to 1e-7 per op (measured: lavapipe decode 1.2e-4, H100 batch 3.0e-4;
// the generic matvec with 32 instead of 64 threads per row alone gives 1.4e-5).
TEST(VkStories260K, LogitsMatchCpuBatchedAndStepped) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    expect_stories_logits_match_cpu("vulkan", shared_path(kStories), 5e-4);
}

TEST(VkTiny31, LogitsMatchTransformersAndCpu) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kTiny31);
    expect_tiny31_matches_transformers_and_cpu("vulkan", shared_path(kTiny31));
}

// Quantized matrices end to end on a small synthetic model: Vulkan (f32 activations) against
// the CPU backend (activations quantized to Q8), so the bound is looser than for float models.
class VkSynthetic : public ::testing::TestWithParam<const char*> {};

TEST_P(VkSynthetic, LogitsMatchCpu) {
    LD_REQUIRE_VULKAN(env);
    std::unique_ptr<Model> m = small_synthetic(GetParam(), 512);
    const LlamaParams& p = m->params;
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the variables CTest sets for this run
    o.n_ctx = 256;
    o.n_threads = 2;
    std::unique_ptr<Backend> cpu = create_cpu_backend(*m, o);
    std::unique_ptr<Backend> gpu = backend_on("vulkan", *m, 256);
    std::vector<int32_t> ids;
    for (int i = 0; i < 21; ++i) ids.push_back((i * 37 + 5) % p.n_vocab);
    const std::vector<float> want = logits_of(*cpu, ids, true), got = logits_of(*gpu, ids, true);
    for (float x : got) ASSERT_TRUE(std::isfinite(x));
    const double err = rel_error(got, want);
    EXPECT_LT(err, 2e-2);
    RecordProperty("rel_error_cpu", std::to_string(err));
    // Decode: half the prompt as a batch, then token by token (decode_layers(): residual adds in
    // the matvecs, int8 activations where the device has integer dot products).
    std::unique_ptr<Backend> stepped = backend_on("vulkan", *m, 256);
    const size_t nv = size_t(p.n_vocab), half = ids.size() / 2;
    std::vector<float> row(nv);
    auto cpu_row = [&](size_t i) { return std::vector<float>(want.begin() + long(i * nv), want.begin() + long((i + 1) * nv)); };
    stepped->forward(ids.data(), int(half), 0, row.data(), false);
    double worst = rel_error(row, cpu_row(half - 1));
    for (size_t i = half; i < ids.size(); ++i) {
        stepped->forward(&ids[i], 1, int(i), row.data(), false);
        for (float x : row) ASSERT_TRUE(std::isfinite(x)) << "position " << i;
        worst = std::max(worst, rel_error(row, cpu_row(i)));
    }
    // 3e-2: with integer dot products the GPU quantizes decode's activations too (per 32, f32
    // scale) and rounds independently of the CPU (Q8_0 with f16 scales, Q8_K per 256), so the two
    // roundings add: lavapipe 0.021 (q4_0, q6_k) against 0.016 and 0.019 with Tuning::vk_int8 off.
    // An index or scale slip in a kernel moves logits by O(1) (test_vk_q8 checks those ops tightly).
    EXPECT_LT(worst, 3e-2) << "decode";
    RecordProperty("rel_error_cpu_decode", std::to_string(worst));
}

// While a decode step runs the backend records the next one (pos + 1); a call that is not that
// step (a rewind, a step without logits, a prompt) must record afresh. Logits against a backend
// that never records ahead (one with GPU timestamps on: its batches record one at a time), over
// such a sequence.
TEST(VkBackend, RecordingAheadGivesTheSameLogits) {
    LD_REQUIRE_VULKAN(env);
    SyntheticSpec spec;
    spec.name = "vk-ahead";
    spec.mix = "q4_0";
    LlamaParams& p = spec.params;
    p.n_vocab = 500;
    p.dim = 128;
    p.n_layers = 2;
    p.n_heads = 4;
    p.n_kv_heads = 2;
    p.head_dim = 32;
    p.ffn_dim = 256;
    p.ctx_train = 64;
    p.rope_dim = 32;
    std::unique_ptr<Model> m = make_synthetic_model(spec, 5);
    std::unique_ptr<Backend> ahead = backend_on("vulkan", *m, 16);
    std::unique_ptr<Backend> fresh = backend_on("vulkan", *m, 16);
    if (const std::string why = vulkan_enable_profiling(*fresh); !why.empty())
        GTEST_SKIP() << "needs GPU timestamps for a backend that records afresh: " << why;
    if (vulkan_profile(*ahead).timestamps) GTEST_SKIP() << "LLAMADESK_VK_PROFILE is set: nothing records ahead";
    const std::vector<int32_t> prompt = {1, 7, 42, 99, 3};
    struct Step { int32_t token; int pos; bool logits; };
    // decode 5..7, rewind to 6, 7 without logits, then 8 .. 15, the context's last position
    std::vector<Step> steps = {{11, 5, true}, {12, 6, true}, {13, 7, true}, {14, 6, true}, {15, 7, false}};
    for (int pos = 8; pos < 16; ++pos) steps.push_back({int32_t(10 + pos), pos, true});
    const size_t nv = size_t(p.n_vocab);
    std::vector<float> a(nv), b(nv);
    ahead->forward(prompt.data(), int(prompt.size()), 0, a.data(), false);
    fresh->forward(prompt.data(), int(prompt.size()), 0, b.data(), false);
    EXPECT_EQ(a, b);
    for (const Step& st : steps) {
        std::fill(a.begin(), a.end(), 0.0f);
        std::fill(b.begin(), b.end(), 0.0f);
        ahead->forward(&st.token, 1, st.pos, st.logits ? a.data() : nullptr, false);
        fresh->forward(&st.token, 1, st.pos, st.logits ? b.data() : nullptr, false);
        EXPECT_EQ(a, b) << "position " << st.pos;
        if (st.logits) {
            EXPECT_NE(a, std::vector<float>(nv, 0.0f)) << "position " << st.pos;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Mixes, VkSynthetic, ::testing::Values("q8_0", "q4_0", "f16", "q4_k_m", "q6_k"));

TEST(VkBackend, ErrorsAreClear) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    std::unique_ptr<Model> m = load_model(shared_path(kStories));
    expect_clear_backend_errors("vulkan", *m);
    // "auto" never picks a CPU implementation of Vulkan such as lavapipe.
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the variables CTest sets for this run
    o.kind = "auto";
    std::unique_ptr<Backend> b = create_backend(*m, o);
    if (!vulkan_gpu_available()) {
        EXPECT_EQ(b->name().rfind("cpu", 0), 0u) << b->name();
    }
}

TEST(VkBackend, LoadingTwentyTimesWorks) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    std::unique_ptr<Model> m = load_model(shared_path(kStories));
    const int32_t tok = 1;
    std::vector<float> first, out(512);
    for (int i = 0; i < 20; ++i) {
        std::unique_ptr<Backend> b = backend_on("vulkan", *m, 64, 8);
        b->forward(&tok, 1, 0, out.data(), false);
        if (first.empty()) first = out;
        EXPECT_EQ(out, first) << "load " << i;
    }
}

}  // namespace
}  // namespace ld::test
