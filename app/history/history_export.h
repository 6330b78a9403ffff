#pragma once
// Conversations as JSON (lossless: every branch, status, stat and attachment; import reads it
// back) and as Markdown (for reading: the branch the user was on).
#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include "app/history/history_types.h"

namespace ld::history {

inline constexpr const char* kExportFormat = "llamadesk-history";
// Version 2 added tool calls and results (issue 18). A file without any is still written as
// version 1, so an older LlamaDesk keeps importing it; one with them says 2, so an older
// LlamaDesk refuses it clearly instead of dropping the tool data.
inline constexpr int kExportFormatVersion = 2;

QJsonObject toJson(const Conversation& c);
QJsonObject toJson(const Message& m);
QJsonObject toJson(const ConversationBundle& b);
QJsonObject toJson(const SearchHit& h);

// {"format": "llamadesk-history", "version": 1 or 2, "conversations": [...]}
QByteArray exportJson(const QList<ConversationBundle>& bundles);
// Reads exportJson's document, or a single conversation object (what `history show` prints).
Result<QList<ConversationBundle>> parseExportJson(const QByteArray& json);

QString exportMarkdown(const QList<ConversationBundle>& bundles);

// ISO 8601 UTC with milliseconds, the JSON spelling of every timestamp (lossless for ms).
QString isoTime(qint64 ms);

}  // namespace ld::history
