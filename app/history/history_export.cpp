#include "app/history/history_export.h"

#include <QDateTime>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>

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
    return QJsonObject{
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
        {QStringLiteral("version"), kExportFormatVersion},
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
        for (const Message* m : branch) {
            QString heading = roleHeading(m->role);
            if (!m->model.isEmpty() && m->role == QLatin1String("assistant"))
                heading += QStringLiteral(" (%1)").arg(m->model);
            md += QStringLiteral("## %1\n\n%2\n\n").arg(heading, m->content);
            if (m->status == MessageStatus::Interrupted) md += QStringLiteral("*(reply interrupted)*\n\n");
            if (m->status == MessageStatus::Error)
                md += QStringLiteral("*(generation failed: %1)*\n\n").arg(m->error);
            if (m->stats.genTokens > 0)
                md += QStringLiteral("*%1 tokens, %2 tok/s, first token after %3 ms*\n\n")
                          .arg(m->stats.genTokens).arg(m->stats.genTps, 0, 'f', 1).arg(m->stats.ttftMs, 0, 'f', 0);
        }
        const qsizetype hidden = b.messages.size() - branch.size();
        if (hidden > 0)
            md += QStringLiteral("*(%1 message(s) on other branches not shown; export as JSON to keep them.)*\n\n").arg(hidden);
    }
    return md;
}

}  // namespace ld::history
