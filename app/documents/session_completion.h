#pragma once
// Completion over an engine Session on the calling thread: llamadesk-cli summarize and tests.
#include <memory>
#include <string>

#include "app/documents/completion.h"
#include "inference/backend/backend.h"
#include "inference/chat/chat_format.h"
#include "inference/sampler/sampler.h"

namespace ld {
struct Model;
class Tokenizer;
class Session;
}  // namespace ld

namespace ld::documents {

class SessionCompletion final : public Completion {
public:
    // Loads the model and its backend. Throws ld::Error (missing file, no tokenizer, ...).
    static std::unique_ptr<SessionCompletion> open(const std::string& modelPath, BackendOptions options);
    ~SessionCompletion() override;

    int contextSize() const override;
    int countTokens(const QString& text) const override;
    int templateOverhead() const override { return overhead_; }
    CompletionResult complete(const CompletionRequest& request, const std::function<void(const QString&)>& onText,
                              const std::atomic<bool>* cancel) override;

    // Summaries want little randomness; tests set a seed for repeatable runs.
    SamplerParams& sampling() { return sampling_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }

private:
    SessionCompletion() = default;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tokenizer_;
    std::unique_ptr<Backend> backend_;
    std::unique_ptr<Session> session_;
    ChatTemplate template_ = ChatTemplate::Llama3;
    SamplerParams sampling_;
    int overhead_ = 0;
};

// The sampler settings summaries use: near-greedy with a mild repetition penalty, so small
// models do not loop.
SamplerParams summarySampling();

}  // namespace ld::documents
