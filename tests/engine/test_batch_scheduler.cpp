// Continuous batching (inference/session/batch_scheduler.h) on the fake paged backend
// (fake_seq_backend.h), where each sequence's output is a pure function of its own history:
// every sequence of a batch must produce what Session produces alone, under preemption, cancels,
// priorities, prompt chunking, a small pool and 1,000 random requests. The stories260K test at the
// end does the same on the real CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fake_seq_backend.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/batch_scheduler.h"
#include "inference/session/session.h"
#include "inference/tokenizer/unicode.h"
#include "model_fixture.h"
#include "scheduler_harness.h"

namespace ld::test {
namespace {

BatchRequest request(std::vector<int32_t> prompt, int max_tokens, float temperature = 0, uint64_t seed = 0) {
    BatchRequest r;
    r.prompt = std::move(prompt);
    r.options.max_tokens = max_tokens;
    r.options.sampling.temperature = temperature;
    r.options.sampling.seed = seed;
    return r;
}

// The same request through Session on a fake of its own (one sequence, contiguous cache).
GenerateResult solo(const BatchRequest& r, int n_ctx = 512) {
    FakeSeqBackend be(n_ctx, 16, (n_ctx + 15) / 16, 64, false);
    Model model;
    Session s(model, be, fake_tok());
    GenerateOptions o = r.options;
    o.cancel = nullptr;
    return s.generate(r.prompt, o, nullptr);
}

// A prompt of n tokens whose greedy reply does not end before `reply` tokens (the fake's end
// token comes about one time in 40): the first such seed from `seed` on.
std::vector<int32_t> long_reply_prompt(int n, uint32_t seed, int reply) {
    for (;; ++seed) {
        const std::vector<int32_t> p = prompt_of(n, seed);
        if (int(solo(request(p, reply), 1024).tokens.size()) == reply) return p;
    }
}

TEST(BatchScheduler, EachSequenceInABatchGivesItsTextAlone) {
    SchedulerOptions opt;
    opt.step_tokens = 24;  // prompts split across steps
    Harness h(512, 16, 200, opt);
    std::vector<std::pair<uint64_t, BatchRequest>> reqs;
    for (int i = 0; i < 12; ++i) {
        BatchRequest r = request(prompt_of(1 + i * 7, uint32_t(i)), 10 + 5 * i, i % 3 ? 0.0f : 0.9f, uint64_t(i));
        if (i == 5) r.options.stop_strings = {"a", "b", "c"};
        reqs.emplace_back(h.submit(r), r);
    }
    h.sched.run_until_idle();
    for (auto& [id, r] : reqs) {
        const Got& g = *h.got[id];
        ASSERT_EQ(g.finished, 1);
        EXPECT_TRUE(g.outcome.error.empty()) << g.outcome.error;
        expect_same(g.outcome.result, solo(r), "request " + std::to_string(id));
        EXPECT_EQ(g.streamed, g.outcome.result.text);
        for (const std::string& p : g.pieces) EXPECT_EQ(unicode::repair_utf8(p), p) << "invalid UTF-8 in a piece of request " << id;
        EXPECT_EQ(g.outcome.result.prompt_tokens, int(r.prompt.size()));
    }
    EXPECT_GT(h.sched.stats().max_batch_sequences, 6);  // they did run together
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
    h.sched.pool().check();
}

TEST(BatchScheduler, APromptIsChunkedSoDecodingGoesOn) {
    SchedulerOptions opt;
    opt.step_tokens = 16;
    Harness h(1024, 16, 100, opt);
    BatchRequest a = request(long_reply_prompt(3, 1, 60), 60);
    const GenerateResult want_a = solo(a, 1024);
    const uint64_t ia = h.submit(a);
    for (int i = 0; i < 3; ++i) h.sched.step();
    // a's tokens and b's first token, counted in steps from b's arrival.
    int step = 0, a_tokens = 0, b_first = -1;
    a.options.on_token = nullptr;
    h.got[ia]->pieces.clear();
    BatchRequest b = request(prompt_of(300, 2), 4);
    b.options.on_token = [&](int32_t, const float*, int) {
        if (b_first < 0) b_first = step;
    };
    h.submit(b);
    while (b_first < 0 && h.sched.step()) {
        ++step;
        if (b_first < 0) a_tokens = int(h.got[ia]->pieces.size());
    }
    // b's 300 prompt tokens took about 300 / 15 steps, and a got a token in every one of them
    // (its text pieces: one per token, the fake's tokens being whole characters but for "Ã©").
    EXPECT_GE(b_first, 300 / 16);
    EXPECT_GE(a_tokens + 3, b_first) << "a stalled while b's prompt ran";
    h.sched.run_until_idle();
    expect_same(h.got[ia]->outcome.result, want_a, "a");
}

TEST(BatchScheduler, PrefixCacheSkipsRecomputation) {
    Harness h(1024, 16, 64);
    const std::vector<int32_t> doc = prompt_of(200, 9);
    BatchRequest first = request(doc, 8);
    h.submit(first);
    h.sched.run_until_idle();
    const int64_t run_after_first = h.be.tokens_run;
    // The same 200-token document with another question: 192 positions (12 whole blocks) come
    // from the cache; 8 + 10 tokens run, then the reply.
    std::vector<int32_t> second = doc;
    for (int i = 0; i < 10; ++i) second.push_back(int32_t(i));
    BatchRequest r = request(second, 5);
    const uint64_t id = h.submit(r);
    h.sched.run_until_idle();
    const GenerateResult& res = h.got[id]->outcome.result;
    EXPECT_EQ(res.evaluated_tokens, 18);
    EXPECT_EQ(h.sched.stats().prompt_reused, 192);
    const int decode_runs = int(res.tokens.size()) - (res.stop == StopReason::MaxTokens ? 1 : 0);
    EXPECT_EQ(h.be.tokens_run - run_after_first, 18 + decode_runs);
    expect_same(res, solo(r, 1024), "the cached document");
    // Reopening the first conversation with its reply: all of its full blocks are cached.
    std::vector<int32_t> again = doc;
    const auto& reply = h.got[1]->outcome.result.tokens;
    again.insert(again.end(), reply.begin(), reply.end());
    const uint64_t id3 = h.submit(request(again, 3));
    h.sched.run_until_idle();
    EXPECT_LE(h.got[id3]->outcome.result.evaluated_tokens, 16);
}

TEST(BatchScheduler, PrioritiesOrderTheQueue) {
    SchedulerOptions opt;
    opt.max_sequences = 1;
    Harness h(512, 16, 64, opt);
    auto req = [&](Priority p, uint32_t seed) {
        BatchRequest r = request(prompt_of(5, seed), 6);
        r.priority = p;
        return h.submit(r);
    };
    const uint64_t bg = req(Priority::Background, 1);
    const uint64_t api1 = req(Priority::Api, 2);
    const uint64_t inter = req(Priority::Interactive, 3);
    const uint64_t api2 = req(Priority::Api, 4);
    h.sched.run_until_idle();
    EXPECT_EQ(h.got[inter]->order, 0);
    EXPECT_EQ(h.got[api1]->order, 1);  // arrival order within a priority
    EXPECT_EQ(h.got[api2]->order, 2);
    EXPECT_EQ(h.got[bg]->order, 3);
    EXPECT_EQ(h.sched.stats().max_batch_sequences, 1);
}

// An interactive request preempts a running background one (no free slot), which then resumes
// where it was and still gives its text alone.
TEST(BatchScheduler, InteractiveRequestPreemptsBackgroundWork) {
    SchedulerOptions opt;
    opt.max_sequences = 2;
    Harness h(512, 8, 64, opt);
    std::vector<std::pair<uint64_t, BatchRequest>> bg;
    for (uint32_t i = 0; i < 2; ++i) {
        BatchRequest r = request(prompt_of(20, 10 + i), 60);
        r.priority = Priority::Background;
        bg.emplace_back(h.submit(r), r);
    }
    for (int i = 0; i < 5; ++i) h.sched.step();
    EXPECT_EQ(h.sched.running(), 2);
    BatchRequest ri = request(prompt_of(7, 30), 12);
    ri.priority = Priority::Interactive;
    const uint64_t inter = h.submit(ri);
    h.sched.step();
    EXPECT_EQ(h.sched.stats().preemptions, 1);
    h.sched.run_until_idle();
    EXPECT_EQ(h.got[inter]->order, 0);
    expect_same(h.got[inter]->outcome.result, solo(ri), "interactive");
    for (auto& [id, r] : bg) expect_same(h.got[id]->outcome.result, solo(r), "background " + std::to_string(id));
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
}

TEST(BatchScheduler, CancellingOneSequenceLeavesTheOthersAlone) {
    Harness h(512, 16, 64);
    std::vector<std::pair<uint64_t, BatchRequest>> reqs;
    for (uint32_t i = 0; i < 4; ++i) {
        BatchRequest r = request(long_reply_prompt(10, 40 + 100 * i, 40), 40);
        reqs.emplace_back(h.submit(r), r);
    }
    std::atomic<bool> flag{false};
    BatchRequest by_flag = request(long_reply_prompt(10, 50, 40), 40);
    by_flag.options.cancel = &flag;
    const uint64_t id_flag = h.submit(by_flag);
    for (int i = 0; i < 6; ++i) h.sched.step();
    h.sched.cancel(reqs[1].first);
    flag = true;
    h.sched.run_until_idle();
    for (size_t i = 0; i < reqs.size(); ++i) {
        const GenerateResult want = solo(reqs[i].second);
        const GenerateResult& res = h.got[reqs[i].first]->outcome.result;
        if (i == 1) {
            EXPECT_EQ(res.stop, StopReason::Cancelled);
            ASSERT_LT(res.tokens.size(), want.tokens.size());
            EXPECT_TRUE(std::equal(res.tokens.begin(), res.tokens.end(), want.tokens.begin()));
        } else {
            expect_same(res, want, "request " + std::to_string(i));
        }
    }
    EXPECT_EQ(h.got[id_flag]->outcome.result.stop, StopReason::Cancelled);
    // A callback that returns false stops its own request only.
    BatchRequest stopper = request(long_reply_prompt(10, 60, 40), 40);
    int calls = 0;
    stopper.on_text = [&](std::string_view) { return ++calls < 3; };
    const uint64_t ids = h.submit(stopper);
    BatchRequest other = request(prompt_of(10, 61), 30);
    const uint64_t ido = h.submit(other);
    h.sched.run_until_idle();
    EXPECT_EQ(h.got[ids]->outcome.result.stop, StopReason::Cancelled);
    EXPECT_EQ(calls, 3);
    expect_same(h.got[ido]->outcome.result, solo(other), "beside the stopped one");
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
}

TEST(BatchScheduler, RunningOutOfBlocksIsReported) {
    Harness h(512, 8, 6);  // 48 positions in all
    // A prompt longer than the whole cache can never run.
    const uint64_t big = h.submit(request(prompt_of(60, 1), 4));
    // One that fits but grows past the cache stops there, with the reason.
    BatchRequest grows = request(prompt_of(40, 2), 100);
    const uint64_t g = h.submit(grows);
    h.sched.run_until_idle();
    EXPECT_EQ(h.got[big]->finished, 1);
    EXPECT_NE(h.got[big]->outcome.error.find("KV cache is full"), std::string::npos) << h.got[big]->outcome.error;
    const GenerateResult want = solo(grows);
    const BatchOutcome& o = h.got[g]->outcome;
    if (want.tokens.size() + 40 > 48) {
        EXPECT_EQ(o.result.stop, StopReason::ContextFull);
        EXPECT_NE(o.error.find("KV cache is full"), std::string::npos);
        EXPECT_EQ(o.result.tokens.size(), size_t(48 - 40 + 1));  // the last sampled one never ran
        EXPECT_TRUE(std::equal(o.result.tokens.begin(), o.result.tokens.end(), want.tokens.begin()));
    } else {
        expect_same(o.result, want, "short reply");
    }
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
}

// A device failure fails the sequences of that step with its message; later ones run.
TEST(BatchScheduler, AFailedStepFailsItsSequencesOnly) {
    Harness h(512, 16, 64);
    const uint64_t a = h.submit(request(prompt_of(10, 1), 10));
    h.be.fail_next = true;
    h.sched.step();
    EXPECT_EQ(h.got[a]->finished, 1);
    EXPECT_NE(h.got[a]->outcome.error.find("device failed"), std::string::npos);
    BatchRequest r = request(prompt_of(10, 2), 10);
    const uint64_t b = h.submit(r);
    h.sched.run_until_idle();
    expect_same(h.got[b]->outcome.result, solo(r), "after the failure");
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
}

TEST(BatchScheduler, BadRequestsAreRefusedAtSubmit) {
    Harness h(64, 16, 8);
    EXPECT_THROW(h.sched.submit(request({}, 4)), Error);
    EXPECT_THROW(h.sched.submit(request(prompt_of(65, 1), 4)), Error);  // longer than the context
    EXPECT_THROW(h.sched.submit(request({1, kFakeVocab}, 4)), Error);
    FakeSeqBackend one(64, 16, 4, 64, false);
    EXPECT_THROW(BatchScheduler(one, fake_tok()), Error);
    EXPECT_FALSE(h.sched.step());
}

// 1,000 requests of random lengths, priorities and sampling on a small pool (so sequences are
// preempted and cached blocks evicted), a quarter cancelled at random moments: every request
// finishes exactly once, the uncancelled ones as alone, and every block is back.
TEST(BatchScheduler, ThousandRandomRequestsWithCancelsReturnEveryBlock) {
    SchedulerOptions opt;
    opt.max_sequences = 8;
    opt.step_tokens = 48;
    Harness h(256, 8, 40, opt);
    std::mt19937 rng(11);
    SubmittedRequests reqs;
    const RandomLoad load{.total = 1000, .max_burst = 4, .cancel_one_in = 4, .cancel_within = 12};
    ASSERT_NO_FATAL_FAILURE(run_random_requests(h, rng, load, [](std::mt19937& rng, int i) {
        std::vector<int32_t> p = prompt_of(int(1 + rng() % 60), uint32_t(i));
        if (rng() % 3 == 0) p = prompt_of(int(16 + rng() % 30), 5);  // shared prefixes
        BatchRequest r = request(p, int(rng() % 30), rng() % 2 ? 0.0f : 0.8f, rng());
        r.priority = Priority(rng() % 3);
        return r;
    }, &reqs));
    h.sched.run_until_idle();
    int cancelled = 0, compared = 0;
    for (auto& [id, r] : reqs) {
        const Got& g = *h.got[id];
        ASSERT_EQ(g.finished, 1) << "request " << id;
        EXPECT_TRUE(g.outcome.error.empty()) << g.outcome.error;
        const GenerateResult& res = g.outcome.result;
        if (res.stop == StopReason::Cancelled) {
            ++cancelled;
            expect_cancelled_prefix(res, solo(r, 256), id);
        } else if (compared++ < 300) {  // Session alone on the rest (the first 300 of them)
            expect_same(res, solo(r, 256), "request " + std::to_string(id));
        }
    }
    EXPECT_GT(cancelled, 100);
    EXPECT_GT(h.sched.stats().preemptions, 0);
    EXPECT_GT(h.sched.stats().prompt_reused, 0);
    expect_every_block_back(h);
}

TEST(BatchScheduler, RunsOnItsThreadWhileOthersSubmit) {
    Harness h(512, 16, 64);
    std::thread worker([&] { h.sched.run(); });
    std::vector<std::pair<uint64_t, BatchRequest>> reqs;
    std::atomic<int> done{0};
    for (uint32_t i = 0; i < 6; ++i) {
        BatchRequest r = request(prompt_of(8, 70 + i), 20);
        r.on_finished = [&](const BatchOutcome&) { done++; };
        // Submitted straight to the scheduler from this thread (the harness's map is not shared).
        reqs.emplace_back(h.sched.submit(r), r);
    }
    for (int i = 0; i < 2000 && done < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(done.load(), 6);
    // Running at shutdown: finished as cancelled, not lost. Its first token waits until
    // shutdown() has been called, so it cannot finish before (the fake backend runs 400 steps
    // in well under a millisecond: a plain submit-then-shutdown raced).
    std::atomic<int> late{0};
    std::atomic<bool> shut{false};
    BatchRequest r = request(long_reply_prompt(8, 99, 400), 400);  // no early end token
    r.options.on_token = [&](int32_t, const float*, int) {
        while (!shut.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    };
    r.on_finished = [&](const BatchOutcome& o) { late += o.result.stop == StopReason::Cancelled ? 1 : 100; };
    h.sched.submit(r);
    h.sched.shutdown();
    shut = true;
    worker.join();
    EXPECT_EQ(late.load(), 1);
}

// The real engine: stories260K sequences of different lengths joining and leaving a batch,
// prompts split across steps, four sharing a 100-odd-token prefix (adopted from the prefix cache
// by the later ones), then a second wave of the same prompts (adopted from finished sequences):
// each gives the greedy text Session gives alone.
TEST(BatchSchedulerModel, Stories260KSequencesTogetherMatchEachAlone) {
    LD_REQUIRE_SHARED("models/stories260K.gguf");
    LoadedModel solo_m = load(shared_path("models/stories260K.gguf"));
    BackendOptions o;
    o.n_threads = 2;
    o.n_ctx = 512;
    o.kv_positions = 12 * 512;
    o.tuning = Tuning::from_env();
    std::unique_ptr<Backend> be = create_cpu_backend(*solo_m.model, o);
    SchedulerOptions so;
    so.step_tokens = 32;  // prompts split across steps
    BatchScheduler sched(*be, *solo_m.tok, so);
    const std::string story =
        "Once upon a time, there was a little girl named Lily. She liked to play outside in the park with "
        "her friends. One day, she saw a big red ball under a tree. She ran to the ball and picked it up. "
        "Her mom said, ";
    const std::vector<std::string> prompts = {
        "Once upon a time", "The cat", story + "\"Lily, be careful!\"", "Lily wanted to play with her ball, but",
        story + "\"What a nice ball!\"", "One day, a big dog", story + "\"Let's go home.\" Lily", "The sun",
        "Tom and Sue went to the sea. They saw", story, "There was a little bird who could not fly. Every day",
        "A boy"};
    const int n = int(prompts.size());
    std::vector<std::string> texts(static_cast<size_t>(n));
    std::vector<int> finished(static_cast<size_t>(n), 0);
    auto submit = [&](int i) {
        BatchRequest r;
        r.prompt = tokenize_prompt(*solo_m.tok, prompts[size_t(i)]);
        r.options.max_tokens = 30 + 9 * i;
        r.options.sampling.temperature = 0;
        r.on_finished = [&, i](const BatchOutcome& out) {
            texts[size_t(i)] = out.result.text;
            finished[size_t(i)]++;
            EXPECT_TRUE(out.error.empty()) << out.error;
        };
        sched.submit(std::move(r));
    };
    for (int i = 0; i < n; ++i) {
        submit(i);
        for (int k = 0; k < i % 4; ++k) sched.step();  // some join while others decode
    }
    sched.run_until_idle();
    EXPECT_GE(sched.stats().max_batch_sequences, 6);
    EXPECT_GE(sched.stats().prompt_reused, 64);  // the shared story prefix: at least one block
    std::vector<std::string> alone(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        ASSERT_EQ(finished[size_t(i)], 1);
        alone[size_t(i)] = greedy(solo_m, tokenize_prompt(*solo_m.tok, prompts[size_t(i)]), 30 + 9 * i);
        EXPECT_EQ(texts[size_t(i)], alone[size_t(i)]) << "prompt \"" << prompts[size_t(i)] << "\"";
    }
    // Again: the prompts' blocks (and their replies') come from the cache.
    const int64_t reused = sched.stats().prompt_reused;
    for (int i : {2, 4, 9}) submit(i);
    sched.run_until_idle();
    EXPECT_GE(sched.stats().prompt_reused - reused, 3 * 64);
    for (int i : {2, 4, 9}) {
        EXPECT_EQ(finished[size_t(i)], 2);
        EXPECT_EQ(texts[size_t(i)], alone[size_t(i)]) << "again: prompt \"" << prompts[size_t(i)] << "\"";
    }
    EXPECT_EQ(sched.pool().blocks_in_use(), 0);
}

}  // namespace
}  // namespace ld::test
