// Backend::forward, the one entry of every backend: its input checks and its splitting into
// steps of the backend's own maximum (the one-sequence call and SeqBatch; the SeqBatch checks on a
// real backend are in test_seq_batch), seen from a fake backend that records the steps it gets;
// then on the CPU backend, a long prompt in one call against the same prompt in manual calls.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "model_fixture.h"

namespace ld {
namespace {

using test::load;
using test::shared_path;

constexpr int kVocab = 7;

// Records every step; writes into each logits row a value naming the token position it belongs
// to and the column, so a row landing in the wrong place shows.
class RecordingBackend final : public Backend {
public:
    struct Step {
        std::vector<int32_t> tokens;
        const int32_t* first = nullptr;  // the view's pointer (steps read the caller's array)
        int pos = 0;
        float* logits = nullptr;
        bool all_logits = false;
        std::vector<int32_t> positions, seq, logit_row;  // the per-token arrays (SeqBatch steps)
        bool contiguous = true;
    };
    RecordingBackend(int n_ctx, int n_batch, int all_logits_step = 0)
        : n_ctx_(n_ctx), n_batch_(n_batch), all_step_(all_logits_step) {}
    std::string name() const override { return "recording"; }
    int context_size() const override { return n_ctx_; }
    int vocab_size() const override { return kVocab; }
    int batch_size() const override { return n_batch_; }
    bool supports_sequences() const override { return paged; }
    int kv_block_size() const override { return 4; }
    static float value(int pos, int col) { return float(pos * 100 + col); }

    std::vector<Step> steps;
    int throw_at_step = -1;  // a step that fails, as a device error would
    bool paged = false;      // takes SeqBatch steps (4-position blocks)

private:
    int max_step(bool all_logits) const override { return all_logits && all_step_ > 0 ? all_step_ : n_batch_; }
    void forward_batch(const BatchView& b) override {
        if (int(steps.size()) == throw_at_step) fail("device lost");
        steps.push_back({std::vector<int32_t>(b.tokens, b.tokens + b.n), b.tokens, b.pos, b.logits, b.all_logits,
                         std::vector<int32_t>(b.positions, b.positions + b.n), std::vector<int32_t>(b.seq, b.seq + b.n),
                         std::vector<int32_t>(b.logit_row, b.logit_row + b.logit_rows()), b.contiguous});
        // A row's value names its position (and its sequence, in SeqBatch steps).
        for (int r = 0; r < b.logit_rows(); ++r)
            for (int c = 0; c < kVocab; ++c) {
                const int t = b.logit_row[r];
                b.logits[size_t(r) * kVocab + size_t(c)] = value(b.positions[t] + 1000 * b.seq[t], c);
            }
    }

    int n_ctx_, n_batch_, all_step_;
};

std::vector<int32_t> ids(int n) {
    std::vector<int32_t> v(size_t(n > 0 ? n : 1));
    for (int i = 0; i < n; ++i) v[size_t(i)] = (i * 3 + 1) % kVocab;
    return v;
}

constexpr float kUntouched = -1.0f;

// Splits n tokens at `pos` and checks every step, the tokens they saw and where logits landed.
void check_split(int n_batch, int all_step, int n, int pos, bool all_logits, bool want_logits) {
    SCOPED_TRACE("n_batch " + std::to_string(n_batch) + ", n " + std::to_string(n) + ", pos " + std::to_string(pos) +
                 (all_logits ? ", all logits" : ", last logits") + (want_logits ? "" : ", null logits"));
    RecordingBackend b(4096, n_batch, all_step);
    const std::vector<int32_t> t = ids(n);
    // One spare row on either side: nothing may be written outside the rows asked for.
    const size_t rows = all_logits ? size_t(std::max(n, 0)) : 1;
    std::vector<float> buf((rows + 2) * kVocab, kUntouched);
    float* out = want_logits ? buf.data() + kVocab : nullptr;
    b.forward(t.data(), n, pos, out, all_logits);

    const bool all = all_logits && want_logits;
    const int step = all && all_step > 0 ? all_step : n_batch;
    ASSERT_EQ(b.steps.size(), size_t((n + step - 1) / step));
    int done = 0;
    for (size_t s = 0; s < b.steps.size(); ++s) {
        const RecordingBackend::Step& st = b.steps[s];
        const int count = std::min(step, n - done);
        EXPECT_EQ(int(st.tokens.size()), count) << "step " << s;
        EXPECT_EQ(st.first, t.data() + done) << "step " << s;
        EXPECT_EQ(st.tokens, std::vector<int32_t>(t.begin() + done, t.begin() + done + count)) << "step " << s;
        EXPECT_EQ(st.pos, pos + done) << "step " << s;
        EXPECT_EQ(st.all_logits, all) << "step " << s;
        EXPECT_TRUE(st.contiguous) << "step " << s;
        for (int i = 0; i < count; ++i) {  // the per-token arrays: one sequence at pos, pos + 1, ...
            EXPECT_EQ(st.positions[size_t(i)], pos + done + i) << "step " << s;
            EXPECT_EQ(st.seq[size_t(i)], 0) << "step " << s;
        }
        const bool last = s + 1 == b.steps.size();
        float* want = !want_logits ? nullptr : all ? out + size_t(done) * kVocab : last ? out : nullptr;
        EXPECT_EQ(st.logits, want) << "step " << s;
        done += count;
    }
    EXPECT_EQ(done, std::max(n, 0));

    // The buffer: row i of the output is token i's (all) or the last token's; the rest untouched.
    for (size_t r = 0; r < rows + 2; ++r)
        for (int c = 0; c < kVocab; ++c) {
            const bool inside = want_logits && n > 0 && r >= 1 && r <= rows;
            const int tok_pos = all ? pos + int(r) - 1 : pos + n - 1;
            const float expect = inside ? RecordingBackend::value(tok_pos, c) : kUntouched;
            ASSERT_EQ(buf[r * kVocab + size_t(c)], expect) << "row " << r << " column " << c;
        }
}

TEST(BackendForward, SplitsIntoStepsOfTheBackendsMaximum) {
    constexpr int kMax = 8;
    for (int n : {0, 1, kMax - 1, kMax, kMax + 1, 3 * kMax + 5})
        for (int pos : {0, 13})
            for (bool all : {false, true})
                for (bool want : {true, false}) check_split(kMax, 0, n, pos, all, want);
}

TEST(BackendForward, AllLogitsStepsFollowTheBackend) {
    // A backend whose all_logits steps are shorter (as Vulkan's when a step's logits exceed one
    // binding): those steps are 3 tokens, the others 8; no logits means the widest steps.
    for (int n : {1, 3, 4, 10, 29})
        for (bool all : {false, true})
            for (bool want : {true, false}) check_split(8, 3, n, 5, all, want);
}

TEST(BackendForward, ZeroTokensRunNothing) {
    RecordingBackend b(16, 4);
    std::vector<float> out(kVocab, kUntouched);
    b.forward(nullptr, 0, 0, out.data(), false);
    b.forward(nullptr, 0, 16, out.data(), true);  // at the very end of the context: still nothing to do
    EXPECT_TRUE(b.steps.empty());
    for (float v : out) EXPECT_EQ(v, kUntouched);
}

TEST(BackendForward, FillsTheContextExactly) {
    RecordingBackend b(20, 8);
    const std::vector<int32_t> t = ids(20);
    std::vector<float> out(kVocab);
    b.forward(t.data(), 20, 0, out.data(), false);
    ASSERT_EQ(b.steps.size(), 3u);
    EXPECT_EQ(b.steps.back().pos + int(b.steps.back().tokens.size()), 20);
    b.forward(t.data(), 1, 19, out.data(), false);  // the last position alone
    EXPECT_EQ(b.steps.back().pos, 19);
}

// Each bad call throws ld::Error whose text contains `words`, before any step runs.
void expect_refused(RecordingBackend& b, const int32_t* tokens, int n, int pos, const std::string& words) {
    SCOPED_TRACE("n " + std::to_string(n) + ", pos " + std::to_string(pos));
    std::vector<float> out(kVocab, kUntouched);
    try {
        b.forward(tokens, n, pos, out.data(), false);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
    EXPECT_TRUE(b.steps.empty()) << "the backend ran " << b.steps.size() << " steps";
    for (float v : out) EXPECT_EQ(v, kUntouched);
}

TEST(BackendForward, BadInputIsRefusedBeforeAnyStep) {
    RecordingBackend b(32, 4);
    std::vector<int32_t> t = ids(40);
    expect_refused(b, t.data(), -1, 0, "negative token count (-1)");
    expect_refused(b, t.data(), 1, -1, "negative position (-1)");
    expect_refused(b, t.data(), 33, 0, "context is full: 33 tokens do not fit the 32-token context");
    expect_refused(b, t.data(), 5, 30, "context is full: 35 tokens");
    expect_refused(b, t.data(), 1, 32, "context is full: 33 tokens");
    // pos + n past INT_MAX is still "too long", not an overflow that slips through.
    expect_refused(b, t.data(), 10, INT_MAX - 3, "context is full: 2147483654 tokens");
    expect_refused(b, t.data(), INT_MAX, 1, "context is full");
    expect_refused(b, nullptr, 3, 0, "3 tokens asked for, none given");
    // A bad id anywhere, even in the last step of many, stops the whole call before the first.
    t[29] = kVocab;
    expect_refused(b, t.data(), 30, 0, "token id 7 (position 29) is outside the vocabulary (7 tokens)");
    t[29] = 0;
    t[2] = -5;
    expect_refused(b, t.data(), 10, 1, "token id -5 (position 3) is outside the vocabulary");
    t[2] = INT_MIN;
    expect_refused(b, t.data(), 3, 0, "is outside the vocabulary");
}

TEST(BackendForward, AStepsErrorReachesTheCaller) {
    RecordingBackend b(64, 4);
    b.throw_at_step = 1;
    const std::vector<int32_t> t = ids(12);
    std::vector<float> out(kVocab);
    EXPECT_THROW(b.forward(t.data(), 12, 0, out.data(), false), Error);
    EXPECT_EQ(b.steps.size(), 1u);  // the first step ran; the rest did not after the failure
}

TEST(BackendForward, SeqBatchIsRefusedWithoutSequences) {
    RecordingBackend b(64, 4);
    const int32_t tok = 1, pos = 0, seq = 0, block = 0;
    const SeqView v{&block, 1};
    try {
        b.forward(SeqBatch{1, &tok, &pos, &seq, &v, 1, nullptr, nullptr});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("runs one sequence at a time"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(b.steps.empty());
}

// A SeqBatch wider than a step: each step gets its slice of the rows (positions and sequences as
// given), its logit rows renumbered from the step's first row, and its share of the logits
// buffer; a step without wanted rows gets none.
TEST(BackendForward, SeqBatchSplitsWithItsRowsAndLogits) {
    RecordingBackend b(64, 3);
    b.paged = true;
    const std::vector<int32_t> t0{5, 2}, t1{7, 0, 3};
    const SeqView views[2] = {{t0.data(), 2}, {t1.data(), 3}};
    const std::vector<int32_t> seq{0, 1, 1, 0, 1, 0, 1, 1}, pos{0, 0, 1, 1, 2, 2, 3, 4}, tok{1, 2, 3, 4, 5, 6, 0, 1};
    const std::vector<uint8_t> want{0, 0, 1, 0, 0, 0, 0, 1};
    std::vector<float> out(4 * kVocab, kUntouched);  // two rows wanted, one spare on either side
    b.forward(SeqBatch{8, tok.data(), pos.data(), seq.data(), views, 2, want.data(), out.data() + kVocab});
    ASSERT_EQ(b.steps.size(), 3u);
    const std::vector<std::vector<int32_t>> rows{{2}, {}, {1}};
    const std::vector<float*> at{out.data() + kVocab, nullptr, out.data() + 2 * kVocab};
    for (size_t s = 0; s < 3; ++s) {
        const RecordingBackend::Step& st = b.steps[s];
        const size_t lo = 3 * s, hi = std::min<size_t>(8, lo + 3);
        EXPECT_FALSE(st.contiguous);
        EXPECT_EQ(st.tokens, std::vector<int32_t>(tok.begin() + long(lo), tok.begin() + long(hi))) << "step " << s;
        EXPECT_EQ(st.positions, std::vector<int32_t>(pos.begin() + long(lo), pos.begin() + long(hi))) << "step " << s;
        EXPECT_EQ(st.seq, std::vector<int32_t>(seq.begin() + long(lo), seq.begin() + long(hi))) << "step " << s;
        EXPECT_EQ(st.logit_row, rows[s]) << "step " << s;
        EXPECT_EQ(st.logits, at[s]) << "step " << s;
    }
    for (int c = 0; c < kVocab; ++c) {
        EXPECT_EQ(out[size_t(c)], kUntouched);
        EXPECT_EQ(out[size_t(kVocab + c)], RecordingBackend::value(1 + 1000, c));  // row 2: sequence 1, position 1
        EXPECT_EQ(out[size_t(2 * kVocab + c)], RecordingBackend::value(4 + 1000, c));  // row 7: sequence 1, position 4
        EXPECT_EQ(out[size_t(3 * kVocab + c)], kUntouched);
    }
}

// The real CPU backend: a prompt longer than a step in one call gives bitwise the logits of the
// same prompt fed by hand in steps of the same size (so the entry's offsets and positions are
// those a caller would use), for every token's logits and for the last only.
std::vector<int32_t> prompt_ids(int n, int vocab) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    uint32_t x = 12345;
    for (int i = 0; i < n; ++i) {
        x = x * 1664525u + 1013904223u;
        v[size_t(i)] = int32_t((x >> 8) % uint32_t(vocab));
    }
    return v;
}

void expect_same_as_manual_steps(const std::string& model, int n_ctx, int n_batch, int n, bool all) {
    SCOPED_TRACE(model + ", " + std::to_string(n) + " tokens in steps of " + std::to_string(n_batch) +
                 (all ? ", every token's logits" : ", last logits"));
    test::LoadedModel one = load(shared_path(model), 2, GgmlType::F16, n_ctx, n_batch);
    test::LoadedModel steps = load(shared_path(model), 2, GgmlType::F16, n_ctx, n_batch);
    ASSERT_EQ(one.backend->batch_size(), n_batch);
    ASSERT_GE(one.backend->context_size(), n);
    const size_t V = size_t(one.backend->vocab_size());
    const std::vector<int32_t> t = prompt_ids(n, int(V));
    const size_t rows = all ? size_t(n) : 1;
    std::vector<float> a(rows * V), b(rows * V, NAN);
    one.backend->forward(t.data(), n, 0, a.data(), all);
    for (int done = 0; done < n; done += n_batch) {
        const int c = std::min(n_batch, n - done);
        float* out = all ? b.data() + size_t(done) * V : (done + c == n ? b.data() : nullptr);
        steps.backend->forward(t.data() + done, c, done, out, all);
    }
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    for (float v : a) ASSERT_TRUE(std::isfinite(v));
}

TEST(BackendForwardCpu, LongPromptEqualsManualStepsStories260K) {
    const std::string kStories = "models/stories260K.gguf";
    LD_REQUIRE_SHARED(kStories);
    // Its trained context is 512 positions: 500 tokens in steps of 128 (128 × 3 + 116).
    expect_same_as_manual_steps(kStories, 512, 128, 500, true);
    expect_same_as_manual_steps(kStories, 512, 128, 500, false);
    expect_same_as_manual_steps(kStories, 512, 256, 500, true);
}

TEST(BackendForwardCpu, LongPromptEqualsManualStepsLlama31) {
    const std::string kLlama = "models/tiny-llama31-random-f16.gguf";
    LD_REQUIRE_SHARED(kLlama);
    // 600 tokens in the CPU's default steps of 256 (256 + 256 + 88), last logits (its vocabulary
    // is 128,256 wide, so every token's logits are checked on stories260K above).
    expect_same_as_manual_steps(kLlama, 1024, 256, 600, false);
}

}  // namespace
}  // namespace ld
