#pragma once
// One open conversation: sends user messages, streams replies from the engine and records
// everything through the HistoryStore. Lives on the UI thread; every store and engine call is
// asynchronous. A message is committed to the history before its reply is generated, and a
// message that could not be saved is handed back (draftReturned) so the user never loses it.
#include <QList>
#include <QObject>
#include <optional>

#include "app/chat/chat_types.h"
#include "app/history/history_types.h"

namespace ld::history {
class HistoryStore;
}
namespace ld::settings {
class AppSettings;
}

namespace ld::chat {

class EngineHost;

class ChatController : public QObject {
    Q_OBJECT
    Q_PROPERTY(qint64 conversationId READ conversationId NOTIFY conversationChanged)
    Q_PROPERTY(QString title READ title NOTIFY conversationChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString notice READ notice NOTIFY noticeChanged)
    Q_PROPERTY(bool canContinue READ canContinue NOTIFY busyChanged)
public:
    ChatController(history::HistoryStore* store, EngineHost* engine, settings::AppSettings* settings,
                   QObject* parent = nullptr);

    qint64 conversationId() const { return conversationId_; }
    QString title() const { return title_; }
    bool busy() const { return busy_; }
    QString notice() const { return notice_; }
    bool canContinue() const;
    const QList<history::Message>& messages() const { return messages_; }

    Q_INVOKABLE void newChat();
    Q_INVOKABLE void openConversation(qint64 id);
    // false when the text cannot be sent now (busy, no model, empty); the caller keeps it.
    Q_INVOKABLE bool send(const QString& text);
    Q_INVOKABLE void stop();
    // A new reply to the last user message (a sibling branch of the last reply).
    Q_INVOKABLE void regenerate();
    // Replaces the user message at `row` by `text` on a new branch and answers it.
    Q_INVOKABLE void editAndResend(int row, const QString& text);
    // Picks up an interrupted (or failed) last reply where it ended.
    Q_INVOKABLE void continueReply();
    Q_INVOKABLE void clearNotice();

signals:
    void conversationChanged();
    void busyChanged();
    void noticeChanged();
    void messagesReset(const QList<ld::history::Message>& messages);
    void messageAdded(const ld::history::Message& message);
    void replyText(qint64 messageId, const QString& piece);
    void messageUpdated(int row, const ld::history::Message& message);
    void errorOccurred(const QString& message);
    void draftReturned(const QString& text);
    // A reply finished (complete, interrupted or failed) and its final state was saved or not.
    void replyFinished(qint64 messageId);

private:
    struct Reply {
        quint64 requestId = 0;
        qint64 messageId = 0;
        qint64 conversationId = 0;
    };
    void setBusy(bool busy);
    void setNotice(const QString& text);
    void addUserMessage(const history::NewMessage& message, int keepRows);
    void startReply(std::optional<qint64> parentId, const QString& prefix);
    GenerationRequest buildRequest(const QString& prefix) const;
    void onText(quint64 requestId, const QString& piece);
    void onFinished(const GenerationOutcome& outcome);
    void onFailed(quint64 requestId, const QString& error);
    void finishReply(history::MessageStatus status, const history::GenerationStats& stats, const QString& error);
    int rowOf(qint64 messageId) const;
    void truncate(int rows);

    history::HistoryStore* store_;
    EngineHost* engine_;
    settings::AppSettings* settings_;
    qint64 conversationId_ = 0;
    QString title_;
    QString systemPrompt_;
    QList<history::Message> messages_;  // the active branch, oldest first
    bool busy_ = false;
    QString notice_;
    std::optional<Reply> reply_;
    bool stopRequested_ = false;        // stop() before the reply's request was queued
    quint64 openGeneration_ = 0;        // drops a stale openConversation() result
};

}  // namespace ld::chat
