#pragma once
// The app's conversation history: a HistoryDatabase living on its own thread, so the UI thread
// never runs SQL. Every call returns at once with a QFuture carrying the value (or a
// user-readable error); use future.then(context, ...) to get it back on the caller's thread.
// Work is handed to the store's thread from the owning thread's next event-loop turn, so never
// block that thread on one of these futures (waitForFinished would deadlock).
// Changes are also announced by signals, delivered queued to receivers on other threads.
#include <QByteArray>
#include <QFuture>
#include <QObject>
#include <QThread>
#include <memory>
#include <optional>

#include "app/history/history_types.h"

namespace ld::history {

class StoreWorker;

class HistoryStore : public QObject {
    Q_OBJECT
public:
    // Opens `path` (defaultDatabasePath() in the app, a temporary file in tests) on the store's
    // thread; the outcome arrives through opened() and the notice()/storageError() signals.
    explicit HistoryStore(const QString& path, QObject* parent = nullptr);
    // Flushes replies still streaming (they stay `streaming` and become `interrupted` at the
    // next open) and closes the database.
    ~HistoryStore() override;

    QString path() const { return path_; }
    QFuture<Result<OpenReport>> opened() const { return opened_; }

    // Conversations
    QFuture<Result<QList<Conversation>>> listConversations(int offset, int limit);
    QFuture<Result<int>> conversationCount();
    QFuture<Result<Conversation>> createConversation(const NewConversation& conversation);
    QFuture<Result<ConversationBundle>> loadConversation(qint64 id);
    QFuture<Result<QList<Message>>> activeBranch(qint64 id);
    QFuture<Status> renameConversation(qint64 id, const QString& title);
    QFuture<Result<bool>> applyAutoTitle(qint64 id, const QString& title);
    QFuture<Status> updateConversationSettings(qint64 id, const QString& model,
                                               const QString& systemPrompt, const QJsonObject& sampling);
    QFuture<Status> deleteConversation(qint64 id);
    QFuture<Result<qint64>> duplicateConversation(qint64 id, std::optional<qint64> upToMessage = {});
    QFuture<Status> setCurrentLeaf(qint64 conversationId, qint64 messageId);

    // Messages. addMessage's future completes once the message is committed: start generating
    // only then. On failure the caller keeps its text for a retry.
    QFuture<Result<Message>> addMessage(const NewMessage& message);

    // A streaming reply: beginReply creates it; appendReply adds text (fire and forget; the
    // store checkpoints it at least every kCheckpointInterval, also when tokens pause);
    // finishReply stores the final text and status. A failed write is reported through
    // storageError and retried; the text is kept in memory until finishReply succeeds.
    QFuture<Result<Message>> beginReply(qint64 conversationId, std::optional<qint64> parentId,
                                        const QString& model);
    void appendReply(qint64 messageId, const QString& text);
    QFuture<Status> finishReply(qint64 messageId, MessageStatus status, const GenerationStats& stats,
                                const QString& error = {});

    // Tool calls of an assistant message, and the user's decision on one (a tool result is an
    // addMessage with role kToolRole and NewMessage::toolResult).
    QFuture<Status> setToolCalls(qint64 conversationId, qint64 messageId, const QList<ToolCall>& calls);
    QFuture<Status> setToolCallDecision(qint64 conversationId, qint64 messageId, const QString& callId,
                                        ToolDecision decision);

    // Attachments (documents)
    QFuture<Result<Attachment>> addAttachment(const Attachment& attachment);
    // Fails with a readable reason when no attachment has that id (e.g. its conversation was
    // deleted meanwhile).
    QFuture<Status> setAttachmentSummary(qint64 attachmentId, const QString& summary);
    QFuture<Result<QList<Attachment>>> attachments(qint64 conversationId);

    // Search, export, import
    QFuture<Result<QList<SearchHit>>> search(const QString& text, const SearchOptions& options = {});
    // `ids` empty: every conversation, newest first.
    QFuture<Result<QByteArray>> exportJson(const QList<qint64>& ids);
    QFuture<Result<QString>> exportMarkdown(const QList<qint64>& ids);
    QFuture<Result<QList<qint64>>> importJson(const QByteArray& json);

signals:
    void conversationsChanged();                 // created, renamed, deleted, reordered
    void conversationChanged(qint64 conversationId);
    void replyCheckpointed(qint64 messageId, qsizetype savedLength);
    void storageError(const QString& message);   // a write failed; show it to the user
    void notice(const QString& message);         // e.g. a damaged file was moved aside

private:
    friend class StoreWorker;
    template <class T, class F>
    QFuture<T> post(F&& work);

    QString path_;
    QThread thread_;
    StoreWorker* worker_ = nullptr;
    QFuture<Result<OpenReport>> opened_;
};

}  // namespace ld::history
