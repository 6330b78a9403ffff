#pragma once
// One prompt and its streamed reply, recorded crash-safely: the user message is committed
// before generation starts, the reply goes through a ReplyWriter. The synchronous path used by
// `llamadesk-cli generate --db` (and by tests that kill a writer mid-reply).
#include <QString>
#include <memory>
#include <optional>

#include "app/history/history_database.h"
#include "app/history/reply_writer.h"

namespace ld::history {

class ExchangeRecorder {
public:
    // Records into `conversationId`, or into a new conversation when unset.
    ExchangeRecorder(HistoryDatabase& db, std::optional<qint64> conversationId);

    // Commits the user message (after the conversation's current leaf), titles a new
    // conversation from it, and starts a `streaming` reply. Returns the conversation id.
    Result<qint64> begin(const QString& model, const QString& systemPrompt, const QString& userText);
    Status append(const QString& text);
    Status finish(const GenerationStats& stats, bool ok, const QString& error);

    std::optional<qint64> conversationId() const { return conversationId_; }
    qint64 userMessageId() const { return userMessageId_; }
    ReplyWriter* reply() { return reply_.get(); }

private:
    HistoryDatabase& db_;
    std::optional<qint64> conversationId_;
    qint64 userMessageId_ = 0;
    std::unique_ptr<ReplyWriter> reply_;
};

}  // namespace ld::history
