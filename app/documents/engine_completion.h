#pragma once
// Completion over the app's engine thread (EngineHost/EngineWorker), for the summarizer running
// on a worker thread: each complete() queues a request on the UI thread's EngineHost and blocks
// the calling (worker) thread — never the UI thread — until it finishes, streaming the text
// back to the caller's thread. Token counting uses the loaded model's own tokenizer
// (EngineHost::modelInfo().tokenizer), shared with the engine: the file is not read again.
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
    // `tokenizer` and `contextSize`: the loaded model's (EngineHost::modelInfo(), read on the UI
    // thread). Throws ld::Error when there is no tokenizer (no model loaded).
    EngineCompletion(chat::EngineHost* engine, std::shared_ptr<const Tokenizer> tokenizer, int contextSize);
    ~EngineCompletion() override;

    int contextSize() const override { return contextSize_; }
    int countTokens(const QString& text) const override;
    int templateOverhead() const override { return overhead_; }
    CompletionResult complete(const CompletionRequest& request, const std::function<void(const QString&)>& onText,
                              const std::atomic<bool>* cancel) override;

private:
    QPointer<chat::EngineHost> engine_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    int contextSize_ = 0;
    int overhead_ = 0;
};

}  // namespace ld::documents
