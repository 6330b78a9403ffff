// `serve --parallel N`'s BatchedGeneration (app/cli/server/batch_service.h) keeps steps short
// while a long prompt is read: the prompt budget is sized from the measured speed
// (inference/session/prompt_budget.h), so a request that is decoding gets a token every short
// step instead of waiting behind a whole step_tokens chunk. On the fake paged backend, slowed to
// a fixed time per token so that the measured speed is known; the checks count tokens run
// between two of the decoding request's tokens, not milliseconds (a loaded machine only makes
// the measured speed lower and the steps smaller).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "app/cli/server/batch_service.h"
#include "app/cli/server/draft_pool.h"
#include "engine/fake_seq_backend.h"
#include "inference/session/prompt_budget.h"
#include "inference/session/speculative.h"

namespace ld::test {
namespace {

constexpr int kUsPerToken = 500;  // a step of n tokens takes at least n * 0.5 ms
constexpr int kStepTokens = 512;  // the backend's batch: an unpaced prompt chunk

// The fake without its end token: replies run until stopped or to max_tokens.
class EndlessFake : public FakeSeqBackend {
public:
    using FakeSeqBackend::FakeSeqBackend;

protected:
    void forward_batch(const BatchView& b) override {
        FakeSeqBackend::forward_batch(b);
        for (int r = 0; r < b.logit_rows(); ++r) b.logits[size_t(r) * kFakeVocab + kFakeEos] = -1e9f;
    }
};

// An endless fake whose steps take time in proportion to their tokens, like a real backend
// reading a prompt chunk.
class SlowFake final : public EndlessFake {
public:
    using EndlessFake::EndlessFake;

protected:
    void forward_batch(const BatchView& b) override {
        EndlessFake::forward_batch(b);
        std::this_thread::sleep_for(std::chrono::microseconds(int64_t(kUsPerToken) * b.n));
    }
};

// Waits for a job's end (the HTTP thread's side of GenJob).
void wait_finished(server::GenJob& job) {
    std::unique_lock<std::mutex> lock(job.mu);
    ASSERT_TRUE(job.cv.wait_for(lock, std::chrono::seconds(60), [&] { return job.finished; })) << "the job never ended";
}

TEST(PromptBudget, KeepsAStepNearItsTimeAndGrowsGradually) {
    EXPECT_EQ(paced_prompt_budget(8, 100, 10.0), 32);     // 0.1 ms a token: 500 tokens, but 4x at most
    EXPECT_EQ(paced_prompt_budget(400, 100, 10.0), 500);  // 50 ms of tokens
    EXPECT_EQ(paced_prompt_budget(500, 10, 100.0), 5);    // slower: shrinks at once
    EXPECT_EQ(paced_prompt_budget(500, 10, 1e6), 1);      // never below one token
    EXPECT_EQ(paced_prompt_budget(64, 1, 30.0), 64);      // one token says nothing of the rate
    EXPECT_EQ(paced_prompt_budget(64, 100, 0.0), 64);     // nor a step without a time
}

TEST(BatchedGeneration, ALongPromptDoesNotStallADecodingStream) {
    SlowFake be(4096, 16, 2 * 4096 / 16, kStepTokens);
    server::ServedModel served;
    served.id = "fake";
    served.n_ctx = be.context_size();
    served.tokenizer = std::shared_ptr<const Tokenizer>(Tokenizer::create(fake_vocab()));
    server::BatchedGeneration gen(be, served, 4, 8);

    // be.tokens_run is written and read only on the service's worker thread (in the callbacks).
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int64_t> a_marks;  // tokens run when each of A's tokens was sampled
    bool b_submitted = false, b_first = false;
    int a_while_b_reads = 0;  // A's tokens between B's submission and B's first token
    int64_t b_mark = 0;

    auto a = std::make_shared<server::GenJob>();
    for (int i = 0; i < 8; ++i) a->prompt.push_back(int32_t(i * 5 % 62));
    a->options.max_tokens = 100000;
    a->options.sampling.temperature = 0;
    a->options.on_token = [&](int32_t, const float*, int) {
        std::lock_guard<std::mutex> lock(mu);
        a_marks.push_back(be.tokens_run);
        if (b_submitted && !b_first) ++a_while_b_reads;
        cv.notify_all();
    };
    ASSERT_TRUE(gen.submit(a));
    {
        std::unique_lock<std::mutex> lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return a_marks.size() >= 3; }));
    }

    constexpr int kLongPrompt = 1500;  // about three unpaced chunks
    auto b = std::make_shared<server::GenJob>();
    for (int i = 0; i < kLongPrompt; ++i) b->prompt.push_back(int32_t((i * 7 + 3) % 62));
    b->options.max_tokens = 1;
    b->options.sampling.temperature = 0;
    b->options.on_token = [&](int32_t, const float*, int) {
        std::lock_guard<std::mutex> lock(mu);
        b_first = true;
        b_mark = be.tokens_run;
    };
    {
        std::lock_guard<std::mutex> lock(mu);
        b_submitted = true;
    }
    ASSERT_TRUE(gen.submit(b));
    wait_finished(*b);
    gen.cancel(a);
    wait_finished(*a);

    EXPECT_TRUE(b->error.empty()) << b->error;
    EXPECT_EQ(b->result.tokens.size(), 1u);
    EXPECT_TRUE(a->error.empty()) << a->error;
    EXPECT_EQ(a->result.stop, StopReason::Cancelled);
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_TRUE(b_first);
    // A step is at most 50 ms of tokens at the measured speed, which is never faster than the
    // fake's 0.5 ms a token: 100 prompt tokens and A's own. Allow two such steps between two of
    // A's tokens; one unpaced chunk (512 tokens, 256 ms here) is far more.
    const int64_t limit = 2 * int64_t(kPromptStepMs * 1000 / kUsPerToken);
    int64_t widest = 0;
    for (size_t i = 1; i < a_marks.size() && a_marks[i - 1] < b_mark; ++i) widest = std::max(widest, a_marks[i] - a_marks[i - 1]);
    EXPECT_LE(widest, limit) << "tokens run between two of the decoding request's tokens";
    // And A kept decoding all along B's prompt: a token every step of it.
    EXPECT_GE(a_while_b_reads, kLongPrompt / int(limit));
}

// EndlessFake's greedy next token after `history`.
int32_t endless_next(const std::vector<int32_t>& history) {
    uint64_t h = 1;
    for (int32_t t : history) h = fake_step_hash(h, t);
    float logits[kFakeVocab];
    fake_logits(h, logits);
    logits[kFakeEos] = -1e9f;
    return int32_t(std::max_element(logits, logits + kFakeVocab) - logits);
}

// A drafter that knows EndlessFake: its first two proposals are the greedy tokens, the third is
// wrong. Called on the service's thread only.
class HalfRightDrafter final : public Drafter {
public:
    std::string name() const override { return "half right"; }
    void draft(const std::vector<int32_t>& history, int k, Draft& out) override {
        std::vector<int32_t> h = history;
        for (int i = 0; i < std::min(k, 3); ++i) {
            const int32_t next = endless_next(h);
            const int32_t t = i < 2 ? next : (next + 1) % kFakeEos;
            out.tokens.push_back(t);
            h.push_back(t);
        }
        ++calls;
    }
    int calls = 0;
};

// serve --draft / --lookup with --parallel: every job drafts with the service's drafter, its
// greedy reply is the reply without one, and its usage reports the drafted tokens as OpenAI's
// predicted-output counts; a service without a drafter reports none.
TEST(BatchedGeneration, DraftsForEveryJobAndReportsPredictionTokens) {
    const auto served_by = [](Backend& be) {
        server::ServedModel served;
        served.id = "fake";
        served.n_ctx = be.context_size();
        served.tokenizer = std::shared_ptr<const Tokenizer>(Tokenizer::create(fake_vocab()));
        return served;
    };
    const auto job = [] {
        auto j = std::make_shared<server::GenJob>();
        for (int i = 0; i < 6; ++i) j->prompt.push_back(int32_t(i * 11 % 62));
        j->options.max_tokens = 40;
        j->options.sampling.temperature = 0;
        return j;
    };
    EndlessFake plain_be(512, 16, 64);
    server::BatchedGeneration plain(plain_be, served_by(plain_be), 2, 4);
    auto want = job();
    ASSERT_TRUE(plain.submit(want));
    wait_finished(*want);
    ASSERT_TRUE(want->error.empty()) << want->error;
    ASSERT_EQ(want->result.tokens.size(), 40u);
    EXPECT_FALSE(server::job_usage(*want).speculative);

    HalfRightDrafter drafter;
    EndlessFake be(512, 16, 64);
    server::BatchedGeneration gen(be, served_by(be), 2, 4, server::DraftConfig{&drafter, 4});
    auto a = job(), b = job();
    ASSERT_TRUE(gen.submit(a));
    ASSERT_TRUE(gen.submit(b));
    wait_finished(*a);
    wait_finished(*b);
    for (const auto& j : {a, b}) {
        ASSERT_TRUE(j->error.empty()) << j->error;
        EXPECT_EQ(j->options.drafter, &drafter);
        EXPECT_EQ(j->result.tokens, want->result.tokens);
        const server::Usage u = server::job_usage(*j);
        EXPECT_TRUE(u.speculative);
        EXPECT_EQ(u.completion_tokens, int(want->result.tokens.size()));
        EXPECT_EQ(u.accepted_prediction_tokens, j->result.accepted);
        EXPECT_EQ(u.rejected_prediction_tokens, j->result.drafted - j->result.accepted);
        // Passes with three drafts: two kept, one turned down.
        EXPECT_GT(u.accepted_prediction_tokens, 0);
        EXPECT_GT(u.rejected_prediction_tokens, 0);
    }
    EXPECT_GT(drafter.calls, 0);
}

// A drafter that records what it was asked (DraftPool's members).
class RecordingDrafter final : public Drafter {
public:
    explicit RecordingDrafter(int32_t mark) : mark_(mark) {}
    std::string name() const override { return "recording"; }
    void begin(const SamplerParams& sampling) override { seeds.push_back(sampling.seed); }
    void draft(const std::vector<int32_t>& history, int, Draft& out) override {
        histories.push_back(history);
        out.tokens.push_back(mark_);
    }
    std::vector<uint64_t> seeds;
    std::vector<std::vector<int32_t>> histories;

private:
    int32_t mark_;
};

// serve --parallel N --draft: requests drafting in turn each keep the copy of the draft model
// that holds their history (it would otherwise re-read a whole history every step); a new
// request takes the least recently used copy, with its own sampling; a chat's next turn returns
// to the copy that drafted its previous one.
TEST(DraftPool, EachRequestKeepsTheCopyWithItsHistory) {
    std::vector<std::unique_ptr<Drafter>> members;
    std::vector<RecordingDrafter*> rec;
    for (int i = 0; i < 3; ++i) {
        members.push_back(std::make_unique<RecordingDrafter>(100 + i));
        rec.push_back(static_cast<RecordingDrafter*>(members.back().get()));
    }
    server::DraftPool pool(std::move(members));
    EXPECT_EQ(pool.name(), "recording, 3 copies");
    const auto seeded = [](uint64_t seed) {
        SamplerParams p;
        p.seed = seed;
        return p;
    };
    Draft d;
    std::vector<int32_t> a = {1, 2, 3}, b = {7, 8};
    pool.begin(seeded(11));
    pool.draft(a, 4, d);
    const size_t ma = pool.last_used();
    EXPECT_EQ(d.tokens, std::vector<int32_t>{int32_t(100 + ma)});
    pool.begin(seeded(22));
    pool.draft(b, 4, d);
    const size_t mb = pool.last_used();
    EXPECT_NE(ma, mb);
    for (int step = 0; step < 5; ++step) {  // alternating steps, each on its own copy
        a.insert(a.end(), {int32_t(10 + step), 4});
        pool.draft(a, 4, d);
        EXPECT_EQ(pool.last_used(), ma) << "step " << step;
        b.push_back(int32_t(20 + step));
        pool.draft(b, 4, d);
        EXPECT_EQ(pool.last_used(), mb) << "step " << step;
    }
    EXPECT_EQ(rec[ma]->seeds, std::vector<uint64_t>{11});
    EXPECT_EQ(rec[mb]->seeds, std::vector<uint64_t>{22});
    EXPECT_EQ(rec[ma]->histories.back(), a);
    EXPECT_EQ(rec[mb]->histories.back(), b);
    // A third request takes the copy never used; a fourth the least recently used (a's).
    pool.begin(seeded(33));
    pool.draft({5, 5}, 4, d);
    const size_t mc = pool.last_used();
    EXPECT_TRUE(mc != ma && mc != mb);
    EXPECT_EQ(rec[mc]->seeds, std::vector<uint64_t>{33});
    pool.draft(b, 4, d);  // b goes on, so a's copy is now the oldest
    pool.begin(seeded(44));
    pool.draft({9}, 4, d);
    EXPECT_EQ(pool.last_used(), ma);
    EXPECT_EQ(rec[ma]->seeds, (std::vector<uint64_t>{11, 44}));
    // b's next turn extends its last history: its copy again, whatever is older.
    std::vector<int32_t> next = b;
    next.insert(next.end(), {3, 3, 3});
    pool.begin(seeded(55));
    pool.draft(next, 4, d);
    EXPECT_EQ(pool.last_used(), mb);
    EXPECT_EQ(rec[mb]->seeds, (std::vector<uint64_t>{22, 55}));
}

}  // namespace
}  // namespace ld::test
