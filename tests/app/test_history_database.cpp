// HistoryDatabase, the synchronous core: schema and migration, operations, search,
// export/import, and the bad conditions (damaged, newer, foreign, read-only, full).
#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <atomic>
#include <thread>

#include "app/history/exchange_recorder.h"
#include "app/history/history_database.h"
#include "app/history/history_export.h"
#include "app/history/history_sql.h"
#include "tests/app/history_export_json.h"
#include "tests/app/history_raw_db.h"
#include "app/history/reply_writer.h"

using namespace ld::history;
using namespace ld::history::testing;

namespace {

QByteArray fileHash(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

Message add(HistoryDatabase& db, qint64 conversation, const QString& role, const QString& text,
            std::optional<qint64> parent = {}) {
    NewMessage m;
    m.conversationId = conversation;
    m.role = role;
    m.content = text;
    if (parent) {
        m.parentId = parent;
        m.explicitParent = true;
    }
    const Result<Message> r = db.addMessage(m);
    if (!r) qWarning("addMessage failed: %s", qPrintable(r.error()));
    return r ? r.value() : Message{};
}

qint64 newConversation(HistoryDatabase& db, const QString& title = {}) {
    NewConversation n;
    n.title = title;
    n.model = QStringLiteral("tiny-llama");
    const Result<Conversation> c = db.createConversation(n);
    return c ? c->id : 0;
}

}  // namespace

class TestHistoryDatabase : public QObject {
    Q_OBJECT

private slots:
    void init() { QVERIFY(dir_.isValid()); path_ = dir_.filePath(QStringLiteral("history-%1.db").arg(++n_)); }

    void freshDatabaseIsDurableAndCurrent() {
        OpenReport report;
        auto db = openOrFail(path_, &report);
        QVERIFY(db);
        QCOMPARE(report.schemaVersion, sql::kCurrentSchemaVersion);
        QCOMPARE(report.migratedFrom, 0);
        QVERIFY(report.notices.isEmpty());
        QCOMPARE(db->pragma(QStringLiteral("journal_mode")).toString(), QStringLiteral("wal"));
        QCOMPARE(db->pragma(QStringLiteral("synchronous")).toInt(), 2);  // FULL
        QCOMPARE(db->pragma(QStringLiteral("foreign_keys")).toInt(), 1);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), qint64(sql::kCurrentSchemaVersion));
    }

    void defaultPathIsInXdgDataDir() {
        qputenv("XDG_DATA_HOME", dir_.path().toUtf8());
        QCOMPARE(defaultDatabasePath(), dir_.filePath(QStringLiteral("llamadesk/history.db")));
        qunsetenv("XDG_DATA_HOME");
    }

    void migratesV1Fixture() {
        QFile fixture(QStringLiteral(LLAMADESK_SOURCE_DIR "/tests/app/fixtures/history_v1.sql"));
        QVERIFY(fixture.open(QIODevice::ReadOnly));
        QStringList statements;
        for (const QString& s : QString::fromUtf8(fixture.readAll()).split(QStringLiteral(";\n"))) {
            QStringList lines;
            for (const QString& line : s.split(QLatin1Char('\n')))
                if (!line.startsWith(QStringLiteral("--"))) lines << line;
            statements << lines.join(QLatin1Char('\n'));
        }
        QVERIFY(rawExec(path_, statements));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 1);

        OpenReport report;
        auto db = openOrFail(path_, &report);
        QVERIFY(db);
        QCOMPARE(report.migratedFrom, 1);
        QCOMPARE(report.schemaVersion, sql::kCurrentSchemaVersion);
        QCOMPARE(report.recoveredInterrupted, 1);  // the reply v1 left streaming
        QCOMPARE(report.notices.size(), 2);

        const Result<Conversation> c = db->conversation(1);
        QVERIFY(c);
        QCOMPARE(c->title, QStringLiteral("Sourdough starter"));
        QCOMPARE(c->systemPrompt, QStringLiteral("You are a helpful baker."));
        QCOMPARE(c->currentLeafId, std::optional<qint64>(4));
        QCOMPARE(c->messageCount, 4);
        const Result<QList<Message>> branch = db->activeBranch(1);
        QVERIFY(branch);
        QCOMPARE(branch->size(), 4);
        QVERIFY(!branch->at(0).parentId);
        for (int i = 1; i < 4; ++i) QCOMPARE(branch->at(i).parentId, std::optional<qint64>(branch->at(i - 1).id));
        QCOMPARE(branch->at(3).content, QStringLiteral("Refrigerate it; it slows the yeast down."));
        QCOMPARE(branch->at(3).updatedMs, qint64(1700000300000));

        const Result<Message> cut = db->message(6);
        QVERIFY(cut);
        QCOMPARE(cut->status, MessageStatus::Interrupted);
        QVERIFY(cut->content.startsWith(QStringLiteral("Walk the Altstadt")));

        // Old content is searchable after the upgrade, diacritics folded.
        const auto hits = db->search(QStringLiteral("zurich"));
        QVERIFY(hits);
        QCOMPARE(hits->size(), 2);  // the title and the user message
        const auto boat = db->search(QStringLiteral("boat lake"));
        QVERIFY(boat);
        QCOMPARE(boat->size(), 1);
        QCOMPARE(boat->at(0).messageId, qint64(6));

        db.reset();
        OpenReport again;
        QVERIFY(openOrFail(path_, &again));
        QCOMPARE(again.migratedFrom, 0);
        QCOMPARE(again.recoveredInterrupted, 0);
    }

    void noticeBetweenMessageAndReplyStaysOnTheBranch() {
        // A bad file dropped while a reply is about to start: its notice lands under the user's
        // message, and the reply must continue below it instead of hiding it on a side branch.
        auto db = openOrFail(path_);
        QVERIFY(db);
        const qint64 c = newConversation(*db);
        const Message u = add(*db, c, QStringLiteral("user"), QStringLiteral("Summarize this."));
        const Message n1 = add(*db, c, QString::fromLatin1(kNoticeRole), QStringLiteral("a.bin: not a document"));
        const Message n2 = add(*db, c, QString::fromLatin1(kNoticeRole), QStringLiteral("b.pdf: encrypted"));
        QCOMPARE(n1.parentId, std::optional<qint64>(u.id));
        const Result<Message> r = db->beginReply(c, u.id, QStringLiteral("m"));
        QVERIFY(r);
        QCOMPARE(r->parentId, std::optional<qint64>(n2.id));
        QVERIFY(db->finishMessage(r->id, QStringLiteral("Done."), MessageStatus::Complete, {}));
        auto branch = db->activeBranch(c);
        QVERIFY(branch);
        QCOMPARE(branch->size(), 4);
        QCOMPARE(branch->at(1).id, n1.id);
        QCOMPARE(branch->at(2).id, n2.id);
        QCOMPARE(branch->at(3).content, QStringLiteral("Done."));
        // Regenerating from the user message still makes a sibling of the first reply's chain.
        const Result<Message> again = db->beginReply(c, u.id, QStringLiteral("m"));
        QVERIFY(again);
        QCOMPARE(again->parentId, std::optional<qint64>(u.id));
    }

    void branchesKeepEarlierReplies() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        const qint64 c = newConversation(*db);
        const Message u = add(*db, c, QStringLiteral("user"), QStringLiteral("Name a colour."));
        const Message a1 = add(*db, c, QStringLiteral("assistant"), QStringLiteral("Red."));
        QCOMPARE(a1.parentId, std::optional<qint64>(u.id));
        // Regenerate: a sibling of a1.
        const Result<Message> a2 = db->beginReply(c, u.id, QStringLiteral("tiny-llama"));
        QVERIFY(a2);
        QCOMPARE(a2->status, MessageStatus::Streaming);
        QVERIFY(db->finishMessage(a2->id, QStringLiteral("Blue."), MessageStatus::Complete, {}));
        auto branch = db->activeBranch(c);
        QCOMPARE(branch->size(), 2);
        QCOMPARE(branch->at(1).content, QStringLiteral("Blue."));
        QCOMPARE(db->messages(c)->size(), 3);  // Red. is still there
        QVERIFY(db->setCurrentLeaf(c, a1.id));
        branch = db->activeBranch(c);
        QCOMPARE(branch->at(1).content, QStringLiteral("Red."));
        // A message of another conversation is not a valid leaf.
        const qint64 other = newConversation(*db);
        const Message foreign = add(*db, other, QStringLiteral("user"), QStringLiteral("hi"));
        QVERIFY(!db->setCurrentLeaf(c, foreign.id));
        // An edit of the first message: a new root.
        NewMessage edit;
        edit.conversationId = c;
        edit.explicitParent = true;
        edit.role = QStringLiteral("user");
        edit.content = QStringLiteral("Name a fruit.");
        const Result<Message> e = db->addMessage(edit);
        QVERIFY(e);
        QVERIFY(!e->parentId);
        QCOMPARE(db->activeBranch(c)->size(), 1);
    }

    void duplicateAndBranchFromMessage() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        const qint64 c = newConversation(*db, QStringLiteral("Plan"));
        const Message u1 = add(*db, c, QStringLiteral("user"), QStringLiteral("one"));
        const Message a1 = add(*db, c, QStringLiteral("assistant"), QStringLiteral("two"));
        add(*db, c, QStringLiteral("user"), QStringLiteral("three"));
        add(*db, c, QStringLiteral("assistant"), QStringLiteral("four"));
        Attachment doc;
        doc.conversationId = c;
        doc.messageId = u1.id;
        doc.fileName = QStringLiteral("notes.txt");
        QVERIFY(db->addAttachment(doc));

        const Result<qint64> copy = db->duplicateConversation(c);
        QVERIFY(copy);
        QCOMPARE(db->conversation(copy.value())->title, QStringLiteral("Plan (copy)"));
        QCOMPARE(db->messages(copy.value())->size(), 4);
        QCOMPARE(db->attachments(copy.value())->size(), 1);

        const Result<qint64> branch = db->duplicateConversation(c, a1.id);
        QVERIFY(branch);
        const auto msgs = db->activeBranch(branch.value());
        QCOMPARE(msgs->size(), 2);
        QCOMPARE(msgs->at(0).content, QStringLiteral("one"));
        QCOMPARE(msgs->at(1).content, QStringLiteral("two"));
        QCOMPARE(db->attachments(branch.value())->at(0).messageId, std::optional<qint64>(msgs->at(0).id));
        // Continuing the branch appends after its last message, not the original's.
        const Message next = add(*db, branch.value(), QStringLiteral("user"), QStringLiteral("other three"));
        QCOMPARE(next.parentId, std::optional<qint64>(msgs->at(1).id));
        QCOMPARE(db->messages(c)->size(), 4);  // the original is untouched
    }

    // The summary lands on the attachment and names its conversation; an unknown id (or one
    // whose conversation was deleted) is an error, not a silent no-op.
    void attachmentSummaryNeedsAKnownAttachment() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        const qint64 c = newConversation(*db);
        Attachment doc;
        doc.conversationId = c;
        doc.fileName = QStringLiteral("report.pdf");
        doc.extractedText = QStringLiteral("[p. 1] The kite flew.");
        const Result<Attachment> added = db->addAttachment(doc);
        QVERIFY(added);
        const Result<qint64> set = db->setAttachmentSummary(added->id, QStringLiteral("A kite [p. 1]."));
        QVERIFY2(set, qPrintable(set.error()));
        QCOMPARE(set.value(), c);
        QCOMPARE(db->attachments(c)->at(0).summary, QStringLiteral("A kite [p. 1]."));

        const Result<qint64> unknown = db->setAttachmentSummary(added->id + 1000, QStringLiteral("x"));
        QVERIFY(!unknown);
        QVERIFY2(unknown.error().contains(QStringLiteral("document summary")), qPrintable(unknown.error()));
        QVERIFY2(unknown.error().contains(QString::number(added->id + 1000)), qPrintable(unknown.error()));
        QVERIFY(db->deleteConversation(c));
        QVERIFY(!db->setAttachmentSummary(added->id, QStringLiteral("y")));
    }

    void renameDeleteAndAutoTitle() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        const qint64 c = newConversation(*db);
        const Message m = add(*db, c, QStringLiteral("user"), QStringLiteral("hello"));
        Attachment doc;
        doc.conversationId = c;
        doc.messageId = m.id;
        doc.fileName = QStringLiteral("a.pdf");
        doc.extractedText = QStringLiteral("text");
        QVERIFY(db->addAttachment(doc));

        QCOMPARE(db->applyAutoTitle(c, QStringLiteral("Greeting")).value(), true);
        QCOMPARE(db->applyAutoTitle(c, QStringLiteral("Other")).value(), false);  // never overrides
        QVERIFY(db->renameConversation(c, QStringLiteral("  My chat ")));
        QCOMPARE(db->conversation(c)->title, QStringLiteral("My chat"));
        QCOMPARE(db->applyAutoTitle(c, QStringLiteral("Auto")).value(), false);

        QCOMPARE(heuristicTitle(QStringLiteral("  Short question?\nsecond line")), QStringLiteral("Short question?"));
        const QString longTitle = heuristicTitle(QStringLiteral("word ").repeated(40));
        QVERIFY(longTitle.size() <= 61);
        QVERIFY(longTitle.endsWith(QStringLiteral("word…")));

        QVERIFY(db->deleteConversation(c));
        QVERIFY(!db->conversation(c));
        db.reset();
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM messages")), 0);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM attachments")), 0);
        auto again = openOrFail(path_);
        QVERIFY(again->search(QStringLiteral("hello"))->isEmpty());
        QVERIFY(again->search(QStringLiteral("chat"))->isEmpty());
    }

    void listsNewestFirstInPages() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        QList<qint64> ids;
        for (int i = 0; i < 7; ++i) {
            ids << newConversation(*db, QStringLiteral("c%1").arg(i));
            QThread::msleep(2);  // distinct updated_at
        }
        add(*db, ids[2], QStringLiteral("user"), QStringLiteral("bump"));  // now the newest
        QList<qint64> seen;
        for (int offset = 0;; offset += 3) {
            const auto page = db->listConversations(offset, 3);
            QVERIFY(page);
            for (const Conversation& c : page.value()) seen << c.id;
            if (page->size() < 3) break;
        }
        QCOMPARE(seen, (QList<qint64>{ids[2], ids[6], ids[5], ids[4], ids[3], ids[1], ids[0]}));
        QCOMPARE(db->conversationCount().value(), 7);
        QCOMPARE(db->listConversations(0, 1)->at(0).messageCount, 1);
    }

    void searchFindsWordsWithSnippets() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        const qint64 c = newConversation(*db, QStringLiteral("Kubernetes networking"));
        add(*db, c, QStringLiteral("user"), QStringLiteral("Why does my pod lose its DNS resolution after a restart?"));
        add(*db, c, QStringLiteral("assistant"), QStringLiteral("The kubelet rewrites resolv.conf; check the dnsPolicy of the pod."));
        const qint64 d = newConversation(*db, QStringLiteral("Cooking"));
        add(*db, d, QStringLiteral("user"), QStringLiteral("A recipe with C++ and \"quotes\" (and parentheses)?"));

        SearchOptions o;
        o.highlightOpen = QStringLiteral("<b>");
        o.highlightClose = QStringLiteral("</b>");
        auto hits = db->search(QStringLiteral("pod"), o);
        QVERIFY(hits);
        QCOMPARE(hits->size(), 2);
        QCOMPARE(hits->at(0).role, QStringLiteral("assistant"));  // newest first
        QVERIFY2(hits->at(0).snippet.contains(QStringLiteral("<b>pod</b>")), qPrintable(hits->at(0).snippet));
        QCOMPARE(hits->at(0).conversationTitle, QStringLiteral("Kubernetes networking"));
        QCOMPARE(hits->at(0).conversationId, c);

        hits = db->search(QStringLiteral("DNS restart"), o);  // all words, any order
        QCOMPARE(hits->size(), 1);
        QVERIFY(hits->at(0).snippet.contains(QStringLiteral("<b>DNS</b>")));
        QVERIFY(hits->at(0).snippet.contains(QStringLiteral("<b>restart</b>")));

        hits = db->search(QStringLiteral("kube"), o);  // the last word is a prefix
        QCOMPARE(hits->size(), 2);
        QCOMPARE(hits->at(0).kind, SearchHit::Kind::Title);
        QCOMPARE(hits->at(0).snippet, QStringLiteral("<b>Kubernetes</b> networking"));
        QCOMPARE(hits->at(1).messageId, qint64(2));

        // What users type is never FTS syntax: punctuation and quotes are literal, not errors.
        for (const QString& q : {QStringLiteral("C++"), QStringLiteral("\"quotes\""), QStringLiteral("(and"),
                                 QStringLiteral("NOT OR AND"), QStringLiteral("col:umn*")}) {
            const auto r = db->search(q);
            QVERIFY2(r, qPrintable(q + QStringLiteral(": ") + r.error()));
        }
        QCOMPARE(db->search(QStringLiteral("parentheses"))->size(), 1);
        QVERIFY(db->search(QStringLiteral("   "))->isEmpty());
        QVERIFY(db->search(QStringLiteral("zebra"))->isEmpty());

        // A reply is searchable once it stops streaming.
        const Result<Message> r = db->beginReply(d, std::nullopt, QStringLiteral("m"));
        QVERIFY(db->checkpointReply(r->id, QStringLiteral("Saffron risotto needs patience")));
        QVERIFY(db->search(QStringLiteral("saffron"))->isEmpty());
        QVERIFY(db->finishMessage(r->id, QStringLiteral("Saffron risotto needs patience and stock."), MessageStatus::Complete, {}));
        QCOMPARE(db->search(QStringLiteral("saffron"))->size(), 1);
        QCOMPARE(db->search(QStringLiteral("stock"))->size(), 1);
        // Renames are indexed too.
        QVERIFY(db->renameConversation(d, QStringLiteral("Italian dinner")));
        QCOMPARE(db->search(QStringLiteral("italian"))->size(), 1);
        QVERIFY(db->search(QStringLiteral("cooking"))->isEmpty());
    }

    void checkpointsNeverOverwriteAFinishedReply() {
        auto db = openOrFail(path_);
        const qint64 c = newConversation(*db);
        const Result<Message> r = db->beginReply(c, std::nullopt, QStringLiteral("m"));
        QVERIFY(db->finishMessage(r->id, QStringLiteral("final"), MessageStatus::Complete, {}));
        QVERIFY(db->checkpointReply(r->id, QStringLiteral("stale")));
        QCOMPARE(db->message(r->id)->content, QStringLiteral("final"));
    }

    void replyWriterCheckpointsOnInterval() {
        auto db = openOrFail(path_);
        const qint64 c = newConversation(*db);
        const Result<Message> r = db->beginReply(c, std::nullopt, QStringLiteral("m"));
        ReplyWriter w(*db, r->id, std::chrono::milliseconds(40));
        QList<qsizetype> saved;
        w.setCheckpointCallback([&](qsizetype n) { saved << n; });
        QVERIFY(w.append(QStringLiteral("a")));
        QCOMPARE(w.checkpoints(), 0);  // too soon
        QThread::msleep(50);
        QVERIFY(w.append(QStringLiteral("b")));
        QCOMPARE(w.checkpoints(), 1);
        QCOMPARE(db->message(r->id)->content, QStringLiteral("ab"));
        QVERIFY(w.append(QStringLiteral("c")));
        QVERIFY(w.hasPending());
        QThread::msleep(50);
        QVERIFY(w.checkpointDue());
        QVERIFY(w.flush());
        QCOMPARE(saved, (QList<qsizetype>{2, 3}));
        QCOMPARE(db->message(r->id)->status, MessageStatus::Streaming);
        QVERIFY(w.finish(MessageStatus::Complete, GenerationStats{5, 3, 100, 20, 12.5}));
        const Result<Message> m = db->message(r->id);
        QCOMPARE(m->content, QStringLiteral("abc"));
        QCOMPARE(m->status, MessageStatus::Complete);
        QCOMPARE(m->stats, (GenerationStats{5, 3, 100, 20, 12.5}));
    }

    void exportImportRoundTripIsLossless() {
        auto db = openOrFail(path_);
        NewConversation n;
        n.title = QStringLiteral("Ünïcødé & \"quotes\" 🦙");
        n.model = QStringLiteral("llama-3.1-8b");
        n.systemPrompt = QStringLiteral("Be brief.\nReally.");
        n.sampling = QJsonObject{{QStringLiteral("temperature"), 0.7}, {QStringLiteral("top_k"), 40},
                                 {QStringLiteral("seed"), 1234567}};
        const qint64 c = db->createConversation(n)->id;
        const Message u = add(*db, c, QStringLiteral("user"), QStringLiteral("Line 1\n\n```cpp\nint x = 0;\n```"));
        ExchangeRecorder rec(*db, c);
        QVERIFY(rec.begin(QStringLiteral("llama-3.1-8b"), {}, QStringLiteral("second question")));
        QVERIFY(rec.append(QStringLiteral("half a rep")));
        QVERIFY(rec.reply()->flush());
        QVERIFY(db->recoverInterrupted());  // as if the writer had died
        const Result<Message> failed = db->beginReply(c, u.id, QStringLiteral("other-model"));
        QVERIFY(db->finishMessage(failed->id, QStringLiteral("partial"), MessageStatus::Error,
                                  GenerationStats{12, 3, 1234.5678, 17.25, 88.125}, QStringLiteral("out of memory")));
        Attachment doc;
        doc.conversationId = c;
        doc.messageId = u.id;
        doc.fileName = QStringLiteral("report.pdf");
        doc.sha256 = QStringLiteral("ab").repeated(32);
        doc.sizeBytes = 123456789;
        doc.mimeType = QStringLiteral("application/pdf");
        doc.extractedText = QStringLiteral("Extracted text\twith tabs");
        doc.summary = QStringLiteral("A summary.");
        QVERIFY(db->addAttachment(doc));
        QVERIFY(db->setCurrentLeaf(c, u.id + 2));  // the interrupted reply's branch

        const QByteArray first = exportJson({db->bundle(c).value()});
        const auto parsed = parseExportJson(first);
        QVERIFY2(parsed, qPrintable(parsed.error()));
        QCOMPARE(parsed->size(), 1);
        const Result<qint64> imported = db->importBundle(parsed->at(0));
        QVERIFY2(imported, qPrintable(imported.error()));
        QVERIFY(imported.value() != c);
        const QByteArray second = exportJson({db->bundle(imported.value()).value()});

        const QJsonObject a = QJsonDocument::fromJson(first).object()[QStringLiteral("conversations")].toArray()[0].toObject();
        const QJsonObject b = QJsonDocument::fromJson(second).object()[QStringLiteral("conversations")].toArray()[0].toObject();
        QCOMPARE(normalized(b), normalized(a));
        QCOMPARE(a.value(QStringLiteral("messages")).toArray().size(), 4);
        QCOMPARE(a.value(QStringLiteral("messages")).toArray()[2].toObject().value(QStringLiteral("status")).toString(),
                 QStringLiteral("interrupted"));

        // A whole-history export of several conversations imports as several.
        const auto all = parseExportJson(exportJson({db->bundle(c).value(), db->bundle(imported.value()).value()}));
        QCOMPARE(all->size(), 2);
        QVERIFY(!parseExportJson("{\"format\":\"something-else\",\"conversations\":[]}"));
        QVERIFY(!parseExportJson("not json"));

        const QString md = exportMarkdown({db->bundle(c).value()});
        QVERIFY(md.startsWith(QStringLiteral("# Ünïcødé & \"quotes\" 🦙\n")));
        QVERIFY(md.contains(QStringLiteral("## System\n\nBe brief.\nReally.")));
        QVERIFY(md.contains(QStringLiteral("## User\n\nLine 1\n\n```cpp\nint x = 0;\n```")));
        QVERIFY(md.contains(QStringLiteral("half a rep\n\n*(reply interrupted)*")));
        QVERIFY(md.contains(QStringLiteral("other branches not shown")));
    }

    void nonSqliteFileIsMovedAside() {
        {
            QFile f(path_);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("These are my notes, not a database.\n");
        }
        const QByteArray before = fileHash(path_);
        OpenReport report;
        auto db = openOrFail(path_, &report);
        QVERIFY(db);
        QVERIFY(report.movedAsidePath.startsWith(path_ + QStringLiteral(".corrupt-")));
        QCOMPARE(fileHash(report.movedAsidePath), before);  // nothing lost
        QCOMPARE(report.notices.size(), 1);
        QVERIFY(report.notices[0].contains(report.movedAsidePath));
        const qint64 c = newConversation(*db);
        QVERIFY(add(*db, c, QStringLiteral("user"), QStringLiteral("fresh start")).id > 0);
    }

    void damagedSqliteFileIsMovedAside() {
        {
            auto db = openOrFail(path_);
            const qint64 c = newConversation(*db, QStringLiteral("doomed"));
            for (int i = 0; i < 200; ++i) add(*db, c, QStringLiteral("user"), QStringLiteral("filler %1 ").arg(i).repeated(20));
        }
        QVERIFY(!QFile::exists(path_ + QStringLiteral("-wal")) || QFileInfo(path_ + QStringLiteral("-wal")).size() == 0);
        {
            QFile f(path_);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.size() > 16384);
            f.seek(100);  // keep the 100-byte header, wreck the schema page and beyond
            f.write(QByteArray(16000, '\xA5'));
        }
        OpenReport report;
        auto db = openOrFail(path_, &report);
        QVERIFY(db);
        QVERIFY(!report.movedAsidePath.isEmpty());
        QVERIFY(QFile::exists(report.movedAsidePath));
        QCOMPARE(db->conversationCount().value(), 0);
    }

    void newerDatabaseIsRefusedUntouched() {
        {
            auto db = openOrFail(path_);
            newConversation(*db, QStringLiteral("from the future"));
        }
        QVERIFY(rawExec(path_, {QStringLiteral("UPDATE schema_version SET version = 99")}));
        const QByteArray before = fileHash(path_);
        QString error;
        OpenReport report;
        auto db = HistoryDatabase::open(path_, &report, &error);
        QVERIFY(!db);
        QVERIFY2(error.contains(QStringLiteral("newer LlamaDesk")), qPrintable(error));
        QVERIFY(error.contains(QStringLiteral("99")));
        QVERIFY(error.contains(QStringLiteral("not modified")));
        QCOMPARE(fileHash(path_), before);
        QVERIFY(report.movedAsidePath.isEmpty());
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 99);
    }

    void foreignSqliteDatabaseIsRefusedUntouched() {
        QVERIFY(rawExec(path_, {QStringLiteral("CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT)"),
                                QStringLiteral("INSERT INTO photos(name) VALUES ('cat.jpg')")}));
        const QByteArray before = fileHash(path_);
        QString error;
        QVERIFY(!HistoryDatabase::open(path_, nullptr, &error));
        QVERIFY2(error.contains(QStringLiteral("not a LlamaDesk history")), qPrintable(error));
        QCOMPARE(fileHash(path_), before);
    }

    void readOnlyDatabaseCanBeReadNotWritten() {
        qint64 c = 0;
        {
            auto db = openOrFail(path_);
            c = newConversation(*db, QStringLiteral("archived"));
            add(*db, c, QStringLiteral("user"), QStringLiteral("old question"));
        }
        QFile::setPermissions(path_, QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
        const bool reallyReadOnly = !QFileInfo(path_).isWritable();  // root ignores permissions
        OpenOptions options;
        options.readOnly = !reallyReadOnly;
        const QByteArray before = fileHash(path_);
        OpenReport report;
        auto db = openOrFail(path_, &report, options);
        QVERIFY(db);
        QVERIFY(db->isReadOnly());
        QVERIFY(report.readOnly);
        QVERIFY(report.notices.join(QString()).contains(QStringLiteral("read-only")));
        QCOMPARE(db->activeBranch(c)->at(0).content, QStringLiteral("old question"));
        QCOMPARE(db->search(QStringLiteral("question"))->size(), 1);
        NewMessage m;
        m.conversationId = c;
        m.role = QStringLiteral("user");
        m.content = QStringLiteral("new question");
        const Result<Message> r = db->addMessage(m);
        QVERIFY(!r);
        QVERIFY2(r.error().contains(QStringLiteral("read-only")), qPrintable(r.error()));
        QVERIFY(!db->renameConversation(c, QStringLiteral("x")));
        db.reset();
        QCOMPARE(fileHash(path_), before);
        QFile::setPermissions(path_, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    }

    void fullDiskReportsAndKeepsTheReplyForRetry() {
        auto db = openOrFail(path_);
        const qint64 c = newConversation(*db);
        ExchangeRecorder rec(*db, c);
        QVERIFY(rec.begin(QStringLiteral("m"), {}, QStringLiteral("write a lot")));
        db->setMaxPageCountForTesting(db->pragma(QStringLiteral("page_count")).toLongLong());

        // A user message that does not fit: refused with a clear reason, nothing half-written.
        NewMessage big;
        big.conversationId = c;
        big.role = QStringLiteral("user");
        big.content = QStringLiteral("x").repeated(200000);
        const Result<Message> refused = db->addMessage(big);
        QVERIFY(!refused);
        QVERIFY2(refused.error().contains(QStringLiteral("disk is full")), qPrintable(refused.error()));
        QCOMPARE(db->messages(c)->size(), 2);

        const QString text = QStringLiteral("token ").repeated(40000);
        QThread::msleep(kCheckpointInterval.count() + 10);
        const Status s = rec.append(text);
        QVERIFY(!s);
        QVERIFY2(s.error().contains(QStringLiteral("disk is full")), qPrintable(s.error()));
        QCOMPARE(rec.reply()->content(), text);  // kept in memory
        QCOMPARE(rec.reply()->savedLength(), 0);
        QVERIFY(!rec.finish({}, true, {}));
        QVERIFY(!rec.reply()->finished());

        db->setMaxPageCountForTesting(1 << 30);  // space freed
        QVERIFY(rec.finish(GenerationStats{1, 2, 3, 4, 5}, true, {}));
        const Result<Message> saved = db->message(rec.reply()->messageId());
        QCOMPARE(saved->content, text);
        QCOMPARE(saved->status, MessageStatus::Complete);
    }

    void readersWorkWhileAnotherConnectionWrites() {
        auto setup = openOrFail(path_);
        const qint64 c = newConversation(*setup, QStringLiteral("busy"));
        setup.reset();

        std::atomic<bool> writerDone{false};
        QString writerError;
        qint64 replyId = 0;
        std::thread writer([&] {
            {
                auto db = openOrFail(path_);
                ExchangeRecorder rec(*db, c);
                if (!rec.begin(QStringLiteral("m"), {}, QStringLiteral("stream please"))) writerError = QStringLiteral("begin failed");
                replyId = rec.reply()->messageId();
                QElapsedTimer t;
                t.start();
                int i = 0;
                while (t.elapsed() < 1500 && writerError.isEmpty()) {
                    if (Status s = rec.append(QStringLiteral("w%1 ").arg(i++)); !s) writerError = s.error();
                    if (i % 200 == 0) add(*db, c, QStringLiteral("user"), QStringLiteral("side %1").arg(i));
                    QThread::usleep(500);
                }
                if (Status s = rec.finish({}, true, {}); !s) writerError = s.error();
            }
            writerDone = true;
        });

        auto reader = openOrFail(path_);
        QVERIFY(reader);
        int reads = 0;
        QString lastContent;
        QStringList readErrors;
        while (!writerDone) {
            const auto list = reader->listConversations(0, 10);
            if (!list) readErrors << list.error();
            const auto msgs = reader->messages(c);
            if (!msgs) readErrors << msgs.error();
            const auto hits = reader->search(QStringLiteral("side"));
            if (!hits) readErrors << hits.error();
            if (msgs) {
                for (const Message& m : msgs.value())
                    if (m.id == replyId) {
                        // Checkpoints only ever extend the stored reply.
                        if (!m.content.startsWith(lastContent)) readErrors << QStringLiteral("content went backwards");
                        lastContent = m.content;
                    }
            }
            ++reads;
        }
        writer.join();
        QVERIFY2(writerError.isEmpty(), qPrintable(writerError));
        QVERIFY2(readErrors.isEmpty(), qPrintable(readErrors.join(QLatin1Char('\n'))));
        QVERIFY(reads > 10);
        QCOMPARE(reader->message(replyId)->status, MessageStatus::Complete);
        // The reader opened while the writer was streaming: it must not have cut it off.
        QVERIFY(reader->message(replyId)->content.size() > lastContent.size() / 2);
    }

    void openingWhileAWriterLivesDoesNotInterruptIt() {
        auto writer = openOrFail(path_);
        const qint64 c = newConversation(*writer);
        const Result<Message> reply = writer->beginReply(c, std::nullopt, QStringLiteral("m"));
        OpenReport report;
        auto other = openOrFail(path_, &report);  // e.g. `llamadesk-cli history list`
        QVERIFY(other);
        QCOMPARE(report.recoveredInterrupted, 0);
        QCOMPARE(other->message(reply->id)->status, MessageStatus::Streaming);
        QVERIFY(writer->checkpointReply(reply->id, QStringLiteral("still going")));
        QCOMPARE(other->message(reply->id)->content, QStringLiteral("still going"));
        writer.reset();
        other.reset();
        OpenReport after;
        auto next = openOrFail(path_, &after);  // no writer alive: now it is an orphan
        QCOMPARE(after.recoveredInterrupted, 1);
        QCOMPARE(next->message(reply->id)->status, MessageStatus::Interrupted);
        QCOMPARE(next->message(reply->id)->content, QStringLiteral("still going"));
    }

private:
    QTemporaryDir dir_;
    QString path_;
    int n_ = 0;
};

QTEST_GUILESS_MAIN(TestHistoryDatabase)
#include "test_history_database.moc"
