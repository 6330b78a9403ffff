#pragma once
// Value types of the conversation history. Plain data, copyable across threads (they travel
// in QFutures and queued signals between the store's thread and its callers).
#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <optional>
#include <utility>

namespace ld::history {

// Rows the app writes about the chat itself ("report.pdf: the PDF is password-protected"): stored
// and shown like messages, never sent to the model.
inline constexpr const char* kNoticeRole = "notice";
// A tool's result (what the engine sends back in the "ipython" role); its message carries a
// ToolResult saying which call it answers.
inline constexpr const char* kToolRole = "tool";

// The state of one message's content. `streaming` exists only while a reply is being written;
// one found at open time belonged to a process that died, and becomes `interrupted`.
enum class MessageStatus { Complete, Streaming, Interrupted, Error };

QString statusName(MessageStatus status);
std::optional<MessageStatus> messageStatusFromString(const QString& text);

struct GenerationStats {
    int promptTokens = 0;
    int genTokens = 0;
    double promptTps = 0;   // prompt tokens per second
    double genTps = 0;      // generated tokens per second
    double ttftMs = 0;      // time to first token
    // Speculative decoding ("Speed up replies"): tokens drafted and, of them, accepted (0, 0: none ran).
    int drafted = 0;
    int accepted = 0;
    friend bool operator==(const GenerationStats&, const GenerationStats&) = default;
};

// What the user chose when asked to run a tool call. Pending: not (yet) asked or answered, e.g.
// the reply was stopped while the question was open.
enum class ToolDecision { Pending, AllowedOnce, AlwaysAllowed, Denied };

QString toolDecisionName(ToolDecision decision);  // "pending", "allowed_once", "always_allowed", "denied"
std::optional<ToolDecision> toolDecisionFromString(const QString& text);

// One call an assistant message made to a tool of an MCP server.
struct ToolCall {
    QString callId;          // unique within its message; a result names it (ToolResult::callId)
    QString server;          // the MCP server's name as configured
    QString name;            // the tool's name
    QString argumentsJson;   // a JSON object, kept as the model wrote it
    ToolDecision decision = ToolDecision::Pending;
    friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

// What makes a message of role kToolRole a tool's result; the text itself is Message::content.
struct ToolResult {
    // The call answered: the nearest message above this one on its branch that made a call with
    // this id (ids may repeat on other branches, e.g. after a regeneration).
    QString callId;
    bool isError = false;    // the tool reported a failure (MCP isError) or could not run
    bool truncated = false;  // content was cut to fit the model's context
    friend bool operator==(const ToolResult&, const ToolResult&) = default;
};

struct Message {
    qint64 id = 0;
    qint64 conversationId = 0;
    std::optional<qint64> parentId;  // previous message on this branch; none for the first
    QString role;                    // "system" | "user" | "assistant" | "tool"
    QString content;
    qint64 createdMs = 0;            // ms since the epoch, UTC
    qint64 updatedMs = 0;
    MessageStatus status = MessageStatus::Complete;
    QString model;
    GenerationStats stats;
    QString error;                   // why generation failed, for status Error
    QList<ToolCall> toolCalls;       // an assistant message that called tools, in call order
    std::optional<ToolResult> toolResult;  // set on (and only on) tool results (kToolRole)
};

struct Conversation {
    qint64 id = 0;
    QString title;
    qint64 createdMs = 0;
    qint64 updatedMs = 0;
    QString model;
    QString systemPrompt;
    QJsonObject sampling;            // sampler settings as the engine names them (temperature, top_p, ...)
    std::optional<qint64> currentLeafId;  // the branch shown; newest message when unset
    int messageCount = 0;            // filled by list queries
};

// A document attached to a conversation (and optionally to the message that brought it in).
struct Attachment {
    qint64 id = 0;
    qint64 conversationId = 0;
    std::optional<qint64> messageId;
    QString fileName;
    QString sha256;                  // hex of the original file's bytes
    qint64 sizeBytes = 0;
    QString mimeType;
    QString extractedText;
    QString summary;
    qint64 createdMs = 0;
};

struct NewConversation {
    QString title;
    QString model;
    QString systemPrompt;
    QJsonObject sampling;
};

struct NewMessage {
    qint64 conversationId = 0;
    // Where this message hangs in the tree. Unset: after the conversation's current leaf (a plain
    // linear chat). Set to an earlier message: a new branch (an edit or a regeneration).
    std::optional<qint64> parentId;
    bool explicitParent = false;     // parentId given on purpose, even when empty (a new first message)
    QString role;
    QString content;
    MessageStatus status = MessageStatus::Complete;
    QString model;
    GenerationStats stats;
    QString error;
    std::optional<qint64> createdMs; // now when unset; import keeps the original time
    QList<ToolCall> toolCalls;       // stored with the message, in the same transaction
    // A tool result: role must be kToolRole and the call must be on the branch above the message.
    std::optional<ToolResult> toolResult;
};

struct SearchHit {
    enum class Kind { Message, Title };
    Kind kind = Kind::Message;
    qint64 conversationId = 0;
    qint64 messageId = 0;            // 0 for title hits
    QString conversationTitle;
    QString role;
    QString snippet;                 // matched terms wrapped in the requested markers
    qint64 createdMs = 0;
};

struct SearchOptions {
    int limit = 50;
    QString highlightOpen = QStringLiteral("**");
    QString highlightClose = QStringLiteral("**");
};

// A conversation with everything in it: what export writes and import reads.
struct ConversationBundle {
    Conversation conversation;
    QList<Message> messages;         // all branches, oldest first
    QList<Attachment> attachments;
};

// What happened while opening: things the user must be told (a corrupt file moved aside,
// replies recovered as interrupted, a read-only database).
struct OpenReport {
    QString path;
    int schemaVersion = 0;
    int migratedFrom = 0;            // 0 when no migration ran
    int recoveredInterrupted = 0;
    QString movedAsidePath;          // set when a corrupt file was moved aside
    bool readOnly = false;
    QStringList notices;             // user-readable, one sentence each
};

// A value or a user-readable error. Travels in QFutures from the store's thread.
template <class T>
class Result {
public:
    Result() : error_(QStringLiteral("no result")) {}
    Result(T value) : value_(std::move(value)) {}
    static Result failure(QString error) {
        Result r;
        r.error_ = std::move(error);
        return r;
    }
    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }
    const T& value() const& { return *value_; }
    T& value() & { return *value_; }
    T&& value() && { return std::move(*value_); }
    const T* operator->() const { return &*value_; }
    const QString& error() const { return error_; }

private:
    std::optional<T> value_;
    QString error_;
};

// For operations with nothing to return.
struct Done {};
using Status = Result<Done>;
inline Status ok() { return Status(Done{}); }

}  // namespace ld::history

Q_DECLARE_METATYPE(ld::history::Conversation)
Q_DECLARE_METATYPE(ld::history::Message)
