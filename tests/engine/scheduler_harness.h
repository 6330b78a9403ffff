#pragma once
// What the batch scheduler tests on the fake paged backend (fake_seq_backend.h) share
// (test_batch_scheduler.cpp, test_scheduler_speculative.cpp): the fake's tokenizer, random
// prompts, a harness that records what each request streamed and got back, the comparison with
// Session alone, and the random-requests loop (submit, cancel when due, step, pool check), each
// test keeping its own mix of requests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fake_seq_backend.h"
#include "inference/session/batch_scheduler.h"
#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::test {

inline const Tokenizer& fake_tok() {
    static const std::unique_ptr<Tokenizer> tok = Tokenizer::create(fake_vocab());
    return *tok;
}

// n tokens among the 62 letters and digits, a pure function of the seed.
inline std::vector<int32_t> prompt_of(int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<int32_t> p(static_cast<size_t>(n));
    for (int32_t& t : p) t = int32_t(rng() % 62);
    return p;
}

// What one request streamed and got back.
struct Got {
    std::string streamed;
    std::vector<std::string> pieces;
    BatchOutcome outcome;
    int finished = 0;
    int order = -1;  // among all finished callbacks
};

// A scheduler on a fake of its own; submit() records each request's stream and outcome in `got`
// (after the request's own on_text, which still decides whether to go on).
struct Harness {
    FakeSeqBackend be;
    BatchScheduler sched;
    std::map<uint64_t, std::shared_ptr<Got>> got;
    int finished = 0;
    Harness(int n_ctx, int block, int n_blocks, SchedulerOptions opt = {}, int batch = 64)
        : be(n_ctx, block, n_blocks, batch), sched(be, fake_tok(), opt) {}

    uint64_t submit(BatchRequest r) {
        auto g = std::make_shared<Got>();
        auto user_text = r.on_text;
        r.on_text = [g, user_text](std::string_view s) {
            g->streamed += s;
            g->pieces.emplace_back(s);
            return user_text ? user_text(s) : true;
        };
        r.on_finished = [this, g](const BatchOutcome& o) {
            g->outcome = o;
            g->finished++;
            g->order = finished++;
        };
        const uint64_t id = sched.submit(std::move(r));
        got[id] = g;
        return id;
    }
    const GenerateResult& result(uint64_t id) { return got[id]->outcome.result; }
};

inline void expect_same(const GenerateResult& got, const GenerateResult& want, const std::string& what) {
    EXPECT_EQ(got.tokens, want.tokens) << what;
    EXPECT_EQ(got.text, want.text) << what;
    EXPECT_EQ(got.stop, want.stop) << what << ": " << stop_reason_name(got.stop) << " vs " << stop_reason_name(want.stop);
}

// A cancelled request's tokens must be the start of what it gives alone (`want`).
inline void expect_cancelled_prefix(const GenerateResult& got, const GenerateResult& want, uint64_t id) {
    EXPECT_TRUE(got.tokens.size() <= want.tokens.size() &&
                std::equal(got.tokens.begin(), got.tokens.end(), want.tokens.begin()))
        << "cancelled request " << id << " went astray before its cancel";
}

// Once nothing runs: the pool is consistent and every block is free or idle in the prefix cache.
inline void expect_every_block_back(Harness& h) {
    h.sched.pool().check();
    EXPECT_EQ(h.sched.pool().blocks_in_use(), 0);
    EXPECT_EQ(h.sched.pool().free_blocks() + h.sched.pool().idle_cached_blocks(), h.be.kv_blocks());
}

// The shape of run_random_requests' load: `total` requests, submitted in bursts of
// 0 .. max_burst - 1 before each step; one in `cancel_one_in` of them is cancelled
// 0 .. cancel_within - 1 steps after its submission.
struct RandomLoad {
    int total = 0;
    int max_burst = 2;
    int cancel_one_in = 4;
    int cancel_within = 10;
};

using SubmittedRequests = std::vector<std::pair<uint64_t, BatchRequest>>;

// Submits load.total requests made by make(rng, index) and steps h's scheduler until none runs or
// waits, cancelling the due ones before each step and checking the pool after each (a fatal
// failure: call it inside ASSERT_NO_FATAL_FAILURE). Appends each request with its id to *reqs,
// in submission order. `make` draws from the same rng, so a seed fixes the whole run.
template <class Make>
void run_random_requests(Harness& h, std::mt19937& rng, const RandomLoad& load, Make make, SubmittedRequests* reqs) {
    std::map<uint64_t, int> due;  // request id -> the step it is cancelled before
    int submitted = 0, steps = 0;
    while (submitted < load.total || h.sched.running() + h.sched.waiting() > 0) {
        for (int k = int(rng() % unsigned(load.max_burst)); k > 0 && submitted < load.total; --k, ++submitted) {
            BatchRequest r = make(rng, submitted);
            const uint64_t id = h.submit(r);
            if (rng() % unsigned(load.cancel_one_in) == 0) due[id] = steps + int(rng() % unsigned(load.cancel_within));
            reqs->emplace_back(id, std::move(r));
        }
        for (auto it = due.begin(); it != due.end();) {
            if (it->second <= steps) {
                h.sched.cancel(it->first);
                it = due.erase(it);
            } else {
                ++it;
            }
        }
        h.sched.step();
        ++steps;
        ASSERT_NO_THROW(h.sched.pool().check()) << "after step " << steps;
    }
}

}  // namespace ld::test
