// Speculative decoding on the Vulkan backend (lavapipe in CI): the verification batch runs the
// backend's all-logits prompt path while plain decoding runs its one-token path, yet greedy output
// must be the same, and the cache must rewind past rejected drafts. The loop itself is
// backend-independent (tests/engine/test_speculative.cpp covers its rules on the CPU). The batch
// scheduler's verification steps put a drafting sequence's rows, all with logits, into a SeqBatch
// beside plain sequences (tests/engine/test_scheduler_speculative.cpp on the CPU).
#include "inference/session/batch_scheduler.h"
#include "inference/session/prompt_lookup.h"
#include "speculative_fixture.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";
const char* kK256F32 = "models/k256/tiny-llama-k256-f32.gguf";
const char* kK256Q80 = "models/k256/tiny-llama-k256-Q8_0-pure.gguf";

TEST(VkSpeculative, DraftModelGreedyIsIdentical) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kK256F32);
    LD_REQUIRE_SHARED(kK256Q80);
    expect_draft_model_greedy_identical_on("vulkan", shared_path(kK256F32), shared_path(kK256Q80));
}

TEST(VkSpeculative, PromptLookupAndRejectedDraftsGreedyIsIdentical) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    expect_lookup_and_rejected_drafts_identical_on("vulkan", shared_path(kStories));
}

TEST(VkSpeculative, SchedulerDraftsBesidePlainSequencesGreedyIsIdentical) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load_on("vulkan", shared_path(kStories));
    BackendOptions o;
    o.kind = "vulkan";
    o.n_ctx = 512;
    o.kv_positions = 4 * 512;
    o.tuning = Tuning::from_env();
    std::unique_ptr<Backend> paged = create_backend(*m.model, o);
    BatchScheduler sched(*paged, *m.tok);
    PromptLookup lookup;
    WrongDrafter wrong(512, 5);
    const std::vector<std::pair<std::string, Drafter*>> cases = {
        {"The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran.", &lookup},
        {"Once upon a time", &wrong},
        {"Lily wanted to play with her ball, but", nullptr}};
    std::vector<GenerateResult> got(cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
        BatchRequest r;
        r.prompt = tokenize_prompt(*m.tok, cases[i].first);
        r.options.max_tokens = 40;
        r.options.sampling.temperature = 0;
        r.options.drafter = cases[i].second;
        r.on_finished = [&got, i](const BatchOutcome& out) { got[i] = out.result; };
        sched.submit(std::move(r));
    }
    sched.run_until_idle();
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE(cases[i].first);
        const GenerateResult alone = greedy_run(m, tokenize_prompt(*m.tok, cases[i].first), 40, nullptr);
        EXPECT_EQ(got[i].tokens, alone.tokens);
        EXPECT_EQ(got[i].text, alone.text);
    }
    EXPECT_GT(got[0].accepted, 0);
    EXPECT_GT(got[1].drafted, 10);
    EXPECT_EQ(sched.pool().blocks_in_use(), 0);
}

}  // namespace
}  // namespace ld::test
