#pragma once
// Completion over the app's engine thread (EngineHost/EngineWorker), for the summarizer running
// on a worker thread: each complete() queues a request on the UI thread's EngineHost and blocks
// the calling (worker) thread — never the UI thread — until it finishes, streaming the text
// back to the caller's thread. Token counting uses the model's own tokenizer, loaded from the
// GGUF file's vocabulary (the engine's tokenizer belongs to the engine thread).
#include <QPointer>
#include <memory>

#include "app/documents/completion.h"

namespace ld {
class Tokenizer;
}
namespace ld::chat {
class EngineHost;
}

namespace ld::documents {

class EngineCompletion final : public Completion {
public:
    // Reads the vocabulary of `modelPath` (metadata only). Throws ld::Error.
    // `contextSize`: the loaded model's KV size (EngineHost::contextSize(), read on the UI thread).
    EngineCompletion(chat::EngineHost* engine, const QString& modelPath, int contextSize);
    ~EngineCompletion() override;

    int contextSize() const override { return contextSize_; }
    int countTokens(const QString& text) const override;
    int templateOverhead() const override { return overhead_; }
    CompletionResult complete(const CompletionRequest& request, const std::function<void(const QString&)>& onText,
                              const std::atomic<bool>* cancel) override;

private:
    QPointer<chat::EngineHost> engine_;
    std::unique_ptr<Tokenizer> tokenizer_;
    int contextSize_ = 0;
    int overhead_ = 0;
};

}  // namespace ld::documents
