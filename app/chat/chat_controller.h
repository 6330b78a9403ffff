#pragma once
// One open conversation: sends user messages, streams replies from the engine and records
// everything through the HistoryStore. Lives on the UI thread; every store and engine call is
// asynchronous. A message is committed to the history before its reply is generated, and a
// message that could not be saved is handed back (draftReturned) so the user never loses it.
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QSet>
#include <QVariantMap>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "app/chat/chat_types.h"
#include "inference/chat/chat_format.h"
#include "app/history/history_types.h"

namespace ld::history {
class HistoryStore;
}
namespace ld::settings {
class AppSettings;
}
namespace ld::mcp {
class ToolServers;
class ToolCompletion;
}

namespace ld::chat {

class EngineHost;
class ToolTurn;
class ToolApproval;

class ChatController : public QObject {
    Q_OBJECT
    Q_PROPERTY(qint64 conversationId READ conversationId NOTIFY conversationChanged)
    Q_PROPERTY(QString title READ title NOTIFY titleChanged)
    // This chat's settings: its system prompt, the sampling settings it overrides (only the
    // keys the user set; the rest follow the global settings) and the model it last used.
    Q_PROPERTY(QString systemPrompt READ systemPrompt NOTIFY chatSettingsChanged)
    Q_PROPERTY(QVariantMap samplingOverrides READ samplingOverrides NOTIFY chatSettingsChanged)
    Q_PROPERTY(QString conversationModel READ conversationModel NOTIFY chatSettingsChanged)
    // Share of the prompt read while a long one is evaluated before the first token; -1 otherwise.
    Q_PROPERTY(double promptProgress READ promptProgress NOTIFY promptProgressChanged)
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    Q_PROPERTY(QString notice READ notice NOTIFY noticeChanged)
    Q_PROPERTY(bool canContinue READ canContinue NOTIFY busyChanged)
    // This chat may call the tools of the enabled MCP servers (off by default; saved with the
    // chat's settings). The question before a call: a ToolApproval while one is open, else null.
    Q_PROPERTY(bool toolsEnabled READ toolsEnabled NOTIFY chatSettingsChanged)
    Q_PROPERTY(QObject* toolApproval READ toolApprovalObject NOTIFY toolApprovalChanged)
public:
    ChatController(history::HistoryStore* store, EngineHost* engine, settings::AppSettings* settings,
                   QObject* parent = nullptr);

    qint64 conversationId() const { return conversationId_; }
    QString title() const { return title_; }
    bool busy() const { return busy_; }
    QString notice() const { return notice_; }
    QString systemPrompt() const { return systemPrompt_; }
    QVariantMap samplingOverrides() const { return overrides_.toVariantMap(); }
    const QJsonObject& samplingOverridesJson() const { return overrides_; }
    QString conversationModel() const { return conversationModel_; }
    double promptProgress() const { return promptProgress_; }
    bool canContinue() const;
    // The only copy of the open conversation's messages: views read them here (ui::MessagesModel
    // keeps no copy). Each change is announced right after it is made, before the next one
    // (messagesReset, messageAdded, replyText or messageUpdated).
    const QList<history::Message>& messages() const { return messages_; }

    Q_INVOKABLE void newChat();
    Q_INVOKABLE void openConversation(qint64 id);
    // false when the text cannot be sent now (busy, no model, empty); the caller keeps it.
    Q_INVOKABLE bool send(const QString& text);
    // The conversation a new chat starts as (model, system prompt, sampling): what send() creates,
    // and what a document dropped on a new chat starts with, so both follow the same settings.
    history::NewConversation newConversation(const QString& title) const;
    Q_INVOKABLE void stop();
    // A new reply to the last user message (a sibling branch of the last reply).
    Q_INVOKABLE void regenerate();
    // Replaces the user message at `row` by `text` on a new branch and answers it.
    Q_INVOKABLE void editAndResend(int row, const QString& text);
    // Picks up an interrupted (or failed) last reply where it ended.
    Q_INVOKABLE void continueReply();
    Q_INVOKABLE void clearNotice();

    // For other parts of the app that write into the open conversation (a document's summary,
    // app/documents): show a message they added, stream text into it, show its final state.
    void showAddedMessage(const history::Message& message);
    void showReplyText(qint64 messageId, const QString& piece);
    void showMessageUpdate(const history::Message& message);
    // What the conversation's documents add to a reply's prompt (both empty without any): the
    // overview (what is attached, the summaries) goes at the end of the system message and must
    // stay the same from question to question; the passages a question is about go in its own
    // user turn (PromptMessage::context). Neither is stored with the messages. The same question
    // and documents must give the same text (a regenerated reply then reuses the cached prompt).
    struct DocumentContext {
        QString overview;
        QString passages;
    };
    using ContextProvider = std::function<DocumentContext(qint64 conversationId, const QString& question)>;
    void setContextProvider(ContextProvider provider) { contextProvider_ = std::move(provider); }
    // Saves this chat's system prompt and sampling overrides (keys: temperature, top_k, top_p,
    // min_p, repeat_penalty, max_tokens; a missing key follows the global setting). Before the
    // first message they are kept and saved with the new conversation.
    Q_INVOKABLE void setChatSettings(const QString& systemPrompt, const QVariantMap& samplingOverrides);
    bool toolsEnabled() const { return toolsEnabled_; }
    QObject* toolApprovalObject() const;
    Q_INVOKABLE void setToolsEnabled(bool enabled);
    // The MCP servers whose tools a chat with tools on may call (none: tools stay off).
    void setToolServers(mcp::ToolServers* servers) { toolServers_ = servers; }
    // What writes the replies of a turn with tools, made on the turn's worker thread: by default
    // the engine thread (EngineToolCompletion); a test gives a scripted one.
    using ToolCompletionFactory =
        std::function<std::unique_ptr<mcp::ToolCompletion>(const SamplingConfig& sampling, const std::atomic<bool>* cancel)>;
    void setToolCompletionFactory(ToolCompletionFactory factory) { toolCompletionFactory_ = std::move(factory); }
    // A title the user chose: the model's automatic title never replaces it.
    Q_INVOKABLE void renameConversation(qint64 id, const QString& title);

signals:
    void conversationChanged();
    void titleChanged();
    void chatSettingsChanged();
    void promptProgressChanged();
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
    // The model's title for a conversation was saved (after its first exchange).
    void titleGenerated(qint64 conversationId, const QString& title);
    void toolApprovalChanged();

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
    // The row of the newest user message (-1: none), and the documents' context for the
    // question at `row` (empty without documents): only that turn carries its passages.
    int newestUserRow() const;
    DocumentContext documentContext(int row) const;
    // The chat's system prompt, then the documents' overview: the same every turn.
    QString systemText(const DocumentContext& documents) const;
    QJsonObject savedSampling() const;  // the overrides plus the tools switch, as stored
    // A turn with tools (chat_controller_tools.cpp).
    void startToolTurn(std::optional<qint64> parentId);
    void runToolTurn(std::optional<qint64> parentId, quint64 generation);
    std::vector<ChatMessage> toolTurnMessages(QString* passages) const;
    void onToolReplyStarting();
    void onToolText(const QString& piece);
    void onToolReplyEnded();
    void onToolCallsParsed(const QList<history::ToolCall>& calls);
    void onToolCallDecided(int index, history::ToolDecision decision);
    void onToolCallResult(int index, const QString& text, bool isError, bool truncated);
    void onToolMalformed(const QString& note);
    void onToolTurnFinished(bool cancelled, const QString& error);
    void setToolApproval(ToolApproval* approval);
    void onText(quint64 requestId, const QString& piece);
    void onFinished(const GenerationOutcome& outcome);
    void onFailed(quint64 requestId, const QString& error);
    void finishReply(history::MessageStatus status, const history::GenerationStats& stats, const QString& error);
    void onPromptProgress(quint64 requestId, int done, int total);
    void onModelLoaded(const ModelInfo& info);
    // Saves the model now answering in this conversation, when it changed.
    void recordModel(const QString& model);
    void saveChatSettings();
    void requestTitle(const QString& user, const QString& reply);
    void onTitleFinished(const GenerationOutcome& outcome);
    void setTitle(const QString& title);
    int rowOf(qint64 messageId) const;
    void truncate(int rows);

    history::HistoryStore* store_;
    EngineHost* engine_;
    settings::AppSettings* settings_;
    qint64 conversationId_ = 0;
    QString title_;
    QString systemPrompt_;
    bool systemPromptEdited_ = false;   // a new chat's prompt was set by hand (else: the global one)
    QJsonObject overrides_;
    QString conversationModel_;
    double promptProgress_ = -1;
    struct TitleJob {
        quint64 requestId = 0;
        qint64 conversationId = 0;
    };
    std::optional<TitleJob> titleJob_;
    QSet<qint64> renamedByUser_;        // conversations whose title the user chose this session
    QList<history::Message> messages_;  // the active branch, oldest first
    bool busy_ = false;
    QString notice_;
    std::optional<Reply> reply_;
    ContextProvider contextProvider_;
    bool stopRequested_ = false;        // stop() before the reply's request was queued
    quint64 openGeneration_ = 0;        // drops a stale openConversation() result
    bool toolsEnabled_ = false;
    mcp::ToolServers* toolServers_ = nullptr;
    ToolCompletionFactory toolCompletionFactory_;
    // The running turn with tools; its current reply message, the message whose calls run and
    // where the next reply hangs (the first under the user's message, the rest after the leaf).
    ToolTurn* toolTurn_ = nullptr;
    struct ToolReply {
        qint64 conversationId = 0;
        std::optional<qint64> firstParent;
        bool first = true;
        qint64 messageId = 0;       // the reply being written (0 between replies)
        qint64 callsMessageId = 0;  // the reply whose calls run
        QList<history::ToolCall> calls;
        history::GenerationStats stats;  // the reply being written, from the engine's outcome
    } toolReply_;
    ToolApproval* toolApproval_ = nullptr;
};

}  // namespace ld::chat
