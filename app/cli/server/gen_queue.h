#pragma once
// `llamadesk-cli serve`'s GenerationService: one worker thread owns the Session and runs one
// request at a time; the rest wait in a bounded FIFO. HTTP threads only submit jobs and drain
// their output, so a slow client never holds the engine (a write that fails sets the job's cancel flag, which the
// session checks before every token).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "app/cli/server/generation_service.h"

namespace ld::server {

class GenerationQueue final : public GenerationService {
public:
    // capacity: jobs admitted at once, running and waiting together. `served` describes the
    // session's model (its tokenizer is the one the session uses). `draft`: every job drafts
    // with it (one job runs at a time, so one drafter serves them all).
    GenerationQueue(Session& session, ServedModel served, size_t capacity, DraftConfig draft = {});
    ~GenerationQueue() override;
    GenerationQueue(const GenerationQueue&) = delete;
    GenerationQueue& operator=(const GenerationQueue&) = delete;

    ServedModel model() const override { return served_; }
    ServiceFeatures features() const override { return {}; }  // everything
    bool submit(const std::shared_ptr<GenJob>& job) override;
    void cancel(const std::shared_ptr<GenJob>& job) override;
    // Refuses new jobs, cancels the running one and ends the waiting ones (server shutdown).
    void shutdown();

private:
    void run();
    void execute(GenJob& job);

    Session& session_;
    const ServedModel served_;
    const size_t capacity_;
    const DraftConfig draft_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<GenJob>> waiting_;
    std::shared_ptr<GenJob> current_;  // the running job
    bool stop_ = false;
    std::thread worker_;
};

// log-softmax of `logits` at `id`, and the `top` most likely tokens with theirs.
TokenLogprob token_logprob(const Tokenizer& tok, const float* logits, int n_vocab, int32_t id, int top);

// A generation's callbacks turned into the job's pieces, for both services (one request at a
// time here, many in BatchedGeneration): each sampled token's logprobs (when the job asks for
// them) travel with the text they produced. (A chat reply's leading whitespace is dropped by the
// engine: GenerateOptions::trim_leading_space.) Used on the thread that generates, one per job.
class JobOutput {
public:
    JobOutput(GenJob& job, const Tokenizer& tok) : job_(job), tok_(tok) {}
    // GenerateOptions::on_token (only set when job.logprobs_top >= 0).
    void token(int32_t id, const float* logits, int n_vocab);
    // The TextCallback: false once the client is gone.
    bool text(std::string_view text);
    // At the end, before job.end(): tokens whose text never came (a chat reply of whitespace
    // alone, which the engine drops) still get their logprobs, in a last piece without text, so
    // every generated token is listed. The tokens of a stop string are not part of the reply.
    void finish(const GenerateResult& res);
    // `options` with this job's cancel flag and callbacks (the object must outlive the generation).
    GenerateOptions options();

private:
    GenJob& job_;
    const Tokenizer& tok_;
    std::vector<TokenLogprob> pending_;  // tokens whose text has not been streamed yet
};

}  // namespace ld::server
