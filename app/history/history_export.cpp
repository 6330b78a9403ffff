#include "app/history/history_export.h"

#include <QDateTime>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

#include "app/history/tool_links.h"

namespace ld::history {
namespace {

QJsonValue idValue(const std::optional<qint64>& id) {
    return id ? QJsonValue(double(*id)) : QJsonValue(QJsonValue::Null);
}

std::optional<qint64> idFrom(const QJsonValue& v) {
    if (v.isNull() || v.isUndefined()) return std::nullopt;
    return qint64(v.toDouble());
}

bool parseTime(const QJsonValue& v, qint64* ms) {
    if (v.isDouble()) {
        *ms = qint64(v.toDouble());
        return true;
    }
    const QDateTime t = QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
    if (!t.isValid()) return false;
    *ms = t.toMSecsSinceEpoch();
    return true;
}

QJsonObject toJson(const Attachment& a) {
    return QJsonObject{
        {QStringLiteral("id"), double(a.id)},
        {QStringLiteral("message"), idValue(a.messageId)},
        {QStringLiteral("file_name"), a.fileName},
        {QStringLiteral("sha256"), a.sha256},
        {QStringLiteral("size_bytes"), double(a.sizeBytes)},
        {QStringLiteral("mime_type"), a.mimeType},
        {QStringLiteral("extracted_text"), a.extractedText},
        {QStringLiteral("summary"), a.summary},
        {QStringLiteral("created"), isoTime(a.createdMs)},
    };
}

using BundleResult = Result<ConversationBundle>;

// Arguments stay a JSON string, as the model wrote them (OpenAI's tool_calls do the same):
// re-serializing an object would reorder its keys and the round trip would not be exact.
QJsonObject toJson(const ToolCall& c) {
    return QJsonObject{
        {QStringLiteral("id"), c.callId},
        {QStringLiteral("server"), c.server},
        {QStringLiteral("name"), c.name},
        {QStringLiteral("arguments"), c.argumentsJson},
        {QStringLiteral("decision"), toolDecisionName(c.decision)},
    };
}

Result<ToolCall> toolCallFromJson(const QJsonValue& v, qint64 messageId) {
    using R = Result<ToolCall>;
    if (!v.isObject()) return R::failure(QStringLiteral("Message %1 has a tool call that is not an object.").arg(messageId));
    const QJsonObject j = v.toObject();
    ToolCall c;
    c.callId = j.value(QStringLiteral("id")).toString();
    c.server = j.value(QStringLiteral("server")).toString();
    c.name = j.value(QStringLiteral("name")).toString();
    const QJsonValue arguments = j.value(QStringLiteral("arguments"));
    if (arguments.isObject())  // written by hand; a LlamaDesk export has a string
        c.argumentsJson = QString::fromUtf8(QJsonDocument(arguments.toObject()).toJson(QJsonDocument::Compact));
    else
        c.argumentsJson = arguments.toString();
    const auto decision = toolDecisionFromString(j.value(QStringLiteral("decision")).toString(QStringLiteral("pending")));
    if (!decision)
        return R::failure(QStringLiteral("Message %1: tool call \"%2\" has an unknown decision \"%3\".")
                              .arg(messageId).arg(c.callId, j.value(QStringLiteral("decision")).toString()));
    c.decision = *decision;
    return c;
}

bool hasToolData(const QList<ConversationBundle>& bundles) {
    for (const ConversationBundle& b : bundles)
        for (const Message& m : b.messages)
            if (!m.toolCalls.isEmpty() || m.toolResult) return true;
    return false;
}

// A fence longer than any backtick run in `text`, so tool output cannot close it early.
QString fenced(const QString& text, const QString& language) {
    static const QRegularExpression kTicks(QStringLiteral("`{3,}"));
    qsizetype longest = 2;
    for (auto it = kTicks.globalMatch(text); it.hasNext();) longest = qMax(longest, it.next().capturedLength());
    const QString fence(longest + 1, QLatin1Char('`'));
    QString body = text;
    if (!body.endsWith(QLatin1Char('\n'))) body += QLatin1Char('\n');
    return fence + language + QLatin1Char('\n') + body + fence + QLatin1Char('\n');
}

QString decisionText(ToolDecision d) {
    switch (d) {
    case ToolDecision::Pending: return QStringLiteral("not answered");
    case ToolDecision::AllowedOnce: return QStringLiteral("allowed once");
    case ToolDecision::AlwaysAllowed: return QStringLiteral("always allowed");
    case ToolDecision::Denied: return QStringLiteral("denied");
    }
    return {};
}

QString prettyArguments(const QString& json) {
    const QJsonDocument doc = QJsonDocument::fromJson(json.toUtf8());
    return doc.isObject() ? QString::fromUtf8(doc.toJson(QJsonDocument::Indented)) : json;
}

BundleResult bundleFromJson(const QJsonObject& o) {
    ConversationBundle b;
    Conversation& c = b.conversation;
    c.id = qint64(o.value(QStringLiteral("id")).toDouble());
    c.title = o.value(QStringLiteral("title")).toString();
    if (!parseTime(o.value(QStringLiteral("created")), &c.createdMs) ||
        !parseTime(o.value(QStringLiteral("updated")), &c.updatedMs))
        return BundleResult::failure(QStringLiteral("Conversation \"%1\" has an unreadable date.").arg(c.title));
    c.model = o.value(QStringLiteral("model")).toString();
    c.systemPrompt = o.value(QStringLiteral("system_prompt")).toString();
    c.sampling = o.value(QStringLiteral("sampling")).toObject();
    c.currentLeafId = idFrom(o.value(QStringLiteral("current_leaf")));
    for (const QJsonValue& v : o.value(QStringLiteral("messages")).toArray()) {
        const QJsonObject j = v.toObject();
        Message m;
        m.id = qint64(j.value(QStringLiteral("id")).toDouble());
        m.parentId = idFrom(j.value(QStringLiteral("parent")));
        m.role = j.value(QStringLiteral("role")).toString();
        m.content = j.value(QStringLiteral("content")).toString();
        if (m.role.isEmpty())
            return BundleResult::failure(QStringLiteral("Message %1 has no role.").arg(m.id));
        if (!parseTime(j.value(QStringLiteral("created")), &m.createdMs))
            return BundleResult::failure(QStringLiteral("Message %1 has an unreadable date.").arg(m.id));
        if (!parseTime(j.value(QStringLiteral("updated")), &m.updatedMs)) m.updatedMs = m.createdMs;
        const auto status = messageStatusFromString(j.value(QStringLiteral("status")).toString(QStringLiteral("complete")));
        if (!status)
            return BundleResult::failure(QStringLiteral("Message %1 has an unknown status.").arg(m.id));
        // An imported reply is not being written by anyone.
        m.status = *status == MessageStatus::Streaming ? MessageStatus::Interrupted : *status;
        m.model = j.value(QStringLiteral("model")).toString();
        m.error = j.value(QStringLiteral("error")).toString();
        const QJsonObject s = j.value(QStringLiteral("stats")).toObject();
        m.stats.promptTokens = s.value(QStringLiteral("prompt_tokens")).toInt();
        m.stats.genTokens = s.value(QStringLiteral("gen_tokens")).toInt();
        m.stats.promptTps = s.value(QStringLiteral("prompt_tps")).toDouble();
        m.stats.genTps = s.value(QStringLiteral("gen_tps")).toDouble();
        m.stats.ttftMs = s.value(QStringLiteral("ttft_ms")).toDouble();
        m.stats.drafted = s.value(QStringLiteral("drafted")).toInt();  // absent before speculation: 0
        m.stats.accepted = s.value(QStringLiteral("accepted")).toInt();
        const QJsonValue calls = j.value(QStringLiteral("tool_calls"));
        if (!calls.isUndefined() && !calls.isNull() && !calls.isArray())
            return BundleResult::failure(QStringLiteral("Message %1: \"tool_calls\" is not a list.").arg(m.id));
        for (const QJsonValue& call : calls.toArray()) {
            Result<ToolCall> c = toolCallFromJson(call, m.id);
            if (!c) return BundleResult::failure(c.error());
            m.toolCalls << c.value();
        }
        if (j.contains(QStringLiteral("tool_call_id"))) {
            ToolResult r;
            r.callId = j.value(QStringLiteral("tool_call_id")).toString();
            r.isError = j.value(QStringLiteral("is_error")).toBool();
            r.truncated = j.value(QStringLiteral("truncated")).toBool();
            m.toolResult = r;
        }
        b.messages << m;
    }
    for (const QJsonValue& v : o.value(QStringLiteral("attachments")).toArray()) {
        const QJsonObject j = v.toObject();
        Attachment a;
        a.id = qint64(j.value(QStringLiteral("id")).toDouble());
        a.messageId = idFrom(j.value(QStringLiteral("message")));
        a.fileName = j.value(QStringLiteral("file_name")).toString();
        a.sha256 = j.value(QStringLiteral("sha256")).toString();
        a.sizeBytes = qint64(j.value(QStringLiteral("size_bytes")).toDouble());
        a.mimeType = j.value(QStringLiteral("mime_type")).toString();
        a.extractedText = j.value(QStringLiteral("extracted_text")).toString();
        a.summary = j.value(QStringLiteral("summary")).toString();
        parseTime(j.value(QStringLiteral("created")), &a.createdMs);
        b.attachments << a;
    }
    if (const auto links = resolveToolResults(b.messages); !links)
        return BundleResult::failure(QStringLiteral("Conversation \"%1\": %2").arg(c.title, links.error()));
    return b;
}

QString roleHeading(const QString& role) {
    if (role.isEmpty()) return role;
    return role.left(1).toUpper() + role.mid(1);
}

}  // namespace

QString isoTime(qint64 ms) {
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

QJsonObject toJson(const Conversation& c) {
    return QJsonObject{
        {QStringLiteral("id"), double(c.id)},
        {QStringLiteral("title"), c.title},
        {QStringLiteral("created"), isoTime(c.createdMs)},
        {QStringLiteral("updated"), isoTime(c.updatedMs)},
        {QStringLiteral("model"), c.model},
        {QStringLiteral("system_prompt"), c.systemPrompt},
        {QStringLiteral("sampling"), c.sampling},
        {QStringLiteral("current_leaf"), idValue(c.currentLeafId)},
        {QStringLiteral("message_count"), c.messageCount},
    };
}

QJsonObject toJson(const Message& m) {
    QJsonObject o{
        {QStringLiteral("id"), double(m.id)},
        {QStringLiteral("parent"), idValue(m.parentId)},
        {QStringLiteral("role"), m.role},
        {QStringLiteral("content"), m.content},
        {QStringLiteral("created"), isoTime(m.createdMs)},
        {QStringLiteral("updated"), isoTime(m.updatedMs)},
        {QStringLiteral("status"), statusName(m.status)},
        {QStringLiteral("model"), m.model},
        {QStringLiteral("error"), m.error},
        {QStringLiteral("stats"),
         QJsonObject{{QStringLiteral("prompt_tokens"), m.stats.promptTokens},
                     {QStringLiteral("gen_tokens"), m.stats.genTokens},
                     {QStringLiteral("prompt_tps"), m.stats.promptTps},
                     {QStringLiteral("gen_tps"), m.stats.genTps},
                     {QStringLiteral("ttft_ms"), m.stats.ttftMs}}},
    };
    if (m.stats.drafted > 0) {  // only replies that were sped up, so others read as before
        QJsonObject stats = o.value(QStringLiteral("stats")).toObject();
        stats.insert(QStringLiteral("drafted"), m.stats.drafted);
        stats.insert(QStringLiteral("accepted"), m.stats.accepted);
        o.insert(QStringLiteral("stats"), stats);
    }
    // Only on messages that have them, so a plain message reads as it did in format version 1.
    if (!m.toolCalls.isEmpty()) {
        QJsonArray calls;
        for (const ToolCall& c : m.toolCalls) calls.append(toJson(c));
        o.insert(QStringLiteral("tool_calls"), calls);
    }
    if (m.toolResult) {
        o.insert(QStringLiteral("tool_call_id"), m.toolResult->callId);
        o.insert(QStringLiteral("is_error"), m.toolResult->isError);
        o.insert(QStringLiteral("truncated"), m.toolResult->truncated);
    }
    return o;
}

QJsonObject toJson(const ConversationBundle& b) {
    QJsonObject o = toJson(b.conversation);
    QJsonArray messages;
    for (const Message& m : b.messages) messages.append(toJson(m));
    QJsonArray attachments;
    for (const Attachment& a : b.attachments) attachments.append(toJson(a));
    o.insert(QStringLiteral("messages"), messages);
    o.insert(QStringLiteral("attachments"), attachments);
    return o;
}

QJsonObject toJson(const SearchHit& h) {
    return QJsonObject{
        {QStringLiteral("kind"), h.kind == SearchHit::Kind::Title ? QStringLiteral("title") : QStringLiteral("message")},
        {QStringLiteral("conversation"), double(h.conversationId)},
        {QStringLiteral("message"), h.messageId ? QJsonValue(double(h.messageId)) : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("title"), h.conversationTitle},
        {QStringLiteral("role"), h.role},
        {QStringLiteral("snippet"), h.snippet},
        {QStringLiteral("created"), isoTime(h.createdMs)},
    };
}

QByteArray exportJson(const QList<ConversationBundle>& bundles) {
    QJsonArray conversations;
    for (const ConversationBundle& b : bundles) conversations.append(toJson(b));
    const QJsonObject doc{
        {QStringLiteral("format"), QLatin1String(kExportFormat)},
        {QStringLiteral("version"), hasToolData(bundles) ? kExportFormatVersion : 1},
        {QStringLiteral("conversations"), conversations},
    };
    return QJsonDocument(doc).toJson(QJsonDocument::Indented);
}

Result<QList<ConversationBundle>> parseExportJson(const QByteArray& json) {
    using R = Result<QList<ConversationBundle>>;
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (!doc.isObject())
        return R::failure(QStringLiteral("Not a LlamaDesk export: %1.").arg(parseError.errorString()));
    const QJsonObject root = doc.object();
    QJsonArray items;
    if (root.contains(QStringLiteral("conversations"))) {
        if (root.value(QStringLiteral("format")).toString() != QLatin1String(kExportFormat))
            return R::failure(QStringLiteral("Not a LlamaDesk export (no \"format\": \"%1\").").arg(QLatin1String(kExportFormat)));
        if (root.value(QStringLiteral("version")).toInt() > kExportFormatVersion)
            return R::failure(QStringLiteral("This export was written by a newer LlamaDesk (format "
                                             "version %1); update LlamaDesk to import it.")
                                  .arg(root.value(QStringLiteral("version")).toInt()));
        items = root.value(QStringLiteral("conversations")).toArray();
    } else if (root.contains(QStringLiteral("messages"))) {
        items.append(root);
    } else {
        return R::failure(QStringLiteral("Not a LlamaDesk export: no conversations in it."));
    }
    QList<ConversationBundle> out;
    for (const QJsonValue& v : items) {
        BundleResult b = bundleFromJson(v.toObject());
        if (!b) return R::failure(b.error());
        out << std::move(b).value();
    }
    return out;
}

QString exportMarkdown(const QList<ConversationBundle>& bundles) {
    QString md;
    for (const ConversationBundle& b : bundles) {
        const Conversation& c = b.conversation;
        if (!md.isEmpty()) md += QStringLiteral("\n---\n\n");
        md += QStringLiteral("# %1\n\n").arg(c.title.isEmpty() ? QStringLiteral("Untitled conversation") : c.title);
        md += QStringLiteral("- Created: %1\n- Updated: %2\n").arg(isoTime(c.createdMs), isoTime(c.updatedMs));
        if (!c.model.isEmpty()) md += QStringLiteral("- Model: %1\n").arg(c.model);
        md += QLatin1Char('\n');
        if (!c.systemPrompt.isEmpty()) md += QStringLiteral("## System\n\n%1\n\n").arg(c.systemPrompt);

        // The branch the user was on: from the current leaf (or the newest message) upwards.
        QHash<qint64, const Message*> byId;
        for (const Message& m : b.messages) byId.insert(m.id, &m);
        std::optional<qint64> at = c.currentLeafId;
        if ((!at || !byId.contains(*at)) && !b.messages.isEmpty()) at = b.messages.last().id;
        QList<const Message*> branch;
        while (at && byId.contains(*at)) {
            branch.prepend(byId.value(*at));
            at = byId.value(*at)->parentId;
        }
        QHash<QString, const ToolCall*> callsAbove;  // by id, the nearest call on the branch so far
        for (const Message* m : branch) {
            if (m->toolResult) {
                const ToolCall* call = callsAbove.value(m->toolResult->callId);
                QString heading = QStringLiteral("Tool result");
                if (call) heading += QStringLiteral(": %1").arg(call->name);
                md += QStringLiteral("## %1\n\n").arg(heading);
                md += QStringLiteral("*Call %1%2%3*\n\n")
                          .arg(m->toolResult->callId, m->toolResult->isError ? QStringLiteral(", the tool reported an error") : QString(),
                               m->toolResult->truncated ? QStringLiteral(", truncated to fit the context") : QString());
                md += fenced(m->content, QString()) + QLatin1Char('\n');
                continue;
            }
            QString heading = roleHeading(m->role);
            if (!m->model.isEmpty() && m->role == QLatin1String("assistant"))
                heading += QStringLiteral(" (%1)").arg(m->model);
            md += QStringLiteral("## %1\n\n").arg(heading);
            if (!m->content.isEmpty() || m->toolCalls.isEmpty()) md += m->content + QStringLiteral("\n\n");
            for (const ToolCall& call : m->toolCalls) {
                callsAbove.insert(call.callId, &call);
                const QString server = call.server.isEmpty() ? QString() : QStringLiteral(" on %1").arg(call.server);
                md += QStringLiteral("**Tool call** `%1`%2 (call %3, %4):\n\n")
                          .arg(call.name, server, call.callId, decisionText(call.decision));
                md += fenced(prettyArguments(call.argumentsJson), QStringLiteral("json")) + QLatin1Char('\n');
            }
            if (m->status == MessageStatus::Interrupted) md += QStringLiteral("*(reply interrupted)*\n\n");
            if (m->status == MessageStatus::Error)
                md += QStringLiteral("*(generation failed: %1)*\n\n").arg(m->error);
            if (m->stats.genTokens > 0) {
                const QString drafts = m->stats.drafted > 0 ? QStringLiteral(", drafted %1, accepted %2")
                                                                   .arg(m->stats.drafted).arg(m->stats.accepted)
                                                             : QString();
                md += QStringLiteral("*%1 tokens, %2 tok/s%4, first token after %3 ms*\n\n")
                          .arg(m->stats.genTokens).arg(m->stats.genTps, 0, 'f', 1).arg(m->stats.ttftMs, 0, 'f', 0).arg(drafts);
            }
        }
        const qsizetype hidden = b.messages.size() - branch.size();
        if (hidden > 0)
            md += QStringLiteral("*(%1 message(s) on other branches not shown; export as JSON to keep them.)*\n\n").arg(hidden);
    }
    return md;
}

}  // namespace ld::history
