#include "app/history/tool_links.h"

#include <QJsonDocument>
#include <QSet>

namespace ld::history {

Status checkToolCalls(const QString& role, const QList<ToolCall>& calls, const QString& where) {
    if (calls.isEmpty()) return ok();
    if (role != QLatin1String("assistant"))
        return Status::failure(QStringLiteral("%1 has tool calls but is a \"%2\" message; only the "
                                              "assistant calls tools.").arg(where, role));
    QSet<QString> ids;
    for (const ToolCall& c : calls) {
        if (c.callId.isEmpty())
            return Status::failure(QStringLiteral("%1 has a tool call without an id.").arg(where));
        if (ids.contains(c.callId))
            return Status::failure(QStringLiteral("%1 has two tool calls with the id \"%2\".").arg(where, c.callId));
        ids.insert(c.callId);
        if (c.name.isEmpty())
            return Status::failure(QStringLiteral("%1: tool call \"%2\" has no tool name.").arg(where, c.callId));
        if (!c.argumentsJson.isEmpty() && !QJsonDocument::fromJson(c.argumentsJson.toUtf8()).isObject())
            return Status::failure(QStringLiteral("%1: the arguments of tool call \"%2\" are not a JSON object.")
                                       .arg(where, c.callId));
    }
    return ok();
}

Result<QHash<qint64, ToolCallRef>> resolveToolResults(const QList<Message>& messages) {
    using R = Result<QHash<qint64, ToolCallRef>>;
    QHash<qint64, const Message*> byId;
    for (const Message& m : messages) byId.insert(m.id, &m);
    QHash<qint64, ToolCallRef> out;
    for (const Message& m : messages) {
        const QString where = QStringLiteral("Message %1").arg(m.id);
        if (Status s = checkToolCalls(m.role, m.toolCalls, where); !s) return R::failure(s.error());
        if (!m.toolResult) continue;
        if (m.role != QLatin1String(kToolRole))
            return R::failure(QStringLiteral("%1 is a \"%2\" message but carries a tool result; tool "
                                             "results have the role \"tool\".").arg(where, m.role));
        const QString& callId = m.toolResult->callId;
        if (callId.isEmpty())
            return R::failure(QStringLiteral("%1 is a tool result that names no tool call.").arg(where));
        // Bounded by the number of messages, so a parent cycle in a damaged file cannot loop.
        std::optional<qint64> at = m.parentId;
        std::optional<ToolCallRef> found;
        for (qsizetype steps = 0; at && byId.contains(*at) && steps <= messages.size() && !found; ++steps) {
            const Message* above = byId.value(*at);
            for (int i = 0; i < above->toolCalls.size(); ++i)
                if (above->toolCalls[i].callId == callId) found = ToolCallRef{above->id, i};
            at = above->parentId;
        }
        if (!found)
            return R::failure(QStringLiteral("%1 is the result of tool call \"%2\", but no message before "
                                             "it on its branch made that call.").arg(where, callId));
        out.insert(m.id, *found);
    }
    return out;
}

}  // namespace ld::history
