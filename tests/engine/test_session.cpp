// The generate loop on stories260K: stop strings, cancellation, cache reuse, a full context.
#include <atomic>

#include "model_fixture.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";

GenerateOptions greedy_opts(int n) {
    GenerateOptions o;
    o.max_tokens = n;
    o.sampling.temperature = 0;
    return o;
}

TEST(Session, StopStringEndsTheTextBeforeIt) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories));
    Session s(*m.model, *m.backend, *m.tok);
    const auto prompt = tokenize_prompt(*m.tok, "Once upon a time");
    GenerateOptions o = greedy_opts(80);
    o.stop_strings = {"Lily"};
    std::string streamed;
    GenerateResult r = s.generate(prompt, o, [&](std::string_view t) { streamed += t; return true; });
    EXPECT_EQ(r.stop, StopReason::StopString);
    EXPECT_EQ(r.text, ", there was a little girl named ");
    EXPECT_EQ(streamed, r.text);  // nothing of the stop string leaked out while held back
}

TEST(Session, CallbackAndFlagCancel) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories));
    Session s(*m.model, *m.backend, *m.tok);
    const auto prompt = tokenize_prompt(*m.tok, "Once upon a time");
    int pieces = 0;
    GenerateResult r = s.generate(prompt, greedy_opts(80), [&](std::string_view) { return ++pieces < 3; });
    EXPECT_EQ(r.stop, StopReason::Cancelled);
    EXPECT_EQ(pieces, 3);
    std::atomic<bool> cancel{true};
    GenerateOptions o = greedy_opts(80);
    o.cancel = &cancel;
    r = s.generate(prompt, o, nullptr);
    EXPECT_EQ(r.stop, StopReason::Cancelled);
    EXPECT_TRUE(r.tokens.empty());
}

// Forwards to a real backend and raises `flag` after its first step.
class CancelAfterFirstBatch : public Backend {
public:
    CancelAfterFirstBatch(Backend& inner, std::atomic<bool>& flag) : inner_(inner), flag_(flag) {}
    std::string name() const override { return inner_.name(); }
    int context_size() const override { return inner_.context_size(); }
    int vocab_size() const override { return inner_.vocab_size(); }
    int batch_size() const override { return inner_.batch_size(); }
    void forward_batch(const BatchView& b) override {
        inner_.forward(b.tokens, b.n, b.pos, b.logits, b.all_logits);
        ++calls;
        flag_.store(true);
    }
    int calls = 0;

private:
    Backend& inner_;
    std::atomic<bool>& flag_;
};

// A long prompt stops between its batches when cancelled, and keeps what ran in the cache.
TEST(Session, CancelStopsAPromptBetweenBatches) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories), 2, GgmlType::F16, 512, 4);  // 4 tokens a batch
    std::atomic<bool> cancel{false};
    CancelAfterFirstBatch backend(*m.backend, cancel);
    Session s(*m.model, backend, *m.tok);
    const auto prompt = tokenize_prompt(*m.tok, "Once upon a time, there was a little dog who liked to run.");
    ASSERT_GT(prompt.size(), 8u);
    GenerateOptions o = greedy_opts(8);
    o.cancel = &cancel;
    GenerateResult r = s.generate(prompt, o, nullptr);
    EXPECT_EQ(r.stop, StopReason::Cancelled);
    EXPECT_EQ(backend.calls, 1);
    EXPECT_EQ(r.evaluated_tokens, 4);
    EXPECT_TRUE(r.tokens.empty());
    EXPECT_EQ(s.cached_tokens(), std::vector<int32_t>(prompt.begin(), prompt.begin() + 4));
    // Again, not cancelled: only the rest of the prompt runs, and the text is a fresh session's.
    GenerateResult again = s.generate(prompt, greedy_opts(8), nullptr);
    EXPECT_EQ(again.evaluated_tokens, int(prompt.size()) - 4);
    LoadedModel fresh = load(shared_path(kStories));
    Session f(*fresh.model, *fresh.backend, *fresh.tok);
    EXPECT_EQ(again.text, f.generate(prompt, greedy_opts(8), nullptr).text);
}

TEST(Session, ReusesTheCachedPrefix) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories));
    Session s(*m.model, *m.backend, *m.tok);
    const auto p1 = tokenize_prompt(*m.tok, "Once upon a time, there was a dog.");
    auto p2 = p1;
    for (int32_t id : m.tok->encode(" It was happy.", false)) p2.push_back(id);
    GenerateResult a = s.generate(p1, greedy_opts(5), nullptr);
    EXPECT_EQ(a.evaluated_tokens, int(p1.size()));
    GenerateResult b = s.generate(p2, greedy_opts(5), nullptr);
    EXPECT_EQ(b.evaluated_tokens, int(p2.size() - p1.size()));
    // Same text as a fresh session that evaluates everything.
    LoadedModel fresh = load(shared_path(kStories));
    Session f(*fresh.model, *fresh.backend, *fresh.tok);
    EXPECT_EQ(f.generate(p2, greedy_opts(5), nullptr).text, b.text);
    // An identical prompt re-runs only its last token.
    GenerateResult c = s.generate(p2, greedy_opts(5), nullptr);
    EXPECT_EQ(c.evaluated_tokens, 1);
    EXPECT_EQ(c.text, b.text);
}

TEST(Session, StopsWhenTheContextIsFullAndRejectsLongPrompts) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories), 2, GgmlType::F16, /*n_ctx=*/16);
    Session s(*m.model, *m.backend, *m.tok);
    const auto prompt = tokenize_prompt(*m.tok, "Once upon a time");
    GenerateResult r = s.generate(prompt, greedy_opts(100), nullptr);
    EXPECT_EQ(r.stop, StopReason::ContextFull);
    EXPECT_EQ(int(s.cached_tokens().size()), 16);
    std::vector<int32_t> too_long(17, prompt[1]);
    EXPECT_THROW(s.generate(too_long, greedy_opts(1), nullptr), Error);
}

TEST(Session, BadTokenIdsAreErrorsNotCrashes) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel m = load(shared_path(kStories));
    Session s(*m.model, *m.backend, *m.tok);
    EXPECT_THROW(s.evaluate({1, 5000}), Error);
    EXPECT_THROW(s.evaluate({-1}), Error);
    EXPECT_THROW(s.evaluate({}), Error);
    // The session still works afterwards.
    EXPECT_FALSE(s.generate(tokenize_prompt(*m.tok, "Once"), greedy_opts(3), nullptr).text.empty());
}

TEST(Session, StreamedTextIsValidUtf8) {
    LD_REQUIRE_SHARED("models/tiny-llama31-random-f16.gguf");
    LoadedModel m = load(shared_path("models/tiny-llama31-random-f16.gguf"));
    Session s(*m.model, *m.backend, *m.tok);
    GenerateOptions o;
    o.max_tokens = 40;
    o.sampling.temperature = 1.5f;
    o.sampling.top_k = 0;
    o.sampling.top_p = 1.0f;
    o.sampling.min_p = 0.0f;
    o.sampling.seed = 5;
    auto valid_utf8 = [](std::string_view s) {
        for (size_t i = 0; i < s.size();) {
            const unsigned char c = static_cast<unsigned char>(s[i]);
            const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (len == 0 || i + size_t(len) > s.size()) return false;
            for (int k = 1; k < len; ++k)
                if ((static_cast<unsigned char>(s[i + size_t(k)]) >> 6) != 2) return false;
            i += size_t(len);
        }
        return true;
    };
    s.generate(tokenize_prompt(*m.tok, "Random text: "), o, [&](std::string_view t) {
        EXPECT_TRUE(valid_utf8(t)) << "piece is not valid UTF-8";
        return true;
    });
}

}  // namespace
}  // namespace ld::test
