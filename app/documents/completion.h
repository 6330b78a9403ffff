#pragma once
// What the summarizer needs from a model, and nothing more: a context size, a token counter
// and a blocking chat completion. The CLI and tests implement it over a Session directly
// (SessionCompletion); the app over the engine thread (EngineCompletion), so the same
// summarizer serves both without knowing which thread generates.
#include <QString>
#include <atomic>
#include <functional>

namespace ld::documents {

struct CompletionRequest {
    QString system;
    QString user;
    int maxTokens = 256;
};

struct CompletionResult {
    QString text;
    bool cancelled = false;
    QString error;          // non-empty: the request failed (the text may be partial)
    int promptTokens = 0;
    int generatedTokens = 0;
};

class Completion {
public:
    virtual ~Completion() = default;
    // Tokens the model sees at once (prompt and reply together).
    virtual int contextSize() const = 0;
    // Tokens of plain text (no BOS, no template).
    virtual int countTokens(const QString& text) const = 0;
    // Tokens the chat template adds around a system and a user message (markers, BOS,
    // generation prompt), so callers can budget prompts exactly.
    virtual int templateOverhead() const = 0;
    // Blocks until the reply is complete, cancelled or failed. `onText` receives pieces as
    // they are generated (on the calling thread) and may be empty.
    virtual CompletionResult complete(const CompletionRequest& request,
                                      const std::function<void(const QString&)>& onText,
                                      const std::atomic<bool>* cancel) = 0;
};

}  // namespace ld::documents
