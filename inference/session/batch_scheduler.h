#pragma once
// Continuous batching: many generations over one backend (backend.h SeqBatch) with a paged KV
// cache (kv_pool.h). Each step is one forward pass holding one decode token of every running
// sequence plus prompt chunks of the others, up to a token budget, so a long prompt does not
// stall the sequences that are decoding. Sequences join and leave between steps.
//
// Each request is a Session::generate() of its own: its own Sampler, the same ReplyStream (valid
// UTF-8, stop strings, end of generation) and the same stop rules (token limit, a full context,
// cancellation), so a sequence's greedy text in a batch is its text alone.
//
// Speculative decoding (speculative.h): a request with a drafter puts its last token and up to
// draft_max drafted tokens (the length adapting per sequence, DraftLength) into the step, with
// logits for all of them, and keeps what DraftJudge accepts (the rule Session uses): greedy text
// is the same as without drafting, sampled text follows the model's distribution. Its KV
// sequence is then rolled back past the first rejection (KvPool::truncate), so the prefix cache
// only ever holds accepted positions. Drafted tokens count against the step's budget: every
// decoding sequence gets its token first, drafts get what is left (down to plain decoding when
// the step is full), and drafts never preempt another sequence for blocks. Several requests may
// share one drafter (a DraftModel rewinds its one cache to each history: correct, slower when
// they alternate); the scheduler calls drafters on its own thread only. A sampled request's
// acceptance draws are its own (seeded), but a shared DraftModel draws its drafts from one
// generator, so a seeded sampled run repeats exactly only in the same batch.
//
// Priorities: Interactive (the GUI's chat) before Api (in arrival order) before Background
// (document map steps): waiting requests start in that order, prompt chunks get the budget in
// that order, and when sequence slots or KV blocks run out a running sequence of a lower
// priority (the latest to arrive first) is preempted: its blocks go back (its full blocks stay in
// the prefix cache, so resuming mostly re-adopts them) and it waits to resume where it was.
// A request that cannot fit the KV cache even alone finishes with an error.
//
// Threads: submit() and cancel() may be called from any thread; step()/run() run on the caller's
// thread, and every callback of every request is called there.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "inference/session/kv_pool.h"
#include "inference/session/session.h"

namespace ld {

class Backend;
class Tokenizer;

enum class Priority { Interactive = 0, Api = 1, Background = 2 };
const char* priority_name(Priority p);

struct BatchOutcome {
    uint64_t id = 0;
    GenerateResult result;  // as Session::generate() fills it; ttft_ms counts from submit()
    std::string error;      // non-empty: the request failed (result.stop is then Cancelled)
};

struct BatchRequest {
    std::vector<int32_t> prompt;
    // max_tokens, sampling, stop_strings, cancel, on_token, drafter and draft_max as for
    // Session::generate() (result.drafted / accepted / verify_passes are filled the same way).
    GenerateOptions options;
    Priority priority = Priority::Api;
    TextCallback on_text;                                   // may be null
    std::function<void(const BatchOutcome&)> on_finished;   // called exactly once; may be null
};

struct SchedulerOptions {
    int max_sequences = 16;  // running at once
    int step_tokens = 0;     // tokens per forward step (decode tokens + prompt chunks); 0 = batch_size()
};

struct SchedulerStats {
    int64_t steps = 0;            // forward passes
    int64_t tokens_run = 0;       // tokens in them
    int64_t prompt_reused = 0;    // prompt positions adopted from the prefix cache
    int64_t preemptions = 0;
    int64_t drafted = 0;          // speculative: tokens drafted into steps, and of them accepted
    int64_t accepted = 0;
    int max_batch_sequences = 0;  // most sequences in one step
};

class BatchScheduler {
public:
    // Throws ld::Error when the backend does not run SeqBatch steps.
    BatchScheduler(Backend& backend, const Tokenizer& tokenizer, SchedulerOptions options = {});
    ~BatchScheduler();
    BatchScheduler(const BatchScheduler&) = delete;
    BatchScheduler& operator=(const BatchScheduler&) = delete;

    // Queues a request; returns its id. Thread-safe. Throws ld::Error for a request that can
    // never run (an empty prompt, one longer than the context, token ids outside the
    // vocabulary, a drafter with a draft_max outside 1..16).
    uint64_t submit(BatchRequest request);
    // Stops a request (finishes as Cancelled at the next step); unknown or finished ids are
    // ignored. Thread-safe.
    void cancel(uint64_t id);

    // One forward step (admitting, cancelling and finishing requests around it). False when
    // nothing is left to do.
    bool step();
    // Steps until nothing is left.
    void run_until_idle();
    // Steps until shutdown(), sleeping while there is nothing to do; on shutdown every request
    // still queued or running finishes as Cancelled.
    void run();
    void shutdown();  // thread-safe

    // Most prompt tokens one step takes besides its decode tokens (1 ... step_tokens), so an
    // interactive caller can keep steps short: a stop, a new request and the decoding sequences
    // wait for the step that runs (the app sizes it to ~50 ms from the measured speed). Only the
    // stepping thread calls it.
    void set_prompt_budget(int tokens) { prompt_budget_ = std::clamp(tokens, 1, opt_.step_tokens); }
    int prompt_budget() const { return prompt_budget_; }

    const SchedulerStats& stats() const { return stats_; }
    KvPool& pool() { return pool_; }
    int running() const { return int(running_.size()); }
    int waiting() const { return int(waiting_.size()); }

private:
    struct Seq;
    struct Chunk {
        Seq* seq;
        int n;
        bool verify;  // a drafting sequence's last token and n - 1 drafted ones, logits for all
    };

    void take_inbox();
    void finish(Seq& s);                  // calls back and returns the blocks
    void finish_where(std::vector<std::unique_ptr<Seq>>& list, bool (*pred)(const Seq&));
    void cancel_all();                    // every request not finished ends as Cancelled
    bool admit(Seq& s);                   // opens its KV sequence if it fits (false: nothing held)
    void admit_waiting();
    void preempt(Seq& s);                 // running -> waiting, blocks returned
    Seq* worst_running(const Seq& better_than);  // the worst outside this step's batch, if worse
    // Reserves n positions for s, preempting worse sequences outside the batch when blocks run
    // out (when `may_preempt`). False when that is not enough.
    bool make_room(Seq& s, int n, bool may_preempt = true);
    // Asks s's drafter for up to k tokens into s.draft; false (s ended with the error) when it fails.
    bool draft_for(Seq& s, int k);
    std::vector<Chunk> plan_step();
    void run_step(const std::vector<Chunk>& batch);
    void after_logits(Seq& s, const float* logits);
    // A verification pass's rows (one per batch token): accept, stream, roll the KV back.
    void after_verify(Seq& s, const float* rows);

    Backend& backend_;
    const Tokenizer& tok_;
    SchedulerOptions opt_;
    int prompt_budget_ = 1 << 30;  // clamped to step_tokens in the constructor
    KvPool pool_;
    SchedulerStats stats_;
    std::vector<std::unique_ptr<Seq>> running_, waiting_;

    std::mutex mutex_;  // guards the inbox, the cancel list and stop_
    std::condition_variable wake_;
    std::vector<std::unique_ptr<Seq>> inbox_;
    std::vector<uint64_t> cancels_;
    bool stop_ = false;
    uint64_t next_id_ = 1;

    // Scratch of one step.
    std::vector<int32_t> tokens_, positions_, seq_index_;
    std::vector<uint8_t> want_;
    std::vector<SeqView> views_;
    std::vector<float> logits_;
    std::vector<int32_t> commit_, kept_;
};

}  // namespace ld
