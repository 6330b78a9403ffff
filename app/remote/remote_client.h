#pragma once
// A client of one OpenAI-compatible endpoint: its models, token counts, and streamed chat or
// raw-text generation. Blocking calls (run them off the UI thread); const and thread-safe, so
// several threads may generate at once (document summaries send their map steps together).
// Errors are told in plain words and lose nothing: the text streamed before a failure stays
// in the reply, which says whether it is complete, interrupted, cancelled or failed.
#include <QList>
#include <QString>
#include <atomic>
#include <functional>
#include <optional>

#include "app/remote/endpoint.h"
#include "app/remote/openai_messages.h"

namespace ld::remote {

enum class ReplyEnd {
    Complete,     // the server finished the reply
    Interrupted,  // the stream stopped half-way (connection lost, stalled, closed early): text kept
    Cancelled,    // the caller cancelled: text kept
    Failed,       // an error (HTTP status, error object, no connection); text kept if any came
};

struct GenerationReply {
    QString text;
    ReplyEnd end = ReplyEnd::Failed;
    QString error;           // why it is not Complete (empty when Complete or Cancelled)
    QString finishReason;    // "stop", "length", ... as the server said
    int promptTokens = -1;   // from the usage chunk, when the server sent one
    int completionTokens = -1;
    int httpStatus = 0;
    int retries = 0;         // 429/503 answers waited out
    bool ok() const { return end == ReplyEnd::Complete; }
};

struct ModelList {
    QList<RemoteModel> models;
    QString error;           // non-empty: the list could not be fetched
};

class RemoteClient {
public:
    explicit RemoteClient(RemoteEndpoint endpoint);
    const RemoteEndpoint& endpoint() const { return endpoint_; }

    // GET /models. `cancel`, when set, ends the call within 20 ms (error "cancelled").
    ModelList models(const std::atomic<bool>* cancel = nullptr) const;
    // POST /tokenize at the server's root (vLLM, llama.cpp, LlamaDesk): the token count of
    // plain text. nullopt when the server has none (404/405) or the call failed (*error says).
    std::optional<int> tokenCount(const QString& text, QString* error) const;
    // Streams /chat/completions or /completions; onText gets each piece as it arrives (on the
    // calling thread; may be empty). A 429 or 503 with Retry-After is waited out and retried
    // (endpoint.maxRetries, waits up to endpoint.maxRetryAfterMs) while nothing was received.
    GenerationReply generate(const GenerationRequest& request, const std::function<void(const QString&)>& onText,
                             const std::atomic<bool>* cancel) const;

private:
    RemoteEndpoint endpoint_;
};

// The plain-words error for an HTTP status with its body (used for every endpoint call).
QString describeHttpError(int status, const QByteArray& body, const QByteArray& retryAfter, const QString& model);

// Seconds of a Retry-After header (delta-seconds or an HTTP date); -1 when absent or unreadable.
int retryAfterSeconds(const QByteArray& header);

}  // namespace ld::remote
