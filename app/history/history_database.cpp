// The history's operations on an open connection. Every write is its own short transaction
// (BEGIN IMMEDIATE, so a second writer waits instead of deadlocking on a lock upgrade).
#include "app/history/history_database.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSet>
#include <QSqlError>

#include "app/history/history_errors.h"
#include "app/history/history_sql.h"
#include "app/history/tool_links.h"

namespace ld::history {
namespace {

qint64 nowMs() { return QDateTime::currentMSecsSinceEpoch(); }

QVariant optionalId(const std::optional<qint64>& id) {
    return id ? QVariant(*id) : QVariant(QMetaType(QMetaType::LongLong));
}

std::optional<qint64> idOrNone(const QVariant& v) {
    if (v.isNull()) return std::nullopt;
    return v.toLongLong();
}

Conversation readConversation(const QSqlQuery& q) {
    Conversation c;
    c.id = q.value(0).toLongLong();
    c.title = q.value(1).toString();
    c.createdMs = q.value(2).toLongLong();
    c.updatedMs = q.value(3).toLongLong();
    c.model = q.value(4).toString();
    c.systemPrompt = q.value(5).toString();
    c.sampling = QJsonDocument::fromJson(q.value(6).toString().toUtf8()).object();
    c.currentLeafId = idOrNone(q.value(7));
    c.messageCount = q.value(8).toInt();
    return c;
}

Message readMessage(const QSqlQuery& q) {
    Message m;
    m.id = q.value(0).toLongLong();
    m.conversationId = q.value(1).toLongLong();
    m.parentId = idOrNone(q.value(2));
    m.role = q.value(3).toString();
    m.content = q.value(4).toString();
    m.createdMs = q.value(5).toLongLong();
    m.updatedMs = q.value(6).toLongLong();
    m.status = messageStatusFromString(q.value(7).toString()).value_or(MessageStatus::Error);
    m.model = q.value(8).toString();
    m.stats.promptTokens = q.value(9).toInt();
    m.stats.genTokens = q.value(10).toInt();
    m.stats.promptTps = q.value(11).toDouble();
    m.stats.genTps = q.value(12).toDouble();
    m.stats.ttftMs = q.value(13).toDouble();
    m.error = q.value(14).toString();
    m.stats.drafted = q.value(15).toInt();
    m.stats.accepted = q.value(16).toInt();
    return m;
}

Attachment readAttachment(const QSqlQuery& q) {
    Attachment a;
    a.id = q.value(0).toLongLong();
    a.conversationId = q.value(1).toLongLong();
    a.messageId = idOrNone(q.value(2));
    a.fileName = q.value(3).toString();
    a.sha256 = q.value(4).toString();
    a.sizeBytes = q.value(5).toLongLong();
    a.mimeType = q.value(6).toString();
    a.extractedText = q.value(7).toString();
    a.summary = q.value(8).toString();
    a.createdMs = q.value(9).toLongLong();
    return a;
}

QString samplingText(const QJsonObject& sampling) {
    return QString::fromUtf8(QJsonDocument(sampling).toJson(QJsonDocument::Compact));
}

// A null QString binds as SQL NULL; every text column is NOT NULL, and "no text" is ''.
void bindAll(QSqlQuery& q, const QVariantList& binds) {
    for (int i = 0; i < binds.size(); ++i) {
        const QVariant& v = binds[i];
        if (v.typeId() == QMetaType::QString && v.toString().isNull())
            q.bindValue(i, QString(""));
        else
            q.bindValue(i, v);
    }
}

// Releases the statement's read snapshot so WAL checkpoints are not held back.
struct Finish {
    QSqlQuery& q;
    ~Finish() { q.finish(); }
};

}  // namespace

QString statusName(MessageStatus status) {
    switch (status) {
    case MessageStatus::Complete: return QStringLiteral("complete");
    case MessageStatus::Streaming: return QStringLiteral("streaming");
    case MessageStatus::Interrupted: return QStringLiteral("interrupted");
    case MessageStatus::Error: return QStringLiteral("error");
    }
    return QStringLiteral("error");
}

std::optional<MessageStatus> messageStatusFromString(const QString& text) {
    if (text == QLatin1String("complete")) return MessageStatus::Complete;
    if (text == QLatin1String("streaming")) return MessageStatus::Streaming;
    if (text == QLatin1String("interrupted")) return MessageStatus::Interrupted;
    if (text == QLatin1String("error")) return MessageStatus::Error;
    return std::nullopt;
}

QString heuristicTitle(const QString& firstUserText, int maxChars) {
    QString line = firstUserText.trimmed().section(QLatin1Char('\n'), 0, 0).simplified();
    if (line.size() <= maxChars) return line;
    int cut = line.lastIndexOf(QLatin1Char(' '), maxChars);
    if (cut < maxChars / 2) cut = maxChars;
    return line.left(cut).trimmed() + QStringLiteral("…");
}

QString ftsQueryFor(const QString& text) {
    static const QRegularExpression kSpace(QStringLiteral("\\s+"));
    QStringList terms;
    for (QString word : text.split(kSpace, Qt::SkipEmptyParts)) {
        word.replace(QLatin1Char('"'), QStringLiteral("\"\""));
        terms << QLatin1Char('"') + word + QLatin1Char('"');
    }
    if (terms.isEmpty()) return {};
    terms.last() += QLatin1Char('*');
    return terms.join(QLatin1Char(' '));
}

QSqlQuery& HistoryDatabase::statement(const char* sqlText) {
    auto it = statements_.find(sqlText);
    if (it == statements_.end()) {
        QSqlQuery q(db_);
        q.prepare(QString::fromUtf8(sqlText));
        it = statements_.insert(sqlText, q);
    }
    return it.value();
}

Status HistoryDatabase::readOnlyError(const QString& action) const {
    return Status::failure(QStringLiteral("Could not %1: the history database %2 is read-only.")
                               .arg(action, path_));
}

Status HistoryDatabase::exec(const char* sqlText, const QVariantList& binds, const QString& action) {
    QSqlQuery& q = statement(sqlText);
    bindAll(q, binds);
    Finish f{q};
    if (!q.exec()) return Status::failure(describe(q.lastError(), action));
    return ok();
}

Status HistoryDatabase::beginWrite(const QString& action) {
    if (readOnly_) return readOnlyError(action);
    QSqlQuery q(db_);
    if (!q.exec(QString::fromUtf8(sql::kBeginImmediate)))
        return Status::failure(describe(q.lastError(), action));
    return ok();
}

Status HistoryDatabase::commit(const QString& action) {
    QSqlQuery q(db_);
    if (!q.exec(QString::fromUtf8(sql::kCommit))) {
        const QString text = describe(q.lastError(), action);
        rollback();
        return Status::failure(text);
    }
    return ok();
}

void HistoryDatabase::rollback() {
    QSqlQuery q(db_);
    q.exec(QString::fromUtf8(sql::kRollback));
}

Result<Conversation> HistoryDatabase::createConversation(const NewConversation& c) {
    const QString action = QStringLiteral("create a conversation");
    if (readOnly_) return Result<Conversation>::failure(readOnlyError(action).error());
    const qint64 now = nowMs();
    QSqlQuery& q = statement(sql::kInsertConversation);
    bindAll(q, {c.title, now, now, c.model, c.systemPrompt, samplingText(c.sampling)});
    Finish f{q};
    if (!q.exec()) return Result<Conversation>::failure(describe(q.lastError(), action));
    return conversation(q.lastInsertId().toLongLong());
}

Result<Conversation> HistoryDatabase::conversation(qint64 id) {
    QSqlQuery& q = statement(sql::kSelectConversation);
    q.bindValue(0, id);
    Finish f{q};
    if (!q.exec()) return Result<Conversation>::failure(describe(q.lastError(), QStringLiteral("read a conversation")));
    if (!q.next()) return Result<Conversation>::failure(QStringLiteral("There is no conversation %1.").arg(id));
    return readConversation(q);
}

Result<QList<Conversation>> HistoryDatabase::listConversations(int offset, int limit) {
    QSqlQuery& q = statement(sql::kListConversations);
    q.bindValue(0, limit);
    q.bindValue(1, offset);
    Finish f{q};
    if (!q.exec())
        return Result<QList<Conversation>>::failure(describe(q.lastError(), QStringLiteral("list conversations")));
    QList<Conversation> out;
    while (q.next()) out << readConversation(q);
    return out;
}

Result<int> HistoryDatabase::conversationCount() {
    QSqlQuery& q = statement(sql::kCountConversations);
    Finish f{q};
    if (!q.exec() || !q.next())
        return Result<int>::failure(describe(q.lastError(), QStringLiteral("count conversations")));
    return q.value(0).toInt();
}

Status HistoryDatabase::renameConversation(qint64 id, const QString& title) {
    const QString action = QStringLiteral("rename the conversation");
    if (readOnly_) return readOnlyError(action);
    return exec(sql::kRenameConversation, {title.trimmed(), id}, action);
}

Result<bool> HistoryDatabase::applyAutoTitle(qint64 id, const QString& title) {
    const QString action = QStringLiteral("set the conversation's title");
    if (readOnly_) return Result<bool>::failure(readOnlyError(action).error());
    QSqlQuery& q = statement(sql::kSetTitleIfEmpty);
    bindAll(q, {title.trimmed(), id});
    Finish f{q};
    if (!q.exec()) return Result<bool>::failure(describe(q.lastError(), action));
    return q.numRowsAffected() > 0;
}

Status HistoryDatabase::updateConversationSettings(qint64 id, const QString& model,
                                                   const QString& systemPrompt,
                                                   const QJsonObject& sampling) {
    const QString action = QStringLiteral("save the conversation's settings");
    if (readOnly_) return readOnlyError(action);
    return exec(sql::kUpdateConversationSettings, {model, systemPrompt, samplingText(sampling), id}, action);
}

Status HistoryDatabase::deleteConversation(qint64 id) {
    const QString action = QStringLiteral("delete the conversation");
    if (readOnly_) return readOnlyError(action);
    return exec(sql::kDeleteConversation, {id}, action);
}

Status HistoryDatabase::setCurrentLeaf(qint64 conversationId, qint64 messageId) {
    const QString action = QStringLiteral("switch branches");
    if (readOnly_) return readOnlyError(action);
    const Result<Message> m = message(messageId);
    if (!m) return Status::failure(m.error());
    if (m->conversationId != conversationId)
        return Status::failure(QStringLiteral("Message %1 is not part of conversation %2.")
                                   .arg(messageId).arg(conversationId));
    return exec(sql::kSetCurrentLeaf, {messageId, conversationId}, action);
}

Result<qint64> HistoryDatabase::duplicateConversation(qint64 id, std::optional<qint64> upToMessage) {
    Result<ConversationBundle> source = bundle(id);
    if (!source) return Result<qint64>::failure(source.error());
    ConversationBundle copy = std::move(source).value();
    if (upToMessage) {
        QHash<qint64, Message> byId;
        for (const Message& m : copy.messages) byId.insert(m.id, m);
        if (!byId.contains(*upToMessage))
            return Result<qint64>::failure(QStringLiteral("Message %1 is not part of conversation %2.")
                                               .arg(*upToMessage).arg(id));
        QList<Message> branch;
        for (std::optional<qint64> at = upToMessage; at && byId.contains(*at); at = byId[*at].parentId)
            branch.prepend(byId[*at]);
        QSet<qint64> kept;
        for (const Message& m : branch) kept.insert(m.id);
        QList<Attachment> attachments;
        for (const Attachment& a : copy.attachments)
            if (!a.messageId || kept.contains(*a.messageId)) attachments << a;
        copy.messages = branch;
        copy.attachments = attachments;
        copy.conversation.currentLeafId = upToMessage;
        copy.conversation.title += QStringLiteral(" (branch)");
    } else {
        copy.conversation.title += QStringLiteral(" (copy)");
    }
    copy.conversation.createdMs = copy.conversation.updatedMs = nowMs();
    return importBundle(copy);
}

Result<qint64> HistoryDatabase::insertMessage(const NewMessage& m, qint64 now) {
    const QString action = QStringLiteral("save the message");
    if (Status s = checkToolCalls(m.role, m.toolCalls, QStringLiteral("The message")); !s)
        return Result<qint64>::failure(QStringLiteral("Could not save the message: ") + s.error());
    if (m.toolResult && m.role != QLatin1String(kToolRole))
        return Result<qint64>::failure(QStringLiteral("Could not save the message: a tool result needs the role \"tool\"."));
    std::optional<qint64> parent = m.parentId;
    if (!m.explicitParent && !parent) {
        const Result<Conversation> c = conversation(m.conversationId);
        if (!c) return Result<qint64>::failure(c.error());
        parent = c->currentLeafId;
    }
    const qint64 created = m.createdMs.value_or(now);
    QSqlQuery& q = statement(sql::kInsertMessage);
    bindAll(q, {m.conversationId, optionalId(parent), m.role, m.content, created, created,
                statusName(m.status), m.model, m.stats.promptTokens, m.stats.genTokens,
                m.stats.promptTps, m.stats.genTps, m.stats.ttftMs, m.error, m.stats.drafted, m.stats.accepted});
    qint64 id = 0;
    {
        Finish f{q};
        if (!q.exec()) return Result<qint64>::failure(describe(q.lastError(), action));
        id = q.lastInsertId().toLongLong();  // before finish(), which forgets it
    }
    if (Status s = insertToolCalls(id, m.toolCalls); !s) return Result<qint64>::failure(s.error());
    if (m.toolResult) {
        if (Status s = insertToolResult(id, parent, *m.toolResult); !s) return Result<qint64>::failure(s.error());
    }
    return id;
}

Result<Message> HistoryDatabase::addMessage(const NewMessage& m) {
    const QString action = QStringLiteral("save the message");
    if (Status s = beginWrite(action); !s) return Result<Message>::failure(s.error());
    const qint64 now = nowMs();
    const Result<qint64> id = insertMessage(m, now);
    if (!id) {
        rollback();
        return Result<Message>::failure(id.error());
    }
    if (Status s = exec(sql::kTouchConversation, {now, id.value(), m.conversationId}, action); !s) {
        rollback();
        return Result<Message>::failure(s.error());
    }
    if (Status s = commit(action); !s) return Result<Message>::failure(s.error());
    return message(id.value());
}

Result<Message> HistoryDatabase::message(qint64 id) {
    QSqlQuery& q = statement(sql::kSelectMessage);
    q.bindValue(0, id);
    Finish f{q};
    if (!q.exec()) return Result<Message>::failure(describe(q.lastError(), QStringLiteral("read a message")));
    if (!q.next()) return Result<Message>::failure(QStringLiteral("There is no message %1.").arg(id));
    Message m = readMessage(q);
    q.finish();
    if (Status s = loadToolData(m); !s) return Result<Message>::failure(s.error());
    return m;
}

Result<QList<Message>> HistoryDatabase::messages(qint64 conversationId) {
    QSqlQuery& q = statement(sql::kSelectMessages);
    q.bindValue(0, conversationId);
    Finish f{q};
    if (!q.exec())
        return Result<QList<Message>>::failure(describe(q.lastError(), QStringLiteral("read the conversation")));
    QList<Message> out;
    while (q.next()) out << readMessage(q);
    q.finish();
    if (Status s = loadToolData(out, conversationId); !s) return Result<QList<Message>>::failure(s.error());
    return out;
}

Result<QList<Message>> HistoryDatabase::activeBranch(qint64 conversationId) {
    const Result<Conversation> c = conversation(conversationId);
    if (!c) return Result<QList<Message>>::failure(c.error());
    Result<QList<Message>> all = messages(conversationId);
    if (!all || all->isEmpty()) return all;
    QHash<qint64, qsizetype> index;
    for (qsizetype i = 0; i < all->size(); ++i) index.insert(all->at(i).id, i);
    std::optional<qint64> at = c->currentLeafId;
    if (!at || !index.contains(*at)) at = all->last().id;
    QList<Message> branch;
    while (at && index.contains(*at)) {
        const Message& m = all->at(index.value(*at));
        branch.prepend(m);
        at = m.parentId;
    }
    return branch;
}

Result<Message> HistoryDatabase::beginReply(qint64 conversationId, std::optional<qint64> parentId,
                                            const QString& model) {
    // A notice stored between a message and its reply (a bad file dropped meanwhile) hangs under
    // the message; a reply under the same message would be its sibling and push it off the active
    // branch. So when the current leaf is such a chain of notices below the parent, the reply
    // goes under the last of them. Regenerating (the leaf is an earlier reply) is unaffected.
    if (parentId) {
        const Result<Conversation> c = conversation(conversationId);
        if (!c) return Result<Message>::failure(c.error());
        std::optional<qint64> at = c->currentLeafId;
        while (at && *at != *parentId) {
            const Result<Message> row = message(*at);
            if (!row || row->role != QLatin1String(kNoticeRole)) break;
            at = row->parentId;
        }
        if (at && *at == *parentId) parentId = c->currentLeafId;
    }
    NewMessage m;
    m.conversationId = conversationId;
    m.parentId = parentId;
    m.explicitParent = parentId.has_value();
    m.role = QStringLiteral("assistant");
    m.status = MessageStatus::Streaming;
    m.model = model;
    return addMessage(m);
}

Status HistoryDatabase::checkpointReply(qint64 messageId, const QString& content) {
    const QString action = QStringLiteral("save the reply so far");
    if (readOnly_) return readOnlyError(action);
    // A single UPDATE is its own (implicit) transaction: one fsync'd WAL commit.
    return exec(sql::kCheckpointMessage, {content, nowMs(), messageId}, action);
}

Status HistoryDatabase::finishMessage(qint64 messageId, const QString& content, MessageStatus status,
                                      const GenerationStats& s, const QString& error) {
    const QString action = QStringLiteral("save the reply");
    if (readOnly_) return readOnlyError(action);
    return exec(sql::kFinishMessage,
                {content, nowMs(), statusName(status), s.promptTokens, s.genTokens, s.promptTps,
                 s.genTps, s.ttftMs, error, s.drafted, s.accepted, messageId},
                action);
}

Result<int> HistoryDatabase::recoverInterrupted() {
    const QString action = QStringLiteral("recover interrupted replies");
    if (readOnly_) return Result<int>::failure(readOnlyError(action).error());
    QSqlQuery& q = statement(sql::kRecoverStreaming);
    Finish f{q};
    if (!q.exec()) return Result<int>::failure(describe(q.lastError(), action));
    return q.numRowsAffected();
}

Result<Attachment> HistoryDatabase::addAttachment(const Attachment& a) {
    const QString action = QStringLiteral("save the attachment");
    if (readOnly_) return Result<Attachment>::failure(readOnlyError(action).error());
    QSqlQuery& q = statement(sql::kInsertAttachment);
    bindAll(q, {a.conversationId, optionalId(a.messageId), a.fileName, a.sha256, a.sizeBytes,
                a.mimeType, a.extractedText, a.summary, a.createdMs ? a.createdMs : nowMs()});
    Finish f{q};
    if (!q.exec()) return Result<Attachment>::failure(describe(q.lastError(), action));
    Attachment saved = a;
    saved.id = q.lastInsertId().toLongLong();
    if (!saved.createdMs) saved.createdMs = nowMs();
    return saved;
}

Result<QList<Attachment>> HistoryDatabase::attachments(qint64 conversationId) {
    QSqlQuery& q = statement(sql::kSelectAttachments);
    q.bindValue(0, conversationId);
    Finish f{q};
    if (!q.exec())
        return Result<QList<Attachment>>::failure(describe(q.lastError(), QStringLiteral("read attachments")));
    QList<Attachment> out;
    while (q.next()) out << readAttachment(q);
    return out;
}

Result<qint64> HistoryDatabase::setAttachmentSummary(qint64 attachmentId, const QString& summary) {
    using R = Result<qint64>;
    const QString action = QStringLiteral("save the document summary");
    if (readOnly_) return R::failure(readOnlyError(action).error());
    qint64 conversationId = 0;
    {
        QSqlQuery& q = statement(sql::kSelectAttachmentConversation);
        q.bindValue(0, attachmentId);
        Finish f{q};
        if (!q.exec()) return R::failure(describe(q.lastError(), action));
        if (!q.next())
            return R::failure(QStringLiteral("Could not save the document summary: the document is no longer in "
                                             "the history (attachment %1).").arg(attachmentId));
        conversationId = q.value(0).toLongLong();
    }
    // The store's single writer thread runs this, so the row cannot vanish in between.
    const Status s = exec(sql::kUpdateAttachmentSummary, {summary, attachmentId}, action);
    if (!s) return R::failure(s.error());
    return conversationId;
}

Result<QList<SearchHit>> HistoryDatabase::search(const QString& text, const SearchOptions& o) {
    const QString query = ftsQueryFor(text);
    QList<SearchHit> hits;
    if (query.isEmpty()) return hits;
    const QString action = QStringLiteral("search the history");

    QSqlQuery& titles = statement(sql::kSearchTitles);
    bindAll(titles, {o.highlightOpen, o.highlightClose, query, o.limit});
    {
        Finish f{titles};
        if (!titles.exec()) return Result<QList<SearchHit>>::failure(describe(titles.lastError(), action));
        while (titles.next()) {
            SearchHit h;
            h.kind = SearchHit::Kind::Title;
            h.conversationId = titles.value(0).toLongLong();
            h.conversationTitle = titles.value(1).toString();
            h.createdMs = titles.value(2).toLongLong();
            h.snippet = titles.value(3).toString();
            hits << h;
        }
    }
    QSqlQuery& q = statement(sql::kSearchMessages);
    bindAll(q, {o.highlightOpen, o.highlightClose, query, o.limit});
    Finish f{q};
    if (!q.exec()) return Result<QList<SearchHit>>::failure(describe(q.lastError(), action));
    while (q.next()) {
        SearchHit h;
        h.kind = SearchHit::Kind::Message;
        h.messageId = q.value(0).toLongLong();
        h.conversationId = q.value(1).toLongLong();
        h.conversationTitle = q.value(2).toString();
        h.role = q.value(3).toString();
        h.createdMs = q.value(4).toLongLong();
        h.snippet = q.value(5).toString();
        hits << h;
    }
    return hits;
}

Result<ConversationBundle> HistoryDatabase::bundle(qint64 conversationId) {
    ConversationBundle b;
    Result<Conversation> c = conversation(conversationId);
    if (!c) return Result<ConversationBundle>::failure(c.error());
    b.conversation = c.value();
    Result<QList<Message>> m = messages(conversationId);
    if (!m) return Result<ConversationBundle>::failure(m.error());
    b.messages = m.value();
    Result<QList<Attachment>> a = attachments(conversationId);
    if (!a) return Result<ConversationBundle>::failure(a.error());
    b.attachments = a.value();
    return b;
}

Result<QList<qint64>> HistoryDatabase::allConversationIds() {
    QSqlQuery& q = statement(sql::kSelectAllConversationIds);
    Finish f{q};
    if (!q.exec())
        return Result<QList<qint64>>::failure(describe(q.lastError(), QStringLiteral("list conversations")));
    QList<qint64> ids;
    while (q.next()) ids << q.value(0).toLongLong();
    return ids;
}

Result<qint64> HistoryDatabase::importBundle(const ConversationBundle& b) {
    const Result<QList<qint64>> ids = importBundles({b});
    if (!ids) return Result<qint64>::failure(ids.error());
    return ids->first();
}

Result<QList<qint64>> HistoryDatabase::importBundles(const QList<ConversationBundle>& bundles) {
    const QString action = QStringLiteral("import the conversation");
    using R = Result<QList<qint64>>;
    // Checked before the transaction: a file with a broken link imports nothing.
    for (const ConversationBundle& b : bundles) {
        const auto links = resolveToolResults(b.messages);
        if (!links)
            return R::failure(QStringLiteral("Could not import \"%1\": %2").arg(b.conversation.title, links.error()));
    }
    if (Status s = beginWrite(action); !s) return R::failure(s.error());
    QList<qint64> ids;
    for (const ConversationBundle& b : bundles) {
        const Result<qint64> id = importInTransaction(b);
        if (!id) {
            rollback();
            return R::failure(id.error());
        }
        ids << id.value();
    }
    if (Status s = commit(action); !s) return R::failure(s.error());
    return ids;
}

// Inside the caller's transaction; the caller rolls back on failure.
Result<qint64> HistoryDatabase::importInTransaction(const ConversationBundle& b) {
    const QString action = QStringLiteral("import the conversation");
    using R = Result<qint64>;
    auto fail = [&](const QString& text) { return R::failure(text); };
    const Conversation& c = b.conversation;
    QSqlQuery& ins = statement(sql::kInsertConversationFull);
    bindAll(ins, {c.title, c.createdMs, c.updatedMs, c.model, c.systemPrompt,
                  samplingText(c.sampling), QVariant(QMetaType(QMetaType::LongLong))});
    if (!ins.exec()) {
        const QString text = describe(ins.lastError(), action);
        ins.finish();
        return fail(text);
    }
    const qint64 conversationId = ins.lastInsertId().toLongLong();
    ins.finish();

    // Two passes so a parent may appear after its child in the file.
    QHash<qint64, qint64> newIds;
    for (const Message& m : b.messages) {
        NewMessage n;
        n.conversationId = conversationId;
        n.explicitParent = true;
        n.role = m.role;
        n.content = m.content;
        n.status = m.status;
        n.model = m.model;
        n.stats = m.stats;
        n.error = m.error;
        n.createdMs = m.createdMs;
        n.toolCalls = m.toolCalls;  // results are linked below, once parents are in place
        const R id = insertMessage(n, m.createdMs);
        if (!id) return fail(id.error());
        newIds.insert(m.id, id.value());
        // insertMessage stamps updated = created; keep the original.
        if (m.updatedMs != m.createdMs) {
            if (Status s = exec(sql::kSetMessageUpdated, {m.updatedMs, id.value()}, action); !s)
                return fail(s.error());
        }
    }
    for (const Message& m : b.messages) {
        if (!m.parentId) continue;
        if (!newIds.contains(*m.parentId))
            return fail(QStringLiteral("Could not import: message %1 refers to a missing parent %2.")
                            .arg(m.id).arg(*m.parentId));
        if (Status s = exec(sql::kUpdateMessageParent, {newIds.value(*m.parentId), newIds.value(m.id)}, action); !s)
            return fail(s.error());
    }
    for (const Message& m : b.messages) {
        if (!m.toolResult) continue;
        const std::optional<qint64> parent =
            m.parentId ? std::optional(newIds.value(*m.parentId)) : std::nullopt;
        if (Status s = insertToolResult(newIds.value(m.id), parent, *m.toolResult); !s)
            return fail(s.error());
    }
    for (const Attachment& a : b.attachments) {
        Attachment copy = a;
        copy.conversationId = conversationId;
        if (a.messageId) copy.messageId = newIds.contains(*a.messageId) ? std::optional(newIds.value(*a.messageId)) : std::nullopt;
        const Result<Attachment> saved = addAttachment(copy);
        if (!saved) return fail(saved.error());
    }
    std::optional<qint64> leaf;
    if (c.currentLeafId && newIds.contains(*c.currentLeafId)) leaf = newIds.value(*c.currentLeafId);
    if (Status s = exec(sql::kTouchConversation, {c.updatedMs, optionalId(leaf), conversationId}, action); !s)
        return fail(s.error());
    return conversationId;
}

QVariant HistoryDatabase::pragma(const QString& name) {
    static const QRegularExpression kName(QStringLiteral("^[a-z_]+$"));
    if (!kName.match(name).hasMatch()) return {};
    QSqlQuery q(db_);
    if (!q.exec(QStringLiteral("PRAGMA ") + name) || !q.next()) return {};
    return q.value(0);
}

void HistoryDatabase::setMaxPageCountForTesting(qint64 pages) {
    QSqlQuery q(db_);
    q.exec(QStringLiteral("PRAGMA max_page_count=%1").arg(pages));
}

}  // namespace ld::history
