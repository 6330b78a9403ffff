#pragma once
// The synchronous core of the conversation history: one SQLite connection and plain methods.
// Use it from one thread only (a QSqlDatabase connection belongs to the thread that opened it):
// the app reaches it through HistoryStore's thread, llamadesk-cli calls it directly.
#include <QHash>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <memory>

#include "app/history/history_types.h"
#include "app/history/writer_lock.h"

namespace ld::history {

// $XDG_DATA_HOME/llamadesk/history.db (~/.local/share/llamadesk/history.db).
QString defaultDatabasePath();

// A title from the first user message, until a model-written title replaces it: the first
// line, cut at a word boundary near `maxChars`.
QString heuristicTitle(const QString& firstUserText, int maxChars = 60);

struct OpenOptions {
    bool readOnly = false;        // browse without writing (also chosen when the file is not writable)
    bool recoverStreaming = true; // turn `streaming` messages left by a dead process into `interrupted`
};

class HistoryDatabase {
public:
    // Opens (creating, migrating, recovering) the database at `path`. On failure returns nullptr
    // and sets *error to a user-readable sentence; a newer-version database is left untouched.
    static std::unique_ptr<HistoryDatabase> open(const QString& path, OpenReport* report,
                                                 QString* error, const OpenOptions& options = {});
    ~HistoryDatabase();
    HistoryDatabase(const HistoryDatabase&) = delete;
    HistoryDatabase& operator=(const HistoryDatabase&) = delete;

    const QString& path() const { return path_; }
    bool isReadOnly() const { return readOnly_; }

    // Conversations
    Result<Conversation> createConversation(const NewConversation& conversation);
    Result<Conversation> conversation(qint64 id);
    Result<QList<Conversation>> listConversations(int offset, int limit);  // newest first
    Result<int> conversationCount();
    Status renameConversation(qint64 id, const QString& title);
    // Sets the title only while the conversation has none; returns whether it was set.
    Result<bool> applyAutoTitle(qint64 id, const QString& title);
    Status updateConversationSettings(qint64 id, const QString& model, const QString& systemPrompt,
                                      const QJsonObject& sampling);
    Status deleteConversation(qint64 id);  // its messages and attachments go with it
    Status setCurrentLeaf(qint64 conversationId, qint64 messageId);
    // A copy of the conversation; with `upToMessage`, only the branch from the first message to
    // that one (to continue differently from there). Returns the new conversation's id.
    Result<qint64> duplicateConversation(qint64 id, std::optional<qint64> upToMessage = {});

    // Messages. addMessage commits before it returns: a user message is durable before
    // generation starts.
    Result<Message> addMessage(const NewMessage& message);
    Result<Message> message(qint64 id);
    Result<QList<Message>> messages(qint64 conversationId);     // every branch, oldest first
    Result<QList<Message>> activeBranch(qint64 conversationId); // first message .. current leaf
    // Starts an assistant reply in status `streaming` with empty content.
    Result<Message> beginReply(qint64 conversationId, std::optional<qint64> parentId,
                               const QString& model);
    // One short transaction replacing the reply's content; no-op once it stopped streaming.
    Status checkpointReply(qint64 messageId, const QString& content);
    Status finishMessage(qint64 messageId, const QString& content, MessageStatus status,
                         const GenerationStats& stats, const QString& error = {});
    // Messages still `streaming` become `interrupted`; returns how many. Run at open, and only
    // when no other live process has the database open for writing (see WriterLock).
    Result<int> recoverInterrupted();

    // Tool calls (issue 18). A tool result is a message: addMessage with role kToolRole and
    // NewMessage::toolResult; its call must be on the branch above it. setToolCalls replaces the
    // calls of an assistant message (those already answered by a result cannot be replaced);
    // setToolCallDecision records the user's choice for one of them.
    Status setToolCalls(qint64 messageId, const QList<ToolCall>& calls);
    Status setToolCallDecision(qint64 messageId, const QString& callId, ToolDecision decision);

    // Attachments (documents)
    Result<Attachment> addAttachment(const Attachment& attachment);
    Result<QList<Attachment>> attachments(qint64 conversationId);
    // Returns the attachment's conversation; an id that is not (or no longer) in the history
    // is an error, not a silent no-op, so a summary is never lost unannounced.
    Result<qint64> setAttachmentSummary(qint64 attachmentId, const QString& summary);

    // Full-text search over message content and titles. `text` is what the user typed, not
    // FTS5 syntax: every word must match, the last one as a prefix.
    Result<QList<SearchHit>> search(const QString& text, const SearchOptions& options = {});

    // Export/import: a whole conversation, all branches, stats and attachments.
    Result<ConversationBundle> bundle(qint64 conversationId);
    Result<QList<qint64>> allConversationIds();  // newest first
    // Inserts as a new conversation (new ids, links remapped) in one transaction.
    // Tool results must answer calls on their branch (resolveToolResults): checked first, so a
    // bad bundle fails with nothing written.
    Result<qint64> importBundle(const ConversationBundle& bundle);
    // All of them or none, in one transaction (an import file with several conversations).
    Result<QList<qint64>> importBundles(const QList<ConversationBundle>& bundles);

    // The value of a read-only PRAGMA on this connection (journal_mode, synchronous,
    // foreign_keys, page_count): for diagnostics and tests.
    QVariant pragma(const QString& name);

    // Tests: simulate a full disk by capping the database's size in pages.
    void setMaxPageCountForTesting(qint64 pages);

private:
    HistoryDatabase(QString path, QString connectionName, bool readOnly);
    QSqlQuery& statement(const char* sql);
    Status exec(const char* sql, const QVariantList& binds, const QString& action);
    Status beginWrite(const QString& action);
    Status commit(const QString& action);
    void rollback();
    Status readOnlyError(const QString& action) const;
    Result<qint64> insertMessage(const NewMessage& message, qint64 now);
    Result<qint64> importInTransaction(const ConversationBundle& bundle);
    // history_tools.cpp: tool rows of messages, inside the caller's transaction.
    Status insertToolCalls(qint64 messageId, const QList<ToolCall>& calls);
    Status insertToolResult(qint64 messageId, std::optional<qint64> parentId, const ToolResult& result);
    Status loadToolData(QList<Message>& messages, qint64 conversationId);
    Status loadToolData(Message& message);

    QString path_;
    QString connectionName_;
    bool readOnly_ = false;
    QSqlDatabase db_;
    QHash<const char*, QSqlQuery> statements_;  // prepared once per connection, keyed by constant
    std::unique_ptr<WriterLock> writerLock_;    // marks this process as a live writer
};

// FTS5 query for free text: each word quoted (so punctuation is literal), all required, the
// last one a prefix. Empty when `text` has no words.
QString ftsQueryFor(const QString& text);

}  // namespace ld::history
