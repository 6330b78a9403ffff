#pragma once
// The documents' Completion over a remote engine, so the summarizer runs unchanged on a model
// bigger than this machine. A remote model has no local tokenizer: tokens are counted by the
// server's /tokenize where it has one (cached), else estimated conservatively (over-counting
// English, so chunks never overflow the context). The context is the server's max_model_len
// where it reports one. Thread-safe: the summarizer may send map steps concurrently.
#include <QHash>
#include <QString>
#include <memory>
#include <mutex>

#include "app/documents/completion.h"
#include "app/remote/remote_client.h"

namespace ld::remote {

struct RemoteCompletionOptions {
    int contextSize = 0;         // 0: the server's max_model_len, else 4096
    double temperature = 0.2;    // as local summaries
    std::optional<qint64> seed;
    bool useServerTokenizer = true;
};

class RemoteCompletion final : public documents::Completion {
public:
    // Checks that the model is listed by the server; nullptr with *error otherwise.
    static std::unique_ptr<RemoteCompletion> open(const RemoteEndpoint& endpoint, const QString& model,
                                                  RemoteCompletionOptions options, QString* error);

    int contextSize() const override { return contextSize_; }
    int countTokens(const QString& text) const override;
    int templateOverhead() const override;
    documents::CompletionResult complete(const documents::CompletionRequest& request,
                                         const std::function<void(const QString&)>& onText,
                                         const std::atomic<bool>* cancel) override;

    bool usesServerTokenizer() const { return serverTokenizer_; }
    const QString& model() const { return model_; }

private:
    RemoteCompletion(const RemoteEndpoint& endpoint, QString model, RemoteCompletionOptions options);
    RemoteClient client_;
    QString model_;
    RemoteCompletionOptions options_;
    int contextSize_ = 4096;
    bool serverTokenizer_ = false;
    mutable std::mutex mutex_;
    mutable QHash<QString, int> cache_;
};

// Tokens of text without a tokenizer, on the high side: a third of a token per ASCII
// character (English runs near a quarter), a whole token per other UTF-16 unit.
int estimateTokensConservatively(const QString& text);

}  // namespace ld::remote
