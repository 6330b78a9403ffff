#pragma once
// The generation slot: one worker thread owns the Session and runs one request at a time; the
// rest wait in a bounded FIFO. HTTP threads only submit jobs and drain their output, so a slow
// client never holds the engine (a write that fails sets the job's cancel flag, which the
// session checks before every token).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "app/cli/server/api_format.h"
#include "inference/session/session.h"

namespace ld::server {

struct GenJob {
    // Input, set before submit().
    std::vector<int32_t> prompt;
    GenerateOptions options;  // cancel and on_token are set by the queue
    int logprobs_top = -1;    // -1: no logprobs; else how many alternatives per token
    // Chat replies drop their leading whitespace, as `generate --chat` and the app show them (a
    // SentencePiece model starts the reply with the space that follows "[/INST]").
    bool trim_leading = false;

    std::atomic<bool> cancel{false};

    // Output: written by the worker, read by the HTTP thread under `mu`.
    struct Piece {
        std::string text;
        std::vector<TokenLogprob> logprobs;  // the tokens that produced this text
    };
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Piece> pieces;
    bool finished = false;
    GenerateResult result;
    std::string error;  // the engine failed (result is partial)
};

class GenerationQueue {
public:
    // capacity: jobs admitted at once, running and waiting together.
    GenerationQueue(Session& session, const Tokenizer& tok, size_t capacity);
    ~GenerationQueue();
    GenerationQueue(const GenerationQueue&) = delete;
    GenerationQueue& operator=(const GenerationQueue&) = delete;

    // False when full: the caller answers 503.
    bool submit(const std::shared_ptr<GenJob>& job);
    // The client is gone: a waiting job leaves the queue, a running one stops at the next token.
    void cancel(const std::shared_ptr<GenJob>& job);
    // Refuses new jobs, cancels the running one and ends the waiting ones (server shutdown).
    void shutdown();

private:
    void run();
    void execute(GenJob& job);

    Session& session_;
    const Tokenizer& tok_;
    const size_t capacity_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<GenJob>> waiting_;
    std::shared_ptr<GenJob> current_;  // the running job
    bool stop_ = false;
    std::thread worker_;
};

// log-softmax of `logits` at `id`, and the `top` most likely tokens with theirs.
TokenLogprob token_logprob(const Tokenizer& tok, const float* logits, int n_vocab, int32_t id, int top);

}  // namespace ld::server
