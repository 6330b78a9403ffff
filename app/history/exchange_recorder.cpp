#include "app/history/exchange_recorder.h"

namespace ld::history {

ExchangeRecorder::ExchangeRecorder(HistoryDatabase& db, std::optional<qint64> conversationId)
    : db_(db), conversationId_(conversationId) {}

Result<qint64> ExchangeRecorder::begin(const QString& model, const QString& systemPrompt,
                                       const QString& userText) {
    using R = Result<qint64>;
    if (reply_) return R::failure(QStringLiteral("This exchange was already started."));
    if (conversationId_) {
        const Result<Conversation> c = db_.conversation(*conversationId_);
        if (!c) return R::failure(c.error());
    } else {
        NewConversation n;
        n.model = model;
        n.systemPrompt = systemPrompt;
        const Result<Conversation> c = db_.createConversation(n);
        if (!c) return R::failure(c.error());
        conversationId_ = c->id;
    }
    NewMessage user;
    user.conversationId = *conversationId_;
    user.role = QStringLiteral("user");
    user.content = userText;
    const Result<Message> saved = db_.addMessage(user);
    if (!saved) return R::failure(saved.error());
    userMessageId_ = saved->id;
    // A title is a convenience: failing to set one must not stop the exchange.
    db_.applyAutoTitle(*conversationId_, heuristicTitle(userText));

    const Result<Message> reply = db_.beginReply(*conversationId_, userMessageId_, model);
    if (!reply) return R::failure(reply.error());
    reply_ = std::make_unique<ReplyWriter>(db_, reply->id);
    return *conversationId_;
}

Status ExchangeRecorder::append(const QString& text) {
    if (!reply_) return Status::failure(QStringLiteral("The exchange has not started."));
    return reply_->append(text);
}

Status ExchangeRecorder::finish(const GenerationStats& stats, bool ok, const QString& error) {
    if (!reply_) return Status::failure(QStringLiteral("The exchange has not started."));
    return reply_->finish(ok ? MessageStatus::Complete : MessageStatus::Error, stats, error);
}

}  // namespace ld::history
