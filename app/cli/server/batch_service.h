#pragma once
// `llamadesk-cli serve --parallel N` on a backend that runs SeqBatch steps: the API's jobs are
// requests of one BatchScheduler (continuous batching over the paged KV cache), N of them decoding
// together, the rest waiting in the scheduler in arrival order (all are Priority::Api). The
// scheduler already has each sequence's sampler, stop strings and stop rules; this class only
// turns a GenJob into a BatchRequest and the request's callbacks back into the job's pieces.
//
// Steps are kept near 50 ms as in the app (prompt_budget.h): a long prompt is read in chunks
// sized from the measured speed, so the requests that are decoding get a token every short step
// instead of waiting for a whole step_tokens chunk.
//
// Threads: submit() and cancel() from the HTTP threads; every callback runs on the scheduler's
// own thread (started here), which is the only one that touches a running job's output state.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "app/cli/server/generation_service.h"
#include "inference/session/batch_scheduler.h"

namespace ld {
class Backend;
}

namespace ld::server {

class BatchedGeneration final : public GenerationService {
public:
    // parallel: sequences decoding at once; capacity: jobs admitted at once, running and waiting
    // together (past it submit() says no and the client gets 503). `served` describes the model
    // the backend runs (its tokenizer is the scheduler's). Throws ld::Error when the backend does
    // not run SeqBatch steps. `draft`: every job drafts with it, on the scheduler's thread (one
    // drafter for all running requests; see cmd_serve.cpp for what sharing a draft model costs).
    BatchedGeneration(Backend& backend, ServedModel served, size_t parallel, size_t capacity, DraftConfig draft = {});
    ~BatchedGeneration() override;
    BatchedGeneration(const BatchedGeneration&) = delete;
    BatchedGeneration& operator=(const BatchedGeneration&) = delete;

    ServedModel model() const override { return served_; }
    ServiceFeatures features() const override { return {}; }  // everything, per request
    bool submit(const std::shared_ptr<GenJob>& job) override;
    // The job's cancel flag: the scheduler checks it before every step, for waiting and running
    // sequences alike, so only this job's sequence ends (at the next step) and its blocks go back.
    void cancel(const std::shared_ptr<GenJob>& job) override;
    // Refuses new jobs; every job still waiting or running ends as cancelled (server shutdown).
    void shutdown();

private:
    void run();  // the worker: steps, resizing the prompt budget after each; sleeps when idle

    const ServedModel served_;
    const size_t capacity_;
    const DraftConfig draft_;
    BatchScheduler scheduler_;
    std::mutex mu_;
    std::condition_variable wake_;  // a job was submitted, or shutdown()
    size_t admitted_ = 0;    // submitted, not finished
    uint64_t submitted_ = 0; // jobs ever handed to the scheduler (the worker sleeps until it changes)
    bool stop_ = false;
    std::thread worker_;     // run()
};

}  // namespace ld::server
