// Speculative decoding on the CUDA backend (skips without a device; the CPU emulator runs it with
// LLAMADESK_CUDA_PLUGIN, tests/cuda/emu): the verification batch runs the backend's all-logits
// prompt path while plain decoding runs its one-token path (the CUDA graph), yet greedy output
// must be the same, and the cache must rewind past rejected drafts. The loop itself is
// backend-independent (tests/engine/test_speculative.cpp covers its rules on the CPU).
#include "inference/session/prompt_lookup.h"
#include "speculative_fixture.h"
#include "cuda_test_util.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";
const char* kK256F32 = "models/k256/tiny-llama-k256-f32.gguf";
const char* kK256Q80 = "models/k256/tiny-llama-k256-Q8_0-pure.gguf";

TEST(CudaSpeculative, DraftModelGreedyIsIdentical) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kK256F32);
    LD_REQUIRE_SHARED(kK256Q80);
    LoadedModel target = load_on("cuda", shared_path(kK256F32));
    LoadedModel draft = load_on("cuda", shared_path(kK256Q80));
    DraftModel drafter(*target.model, *draft.model, *draft.backend);
    const auto prompt = tokenize_prompt(*target.tok, "Once upon a time");
    const GenerateResult plain = greedy_run(target, prompt, 60, nullptr);
    const GenerateResult spec = greedy_run(target, prompt, 60, &drafter);
    EXPECT_EQ(spec.tokens, plain.tokens);
    EXPECT_EQ(spec.text, plain.text);
    EXPECT_GT(spec.accepted, 0);
    EXPECT_LT(spec.verify_passes, int(spec.tokens.size()) - 1);
}

TEST(CudaSpeculative, PromptLookupAndRejectedDraftsGreedyIsIdentical) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load_on("cuda", shared_path(kStories));
    const auto prompt = tokenize_prompt(*m.tok, "The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran.");
    const GenerateResult plain = greedy_run(m, prompt, 80, nullptr);
    PromptLookup lookup;
    const GenerateResult spec = greedy_run(m, prompt, 80, &lookup);
    EXPECT_EQ(spec.tokens, plain.tokens);
    EXPECT_GT(spec.accepted, 0);
    WrongDrafter wrong(512, 11);
    const GenerateResult rej = greedy_run(m, prompt, 80, &wrong);
    EXPECT_EQ(rej.tokens, plain.tokens);
    EXPECT_GT(rej.drafted, 40);
}

}  // namespace
}  // namespace ld::test
