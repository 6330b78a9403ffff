#pragma once
// The rules that tie tool results to tool calls, checked on plain values (an import file, or a
// message about to be stored) before anything is written, so bad input is refused whole.
#include <QHash>
#include <QList>
#include <QString>

#include "app/history/history_types.h"

namespace ld::history {

// A call found for a result: the message that made it and the call's index in its toolCalls.
struct ToolCallRef {
    qint64 messageId = 0;
    int index = 0;
};

// Calls belong to assistant messages; each needs an id (unique within the message), a tool name
// and arguments that are a JSON object. `where` names the message in the error ("Message 7").
Status checkToolCalls(const QString& role, const QList<ToolCall>& calls, const QString& where);

// For every message with a toolResult, the call it answers: the nearest message above it on its
// branch (following parentId) with a call of that id. Fails, naming the message, when a result
// is on a non-tool message, names no call, or names a call no earlier message on its branch made;
// also when any message's calls break checkToolCalls.
Result<QHash<qint64, ToolCallRef>> resolveToolResults(const QList<Message>& messages);

}  // namespace ld::history
