// Speculative decoding on the CUDA backend (skips without a device; the CPU emulator runs it with
// LLAMADESK_CUDA_PLUGIN, tests/cuda/emu): the verification batch runs the backend's all-logits
// prompt path while plain decoding runs its one-token path (the CUDA graph), yet greedy output
// must be the same, and the cache must rewind past rejected drafts. The loop itself is
// backend-independent (tests/engine/test_speculative.cpp covers its rules on the CPU).
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
    expect_draft_model_greedy_identical_on("cuda", shared_path(kK256F32), shared_path(kK256Q80));
}

TEST(CudaSpeculative, PromptLookupAndRejectedDraftsGreedyIsIdentical) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kStories);
    expect_lookup_and_rejected_drafts_identical_on("cuda", shared_path(kStories));
}

}  // namespace
}  // namespace ld::test
