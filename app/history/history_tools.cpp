// Tool calls and tool results in the history (issue 18): their rows in tool_calls and
// tool_results (schema v3, see history_sql.h for why they are tables), written inside the
// transaction of the message they belong to, and read back onto Message.
#include <QSqlError>

#include "app/history/history_database.h"
#include "app/history/history_errors.h"
#include "app/history/history_sql.h"
#include "app/history/tool_links.h"

namespace ld::history {
namespace {

struct Finish {
    QSqlQuery& q;
    ~Finish() { q.finish(); }
};

ToolCall readToolCall(const QSqlQuery& q) {
    ToolCall c;
    c.callId = q.value(1).toString();
    c.server = q.value(2).toString();
    c.name = q.value(3).toString();
    c.argumentsJson = q.value(4).toString();
    c.decision = toolDecisionFromString(q.value(5).toString()).value_or(ToolDecision::Pending);
    return c;
}

ToolResult readToolResult(const QSqlQuery& q) {
    ToolResult r;
    r.callId = q.value(1).toString();
    r.isError = q.value(2).toInt() != 0;
    r.truncated = q.value(3).toInt() != 0;
    return r;
}

}  // namespace

QString toolDecisionName(ToolDecision decision) {
    switch (decision) {
    case ToolDecision::Pending: return QStringLiteral("pending");
    case ToolDecision::AllowedOnce: return QStringLiteral("allowed_once");
    case ToolDecision::AlwaysAllowed: return QStringLiteral("always_allowed");
    case ToolDecision::Denied: return QStringLiteral("denied");
    }
    return QStringLiteral("pending");
}

std::optional<ToolDecision> toolDecisionFromString(const QString& text) {
    for (ToolDecision d : {ToolDecision::Pending, ToolDecision::AllowedOnce, ToolDecision::AlwaysAllowed,
                           ToolDecision::Denied})
        if (text == toolDecisionName(d)) return d;
    return std::nullopt;
}

Status HistoryDatabase::insertToolCalls(qint64 messageId, const QList<ToolCall>& calls) {
    const QString action = QStringLiteral("save the tool calls");
    for (int i = 0; i < calls.size(); ++i) {
        const ToolCall& c = calls[i];
        const QString arguments = c.argumentsJson.isEmpty() ? QStringLiteral("{}") : c.argumentsJson;
        if (Status s = exec(sql::kInsertToolCall,
                            {messageId, i, c.callId, c.server, c.name, arguments, toolDecisionName(c.decision)},
                            action);
            !s)
            return s;
    }
    return ok();
}

Status HistoryDatabase::insertToolResult(qint64 messageId, std::optional<qint64> parentId,
                                         const ToolResult& result) {
    const QString action = QStringLiteral("save the tool result");
    qint64 callRow = 0;
    if (parentId) {
        QSqlQuery& q = statement(sql::kFindCallOnBranch);
        q.bindValue(0, *parentId);
        q.bindValue(1, result.callId);
        Finish f{q};
        if (!q.exec()) return Status::failure(describe(q.lastError(), action));
        if (q.next()) callRow = q.value(0).toLongLong();
    }
    if (!callRow)
        return Status::failure(QStringLiteral("Could not save the tool result: no message before it on its "
                                              "branch made a tool call \"%1\".").arg(result.callId));
    return exec(sql::kInsertToolResult, {messageId, callRow, int(result.isError), int(result.truncated)}, action);
}

Status HistoryDatabase::loadToolData(QList<Message>& messages, qint64 conversationId) {
    const QString action = QStringLiteral("read the conversation's tool calls");
    QHash<qint64, qsizetype> index;
    for (qsizetype i = 0; i < messages.size(); ++i) index.insert(messages[i].id, i);
    {
        QSqlQuery& q = statement(sql::kSelectToolCallsOfConversation);
        q.bindValue(0, conversationId);
        Finish f{q};
        if (!q.exec()) return Status::failure(describe(q.lastError(), action));
        while (q.next()) {
            const auto it = index.constFind(q.value(0).toLongLong());
            if (it != index.constEnd()) messages[*it].toolCalls << readToolCall(q);
        }
    }
    QSqlQuery& q = statement(sql::kSelectToolResultsOfConversation);
    q.bindValue(0, conversationId);
    Finish f{q};
    if (!q.exec()) return Status::failure(describe(q.lastError(), action));
    while (q.next()) {
        const auto it = index.constFind(q.value(0).toLongLong());
        if (it != index.constEnd()) messages[*it].toolResult = readToolResult(q);
    }
    return ok();
}

Status HistoryDatabase::loadToolData(Message& message) {
    const QString action = QStringLiteral("read the message's tool calls");
    {
        QSqlQuery& q = statement(sql::kSelectToolCallsOfMessage);
        q.bindValue(0, message.id);
        Finish f{q};
        if (!q.exec()) return Status::failure(describe(q.lastError(), action));
        while (q.next()) message.toolCalls << readToolCall(q);
    }
    QSqlQuery& q = statement(sql::kSelectToolResultOfMessage);
    q.bindValue(0, message.id);
    Finish f{q};
    if (!q.exec()) return Status::failure(describe(q.lastError(), action));
    if (q.next()) message.toolResult = readToolResult(q);
    return ok();
}

Status HistoryDatabase::setToolCalls(qint64 messageId, const QList<ToolCall>& calls) {
    const QString action = QStringLiteral("save the tool calls");
    if (readOnly_) return readOnlyError(action);
    const Result<Message> m = message(messageId);
    if (!m) return Status::failure(m.error());
    if (Status s = checkToolCalls(m->role, calls, QStringLiteral("Message %1").arg(messageId)); !s)
        return Status::failure(QStringLiteral("Could not save the tool calls: ") + s.error());
    if (Status s = beginWrite(action); !s) return s;
    {
        // The foreign key would refuse it too; this says why in words.
        QSqlQuery& q = statement(sql::kCountAnsweredCalls);
        q.bindValue(0, messageId);
        Finish f{q};
        if (!q.exec() || !q.next()) {
            const QString text = describe(q.lastError(), action);
            q.finish();
            rollback();
            return Status::failure(text);
        }
        if (q.value(0).toInt() > 0) {
            q.finish();
            rollback();
            return Status::failure(QStringLiteral("Could not save the tool calls: message %1 has calls that "
                                                  "already have results, so they cannot be replaced.").arg(messageId));
        }
    }
    Status s = exec(sql::kDeleteToolCalls, {messageId}, action);
    if (s) s = insertToolCalls(messageId, calls);
    if (!s) {
        rollback();
        return s;
    }
    return commit(action);
}

Status HistoryDatabase::setToolCallDecision(qint64 messageId, const QString& callId, ToolDecision decision) {
    const QString action = QStringLiteral("save the tool decision");
    if (readOnly_) return readOnlyError(action);
    QSqlQuery& q = statement(sql::kSetToolDecision);
    q.bindValue(0, toolDecisionName(decision));
    q.bindValue(1, messageId);
    q.bindValue(2, callId);
    Finish f{q};
    if (!q.exec()) return Status::failure(describe(q.lastError(), action));
    if (q.numRowsAffected() != 1)
        return Status::failure(QStringLiteral("Could not save the tool decision: message %1 has no tool call \"%2\".")
                                   .arg(messageId).arg(callId));
    return ok();
}

}  // namespace ld::history
