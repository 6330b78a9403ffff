#pragma once
// Completion over the engine on the calling thread: llamadesk-cli summarize and tests.
// One Session, one call at a time; or, opened with parallel > 1 on a backend with sequences, a
// BatchScheduler on a thread of its own: complete() may then be called from several threads at
// once (the summarizer's map steps), each call a sequence of the same batched steps, its text
// streamed back to its own thread.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "app/documents/completion.h"
#include "inference/backend/backend.h"
#include "inference/chat/chat_format.h"
#include "inference/sampler/sampler.h"

namespace ld {
struct Model;
class Tokenizer;
class Session;
class BatchScheduler;
struct GenerateOptions;
}  // namespace ld

namespace ld::documents {

class SessionCompletion final : public Completion {
public:
    // Loads the model and its backend. Throws ld::Error (missing file, no tokenizer, ...).
    // parallel > 1: calls run together (the KV cache then holds `parallel` contexts); a backend
    // without sequences runs them one at a time (parallel() says 1).
    static std::unique_ptr<SessionCompletion> open(const std::string& modelPath, BackendOptions options, int parallel = 1);
    ~SessionCompletion() override;

    int contextSize() const override;
    int countTokens(const QString& text) const override;
    int templateOverhead() const override { return overhead_; }
    CompletionResult complete(const CompletionRequest& request, const std::function<void(const QString&)>& onText,
                              const std::atomic<bool>* cancel) override;

    // Summaries want little randomness; tests set a seed for repeatable runs.
    SamplerParams& sampling() { return sampling_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    int parallel() const { return scheduler_ ? parallel_ : 1; }
    // Batched mode: most of this completion's calls that ran in one step (for tests).
    int maxBatchSequences() const;

private:
    SessionCompletion() = default;
    CompletionResult completeBatched(const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                     const std::function<void(const QString&)>& onText);
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Session> session_;
    std::unique_ptr<BatchScheduler> scheduler_;  // batched mode, run on thread_
    std::thread thread_;
    std::mutex sessionMutex_;  // one call at a time on the Session, whatever the caller does
    int parallel_ = 1;
    ChatTemplate template_ = ChatTemplate::Llama3;
    SamplerParams sampling_;
    int overhead_ = 0;
};

// The sampler settings summaries use: near-greedy with a mild repetition penalty, so small
// models do not loop.
SamplerParams summarySampling();

}  // namespace ld::documents
