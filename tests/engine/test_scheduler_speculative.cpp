// Speculative decoding inside the batch scheduler (batch_scheduler.h, speculative.h). On the fake
// paged backend (fake_seq_backend.h), whose output is a pure function of each sequence's own
// history: drafting requests beside plain ones give the text they give alone, with the same
// drafts and acceptances as Session's loop; always-wrong drafts roll the KV back every pass
// without leaving a rejected position in the prefix cache; cancel and stop strings inside an
// accepted draft; drafts counted in the step's budget; every block back after a random mix. On
// the real CPU backend: greedy identity with a draft model (two requests sharing it) and with
// prompt lookup, and a chi-square check that the first speculated token follows the model's
// distribution.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fake_seq_backend.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/batch_scheduler.h"
#include "inference/session/prompt_lookup.h"
#include "inference/session/session.h"
#include "scheduler_harness.h"
#include "speculative_fixture.h"

namespace ld::test {
namespace {

// Drafts on the fake model: its greedy continuation, each drafted token replaced by a wrong one
// with probability wrong_pct / 100, decided by a hash of the history and the draft position (so
// Session and the scheduler get the same drafts for the same history). 100: the first drafted
// token is always wrong, so every pass is rejected at once and the KV cache rolls back.
class FakeDrafter : public Drafter {
public:
    explicit FakeDrafter(int wrong_pct) : wrong_pct_(wrong_pct) {}
    std::string name() const override { return "fake drafter"; }
    void draft(const std::vector<int32_t>& history, int k, Draft& out) override {
        out.clear();
        uint64_t h = 1;
        for (int32_t t : history) h = fake_step_hash(h, t);
        for (int i = 0; i < k; ++i) {
            int32_t t = fake_pick(h);
            if (int(fake_mix(h ^ 0x5bd1e995u) % 100) < wrong_pct_) t = (t + 1) % kFakeEos;
            out.tokens.push_back(t);
            h = fake_step_hash(h, t);
        }
        ++calls;
        last_history = history;
        last_draft = out.tokens;
        if (on_draft) on_draft(history, out.tokens);
    }
    int calls = 0;
    std::vector<int32_t> last_history, last_draft;
    std::function<void(const std::vector<int32_t>&, const std::vector<int32_t>&)> on_draft;

private:
    int wrong_pct_;
};

BatchRequest request(std::vector<int32_t> prompt, int max_tokens, Drafter* d = nullptr, int draft_max = 8) {
    BatchRequest r;
    r.prompt = std::move(prompt);
    r.options.max_tokens = max_tokens;
    r.options.sampling.temperature = 0;
    r.options.drafter = d;
    r.options.draft_max = draft_max;
    return r;
}

// The same request through Session on a fake of its own; without its drafter unless asked.
GenerateResult solo(const BatchRequest& r, bool with_drafter = false, int n_ctx = 512) {
    FakeSeqBackend be(n_ctx, 16, (n_ctx + 15) / 16, 64, false);
    Model model;
    Session s(model, be, fake_tok());
    GenerateOptions o = r.options;
    o.cancel = nullptr;
    if (!with_drafter) o.drafter = nullptr;
    return s.generate(r.prompt, o, nullptr);
}

// A prompt whose greedy reply does not end before `reply` tokens (the fake ends one time in 40).
std::vector<int32_t> long_reply_prompt(int n, uint32_t seed, int reply) {
    for (;; ++seed) {
        const std::vector<int32_t> p = prompt_of(n, seed);
        if (int(solo(request(p, reply), false, 1024).tokens.size()) == reply) return p;
    }
}

// Drafting requests (right always, a third of the time wrong, always wrong) join and leave a
// batch of plain ones: each gives its text alone, and a drafting one the same drafts and
// acceptances as Session's own speculative loop (the budget is ample: nothing is cut).
TEST(SchedulerSpeculative, DraftingBesidePlainRequestsGivesEachItsTextAlone) {
    Harness h(512, 8, 200);
    FakeDrafter right(0), mixed(33), wrong(100);
    std::vector<std::pair<uint64_t, BatchRequest>> reqs;
    auto add = [&](BatchRequest r) { reqs.emplace_back(h.submit(r), r); };
    add(request(long_reply_prompt(9, 1, 60), 60, &right));
    add(request(prompt_of(20, 2), 25));
    h.sched.step();
    add(request(long_reply_prompt(5, 3, 50), 50, &mixed, 5));
    for (int i = 0; i < 3; ++i) h.sched.step();
    add(request(prompt_of(30, 4), 40));
    add(request(long_reply_prompt(12, 5, 45), 45, &wrong, 16));
    h.sched.step();
    add(request(prompt_of(3, 6), 12));
    h.sched.run_until_idle();
    for (auto& [id, r] : reqs) {
        const std::string what = "request " + std::to_string(id);
        ASSERT_EQ(h.got[id]->finished, 1) << what;
        EXPECT_TRUE(h.got[id]->outcome.error.empty()) << h.got[id]->outcome.error;
        const GenerateResult& res = h.result(id);
        expect_same(res, solo(r), what);
        EXPECT_EQ(h.got[id]->streamed, res.text);
        if (!r.options.drafter) {
            EXPECT_EQ(res.drafted, 0) << what;
            continue;
        }
        const GenerateResult spec = solo(r, true);
        EXPECT_EQ(res.drafted, spec.drafted) << what;
        EXPECT_EQ(res.accepted, spec.accepted) << what;
        EXPECT_EQ(res.verify_passes, spec.verify_passes) << what;
        EXPECT_EQ(res.decode_steps, int(res.tokens.size()) - 1) << what;
        EXPECT_GT(res.drafted, 0) << what;
    }
    EXPECT_EQ(h.result(reqs[0].first).acceptance_rate(), 1.0);
    EXPECT_EQ(h.result(reqs[4].first).accepted, 0);
    EXPECT_GT(h.sched.stats().drafted, 0);
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
    h.sched.pool().check();
}

// Drafts always rejected at their first token, and drafts rejected part way (long ones: the
// length grows while they pass): the sequences' KV lengths go back every pass, blocks only the
// rejected drafts reached go back to the pool, and no block holding a rejected position is ever
// adopted: a prompt of a past history plus the draft made there reuses at most the whole blocks
// of what it shares with the true history.
TEST(SchedulerSpeculative, RejectedDraftsRollTheKvBackAndStayOutOfThePrefixCache) {
    Harness h(512, 4, 64);
    FakeDrafter wrong(100), mixed(15);
    std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> drafts;  // (history, draft)
    for (FakeDrafter* d : {&wrong, &mixed})
        d->on_draft = [&](const std::vector<int32_t>& hist, const std::vector<int32_t>& dr) {
            if (!dr.empty()) drafts.emplace_back(hist, dr);
        };
    BatchRequest rw = request(long_reply_prompt(6, 10, 40), 40, &wrong, 16);
    BatchRequest rm = request(long_reply_prompt(8, 11, 60), 60, &mixed, 16);
    int emitted[2] = {0, 0};
    rw.options.on_token = [&](int32_t, const float*, int) { ++emitted[0]; };
    rm.options.on_token = [&](int32_t, const float*, int) { ++emitted[1]; };
    const uint64_t iw = h.submit(rw), im = h.submit(rm);
    while (h.sched.step()) {
        h.sched.pool().check();
        // Between steps each sequence holds the blocks of its accepted positions only (all but
        // its last token), never those its rejected drafts reached.
        int want = 0;
        if (!h.got[iw]->finished) want += (int(rw.prompt.size()) + emitted[0] - 1 + 3) / 4;
        if (!h.got[im]->finished) want += (int(rm.prompt.size()) + emitted[1] - 1 + 3) / 4;
        ASSERT_EQ(h.sched.pool().blocks_in_use(), want);
    }
    expect_same(h.result(iw), solo(rw), "always wrong");
    expect_same(h.result(im), solo(rm), "wrong at times");
    EXPECT_EQ(h.result(iw).accepted, 0);
    EXPECT_LE(h.result(iw).drafted, h.result(iw).verify_passes + 3 + 2 + 1);  // the length shrank from 4 to 1
    EXPECT_GT(h.result(im).accepted, 0);
    EXPECT_LT(h.result(im).accepted, h.result(im).drafted);
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
    size_t longest = 0;
    for (const auto& dr : drafts) longest = std::max(longest, dr.second.size());
    EXPECT_GE(longest, 8u);  // drafts that reached two blocks past the last token
    ASSERT_GT(drafts.size(), 20u);
    int tested = 0;
    for (size_t i = 0; i < drafts.size(); i += 3) {
        const auto& [hist, d] = drafts[i];
        const BatchRequest& owner = std::equal(rw.prompt.begin(), rw.prompt.end(), hist.begin()) ? rw : rm;
        std::vector<int32_t> truth = owner.prompt;
        const auto& reply = h.result(&owner == &rw ? iw : im).tokens;
        truth.insert(truth.end(), reply.begin(), reply.end());
        std::vector<int32_t> p = hist;
        p.insert(p.end(), d.begin(), d.end());
        size_t shared = 0;
        while (shared < p.size() && shared < truth.size() && p[shared] == truth[shared]) ++shared;
        ASSERT_GE(shared, hist.size());
        if (shared == p.size()) continue;  // every drafted token was accepted: nothing rolled back
        ++tested;
        const int64_t before = h.sched.stats().prompt_reused;
        const BatchRequest again = request(p, 3);
        const uint64_t a = h.submit(again);
        h.sched.run_until_idle();
        EXPECT_LE(h.sched.stats().prompt_reused - before, int64_t(shared / 4 * 4)) << "draft " << i;
        expect_same(h.result(a), solo(again), "history + draft " + std::to_string(i));
    }
    EXPECT_GT(tested, 10);
    h.sched.pool().check();
}

// A cancel flag set while an accepted draft's tokens stream, and a stop string inside an
// accepted draft: both end where plain decoding (and Session's speculative loop) ends.
TEST(SchedulerSpeculative, CancelAndStopStringsInsideAnAcceptedDraft) {
    FakeDrafter right(0);
    const std::vector<int32_t> p = long_reply_prompt(7, 20, 60);
    const GenerateResult plain = solo(request(p, 60));
    {
        Harness h(512, 8, 64);
        std::atomic<bool> cancel{false};
        BatchRequest r = request(p, 60, &right);
        r.options.cancel = &cancel;
        int pieces = 0;
        r.on_text = [&](std::string_view) {
            if (++pieces == 4) cancel = true;  // inside the first pass's 1 + 4 accepted tokens
            return true;
        };
        const uint64_t id = h.submit(r);
        h.submit(request(prompt_of(10, 21), 30));  // a plain neighbour
        h.sched.run_until_idle();
        const GenerateResult& res = h.result(id);
        EXPECT_EQ(res.stop, StopReason::Cancelled);
        EXPECT_EQ(pieces, 4);  // nothing streamed after the cancel
        ASSERT_LE(res.tokens.size(), 6u);
        EXPECT_TRUE(std::equal(res.tokens.begin(), res.tokens.end(), plain.tokens.begin()));
        EXPECT_GT(res.accepted, 0);
        EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
    }
    {
        Harness h(512, 8, 64);
        BatchRequest r = request(p, 60, &right);
        r.options.stop_strings = {plain.text.substr(15, 2)};
        const GenerateResult want = solo(r);
        ASSERT_EQ(want.stop, StopReason::StopString);
        const uint64_t id = h.submit(r);
        h.sched.run_until_idle();
        expect_same(h.result(id), want, "stop string");
        EXPECT_EQ(h.result(id).text, want.text);
        EXPECT_EQ(h.result(id).accepted, h.result(id).drafted);  // it stopped inside an accepted draft
        // A token limit in the middle of a draft.
        for (int n : {1, 2, 5, 13}) {
            const BatchRequest rn = request(p, n, &right);
            const uint64_t in = h.submit(rn);
            h.sched.run_until_idle();
            expect_same(h.result(in), solo(rn), "max_tokens " + std::to_string(n));
            EXPECT_EQ(int(h.result(in).tokens.size()), n);
        }
        EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
    }
    // A full context: 48 positions.
    {
        Harness h(48, 8, 12);
        const BatchRequest r = request(p, 100, &right);
        const uint64_t id = h.submit(r);
        h.sched.run_until_idle();
        const GenerateResult want = solo(r, false, 48);
        expect_same(h.result(id), want, "full context");
        EXPECT_EQ(want.stop, StopReason::ContextFull);
    }
}

// Drafted tokens count against the step's budget: a step never runs more than step_tokens, with
// as many decoding sequences as the budget holds they decode plainly (draft nothing), and a
// better-ranked sequence's prompt chunk comes before a worse one's drafts.
TEST(SchedulerSpeculative, DraftsCountAgainstTheStepBudget) {
    FakeDrafter right(0);
    {
        SchedulerOptions opt;
        opt.step_tokens = 7;
        Harness h(512, 8, 100, opt);
        std::vector<std::pair<uint64_t, BatchRequest>> reqs;
        for (uint32_t i = 0; i < 4; ++i) {
            const BatchRequest r = request(long_reply_prompt(5 + int(i), 30 + i, 30), 30, i % 2 ? nullptr : &right);
            reqs.emplace_back(h.submit(r), r);
        }
        int64_t run = 0;
        while (h.sched.step()) {
            EXPECT_LE(h.be.tokens_run - run, 7);
            run = h.be.tokens_run;
        }
        for (auto& [id, r] : reqs) expect_same(h.result(id), solo(r), "request " + std::to_string(id));
        EXPECT_GT(h.sched.stats().drafted, 0);  // with 4 decoding, 3 tokens are left for drafts
    }
    {
        SchedulerOptions opt;
        opt.step_tokens = 3;
        Harness h(512, 8, 100, opt);
        std::vector<std::pair<uint64_t, BatchRequest>> reqs;
        for (uint32_t i = 0; i < 3; ++i) {
            const BatchRequest r = request(long_reply_prompt(1, 50 + 10 * i, 20), 20, &right);
            reqs.emplace_back(h.submit(r), r);
        }
        h.sched.run_until_idle();
        for (auto& [id, r] : reqs) expect_same(h.result(id), solo(r), "request " + std::to_string(id));
        EXPECT_EQ(h.sched.stats().drafted, 0);
    }
    {
        // A drafting background job leaves the budget to a better request's prompt: an
        // interactive 90-token prompt runs in 15-token chunks beside its one decode token.
        SchedulerOptions opt;
        opt.step_tokens = 16;
        Harness h(1024, 8, 200, opt);
        BatchRequest bg = request(long_reply_prompt(5, 70, 120), 120, &right, 16);
        bg.priority = Priority::Background;
        const uint64_t ibg = h.submit(bg);
        for (int i = 0; i < 4; ++i) h.sched.step();
        EXPECT_GT(h.sched.stats().drafted, 0);
        BatchRequest in = request(prompt_of(90, 71), 5);
        in.priority = Priority::Interactive;
        int steps = 0, first = -1;
        in.options.on_token = [&](int32_t, const float*, int) {
            if (first < 0) first = steps;
        };
        const uint64_t iin = h.submit(in);
        while (first < 0 && h.sched.step()) ++steps;
        EXPECT_LE(first, (90 + 14) / 15);
        h.sched.run_until_idle();
        expect_same(h.result(ibg), solo(bg, false, 1024), "background");
        expect_same(h.result(iin), solo(in, false, 1024), "interactive");
        EXPECT_GT(h.result(ibg).accepted, 20);
    }
}

// Random requests, a third drafting (right, mixed or wrong drafters, and prompt lookup), some
// sampled, a fifth cancelled, on a small pool (preemption, eviction, copy on write of adopted
// blocks): every one finishes once, greedy uncancelled ones as alone, every block comes back.
TEST(SchedulerSpeculative, RandomMixWithDraftersReturnsEveryBlock) {
    SchedulerOptions opt;
    opt.max_sequences = 6;
    opt.step_tokens = 40;
    Harness h(256, 4, 48, opt);
    FakeDrafter right(0), mixed(40), wrong(100);
    PromptLookup lookup(3, 1);
    Drafter* drafters[] = {&right, &mixed, &wrong, &lookup};
    std::mt19937 rng(5);
    SubmittedRequests reqs;
    const RandomLoad load{.total = 300, .max_burst = 3, .cancel_one_in = 5, .cancel_within = 10};
    ASSERT_NO_FATAL_FAILURE(run_random_requests(h, rng, load, [&drafters](std::mt19937& rng, int i) {
        std::vector<int32_t> p = prompt_of(int(1 + rng() % 40), uint32_t(i));
        if (rng() % 3 == 0) p = prompt_of(int(8 + rng() % 20), 5);  // shared prefixes
        BatchRequest r = request(p, int(rng() % 40));
        if (rng() % 3 == 0) {
            r.options.drafter = drafters[rng() % 4];
            r.options.draft_max = int(1 + rng() % 16);
        }
        if (rng() % 4 == 0) {
            r.options.sampling.temperature = 0.8f;
            r.options.sampling.seed = rng();
        }
        r.priority = Priority(rng() % 3);
        return r;
    }, &reqs));
    int drafting = 0;
    for (auto& [id, r] : reqs) {
        const Got& g = *h.got[id];
        ASSERT_EQ(g.finished, 1) << "request " << id;
        EXPECT_TRUE(g.outcome.error.empty()) << g.outcome.error;
        const GenerateResult& res = g.outcome.result;
        drafting += res.drafted > 0;
        if (r.options.sampling.temperature > 0) continue;
        const GenerateResult want = solo(r, false, 256);
        if (res.stop == StopReason::Cancelled) {
            expect_cancelled_prefix(res, want, id);
        } else {
            expect_same(res, want, "request " + std::to_string(id));
        }
    }
    EXPECT_GT(drafting, 30);
    EXPECT_GT(h.sched.stats().preemptions, 0);
    EXPECT_GT(h.sched.stats().accepted, 0);
    expect_every_block_back(h);
}

TEST(SchedulerSpeculative, BadDraftsAndLengthsAreClearErrors) {
    Harness h(512, 8, 64);
    FakeDrafter right(0);
    EXPECT_THROW(h.sched.submit(request(prompt_of(5, 1), 10, &right, 0)), Error);
    EXPECT_THROW(h.sched.submit(request(prompt_of(5, 1), 10, &right, 17)), Error);
    // A drafter proposing a token outside the vocabulary fails its own request, not the step's
    // other sequences.
    struct Broken : Drafter {
        std::string name() const override { return "broken"; }
        void draft(const std::vector<int32_t>&, int k, Draft& out) override { out.tokens.assign(size_t(k), kFakeVocab + 3); }
    } broken;
    const uint64_t bad = h.submit(request(prompt_of(5, 2), 10, &broken));
    const BatchRequest ok = request(prompt_of(6, 3), 20);
    const uint64_t good = h.submit(ok);
    h.sched.run_until_idle();
    EXPECT_NE(h.got[bad]->outcome.error.find("broken drafted token id"), std::string::npos) << h.got[bad]->outcome.error;
    expect_same(h.result(good), solo(ok), "beside the broken drafter");
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
}

// ---- The real engine (CPU backend) ----

const char* kStories = "models/stories260K.gguf";
const char* kK256F32 = "models/k256/tiny-llama-k256-f32.gguf";
const char* kK256Q40 = "models/k256/tiny-llama-k256-Q4_0-pure.gguf";

std::unique_ptr<Backend> paged_backend(const Model& m) {
    BackendOptions o;
    o.n_threads = 1;
    o.n_ctx = 512;
    o.kv_positions = 8 * 512;
    o.tuning = Tuning::from_env();
    return create_cpu_backend(m, o);
}

struct Text {
    BatchOutcome outcome;
    int finished = 0;
};

BatchRequest model_request(const Tokenizer& tok, const std::string& prompt, int n, Drafter* d, std::shared_ptr<Text> t) {
    BatchRequest r;
    r.prompt = tokenize_prompt(tok, prompt);
    r.options.max_tokens = n;
    r.options.sampling.temperature = 0;
    r.options.drafter = d;
    r.on_finished = [t](const BatchOutcome& o) {
        t->outcome = o;
        t->finished++;
    };
    return r;
}

// The k256 f32 model with its Q4_0 copy drafting for two requests at once (one DraftModel, one
// cache, rewound to each history in turn) and three plain requests joining and leaving: every
// greedy text is the model's alone.
TEST(SchedulerSpeculativeModel, DraftModelSharedByTwoRequestsBesidePlainOnes) {
    LD_REQUIRE_SHARED(kK256F32);
    LD_REQUIRE_SHARED(kK256Q40);
    LoadedModel target = load(shared_path(kK256F32), 1);
    LoadedModel draft_m = load(shared_path(kK256Q40), 1);
    DraftModel drafter(*target.model, *draft_m.model, *draft_m.backend);
    std::unique_ptr<Backend> be = paged_backend(*target.model);
    BatchScheduler sched(*be, *target.tok);
    struct Case {
        std::string prompt;
        int n;
        bool draft;
    };
    const std::vector<Case> cases = {{"Once upon a time", 90, true},
                                     {"The little dog", 20, false},
                                     {"Lily and Tom went to the park. They", 70, true},
                                     {"One day", 35, false},
                                     {"A bird", 12, false}};
    std::vector<std::shared_ptr<Text>> got;
    for (size_t i = 0; i < cases.size(); ++i) {
        got.push_back(std::make_shared<Text>());
        sched.submit(model_request(*target.tok, cases[i].prompt, cases[i].n, cases[i].draft ? &drafter : nullptr, got.back()));
        for (size_t k = 0; k < 3 * i; ++k) sched.step();  // joining while the others decode
    }
    sched.run_until_idle();
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE("prompt \"" + cases[i].prompt + "\"");
        ASSERT_EQ(got[i]->finished, 1);
        EXPECT_TRUE(got[i]->outcome.error.empty()) << got[i]->outcome.error;
        const GenerateResult& res = got[i]->outcome.result;
        const GenerateResult alone = greedy_run(target, tokenize_prompt(*target.tok, cases[i].prompt), cases[i].n, nullptr);
        EXPECT_EQ(res.text, alone.text);
        EXPECT_EQ(res.tokens, alone.tokens);
        if (cases[i].draft) {
            EXPECT_GT(res.drafted, 0);
            EXPECT_GT(res.accepted, 0);  // Q4_0 of random weights agrees about 1 time in 5
            EXPECT_EQ(res.decode_steps, int(res.tokens.size()) - 1);
        } else {
            EXPECT_EQ(res.drafted, 0);
        }
    }
    EXPECT_GE(sched.stats().max_batch_sequences, 3);
    EXPECT_EQ(sched.pool().blocks_in_use(), 0);
}

// stories260K with prompt lookup on a repetitive prompt, beside a plain request and a lookup
// request whose text does not repeat.
TEST(SchedulerSpeculativeModel, PromptLookupBesidePlainRequests) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel target = load(shared_path(kStories), 1);
    std::unique_ptr<Backend> be = paged_backend(*target.model);
    BatchScheduler sched(*be, *target.tok);
    PromptLookup lookup;
    const std::string repeat = "The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran.";
    const std::vector<std::pair<std::string, Drafter*>> cases = {
        {repeat, &lookup}, {"Once upon a time", nullptr}, {"Once upon a time, there was a little girl", &lookup}};
    std::vector<std::shared_ptr<Text>> got;
    for (size_t i = 0; i < cases.size(); ++i) {
        got.push_back(std::make_shared<Text>());
        sched.submit(model_request(*target.tok, cases[i].first, 100, cases[i].second, got.back()));
        sched.step();
    }
    sched.run_until_idle();
    for (size_t i = 0; i < cases.size(); ++i) {
        SCOPED_TRACE("prompt \"" + cases[i].first + "\"");
        ASSERT_EQ(got[i]->finished, 1);
        const GenerateResult alone = greedy_run(target, tokenize_prompt(*target.tok, cases[i].first), 100, nullptr);
        EXPECT_EQ(got[i]->outcome.result.text, alone.text);
        EXPECT_EQ(got[i]->outcome.result.tokens, alone.tokens);
    }
    const GenerateResult& rep = got[0]->outcome.result;
    EXPECT_GT(rep.acceptance_rate(), 0.6) << rep.accepted << " of " << rep.drafted;  // as alone (77%)
    EXPECT_LT(rep.verify_passes, int(rep.tokens.size()) / 2);
    EXPECT_EQ(sched.pool().blocks_in_use(), 0);
}

// The token after "Once upon a time," sampled with speculation in the scheduler (many requests
// at once, one drafter shared by all) follows the model's own distribution (test_speculative's
// check with Session, run through the batch).
void check_batched_distribution(LoadedModel& target, Drafter* drafter, int runs) {
    const SamplerParams sp = spread_sampling();
    const auto prompt = tokenize_prompt(*target.tok, "Once upon a time");
    const int32_t comma = target.tok->encode(",", false).back();
    std::vector<int32_t> ctx = prompt;
    ctx.push_back(comma);
    const TokenDistribution expected = model_distribution(shared_path(kStories), ctx, sp);
    ASSERT_GT(expected.size(), 5u);
    std::unique_ptr<Backend> be = paged_backend(*target.model);
    BatchScheduler sched(*be, *target.tok);
    std::map<int32_t, int> counts;
    int n = 0, verified = 0;
    for (int seed = 0; seed < runs; ++seed) {
        BatchRequest r;
        r.prompt = prompt;
        r.options.sampling = sp;
        r.options.sampling.seed = uint64_t(seed);
        r.options.max_tokens = 3;  // one verification pass with one drafted token: the one counted
        r.options.drafter = drafter;
        r.options.draft_max = 4;
        r.on_finished = [&](const BatchOutcome& o) {
            const GenerateResult& res = o.result;
            verified += res.drafted == 1;
            if (res.tokens.size() < 2 || res.tokens[0] != comma) return;
            counts[res.tokens[1]]++;
            ++n;
        };
        sched.submit(std::move(r));
    }
    sched.run_until_idle();
    ASSERT_GT(n, runs / 2);
    EXPECT_GT(verified, runs * 9 / 10);  // the first pass drafted its one token
    expect_follows(counts, expected, n);
}

TEST(SchedulerSpeculativeModel, SampledTokensFollowTheModelWithADraftModel) {
    LD_REQUIRE_SHARED(kStories);
    LD_REQUIRE_SHARED(kK256F32);
    LoadedModel target = load(shared_path(kStories), 1);
    LoadedModel draft_m = load(shared_path(kK256F32), 1);
    DraftModel drafter(*target.model, *draft_m.model, *draft_m.backend);  // q far from p
    check_batched_distribution(target, &drafter, 2000);
}

TEST(SchedulerSpeculativeModel, SampledTokensFollowTheModelWithDeterministicDrafts) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel target = load(shared_path(kStories), 1);
    WrongDrafter wrong(target.backend->vocab_size(), 7);  // one-hot q
    check_batched_distribution(target, &wrong, 2000);
}

}  // namespace
}  // namespace ld::test
