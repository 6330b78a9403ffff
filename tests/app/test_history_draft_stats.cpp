// A reply's speculative-decoding numbers in the history ("Speed up replies", issue 19): the v4
// migration of a database made by the previous release (schema v3) keeps every reply's stats and
// reads 0 drafted for them; drafted and accepted are stored, read back, exported and imported;
// Markdown shows them; a failed upgrade leaves the v3 file as it was.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include "app/history/history_database.h"
#include "app/history/history_export.h"
#include "app/history/history_sql.h"
#include "tests/app/history_raw_db.h"

using namespace ld::history;
using namespace ld::history::testing;

namespace {

// The schema exactly as the previous release (schema v3) created it: its three migrations.
QStringList previousReleaseSchema() {
    return statementsOf(sql::kMigrationV1) + statementsOf(sql::kMigrationV2) + statementsOf(sql::kMigrationV3);
}

GenerationStats sped(int drafted, int accepted) {
    GenerationStats s;
    s.promptTokens = 40;
    s.genTokens = 64;
    s.promptTps = 900.5;
    s.genTps = 48.25;
    s.ttftMs = 35;
    s.drafted = drafted;
    s.accepted = accepted;
    return s;
}

}  // namespace

class TestHistoryDraftStats : public QObject {
    Q_OBJECT

private slots:
    void init() { QVERIFY(dir_.isValid()); path_ = dir_.filePath(QStringLiteral("draft-%1.db").arg(++n_)); }

    void migratesPreviousReleaseDatabaseKeepingStats() {
        QStringList statements = previousReleaseSchema();
        statements << QStringLiteral("INSERT INTO conversations(id, title, created_at, updated_at, model) VALUES (1, 'Soup', 1700000000000, 1700000100000, 'llama-3.1-8b')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status)"
                                     " VALUES (1, 1, NULL, 'user', 'A soup for tonight?', 1700000000000, 1700000000000, 'complete')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status, model,"
                                     " prompt_tokens, gen_tokens, prompt_tps, gen_tps, ttft_ms)"
                                     " VALUES (2, 1, 1, 'assistant', 'Leek and potato.', 1700000050000, 1700000100000, 'complete', 'llama-3.1-8b',"
                                     " 12, 7, 310.5, 21.5, 140)")
                   << QStringLiteral("UPDATE conversations SET current_leaf_id = 2 WHERE id = 1");
        QVERIFY(rawExec(path_, statements, true));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 3);

        OpenReport report;
        auto db = openOrFail(path_, &report);
        QVERIFY(db);
        QCOMPARE(report.migratedFrom, 3);
        QCOMPARE(report.schemaVersion, 4);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 4);

        const Result<Message> old = db->message(2);
        QVERIFY(old);
        QCOMPARE(old->content, QStringLiteral("Leek and potato."));
        QCOMPARE(old->stats.promptTokens, 12);
        QCOMPARE(old->stats.genTokens, 7);
        QCOMPARE(old->stats.genTps, 21.5);
        QCOMPARE(old->stats.ttftMs, 140.0);
        QCOMPARE(old->stats.drafted, 0);  // written before speculation: not sped up
        QCOMPARE(old->stats.accepted, 0);
        QCOMPARE(db->search(QStringLiteral("potato"))->size(), 1);

        // A sped-up reply keeps its numbers, through a reopen too.
        const Result<Message> reply = db->beginReply(1, 1, QStringLiteral("llama-3.1-8b"));
        QVERIFY(reply);
        QVERIFY(db->finishMessage(reply->id, QStringLiteral("Onion soup."), MessageStatus::Complete, sped(30, 24)));
        QCOMPARE(db->message(reply->id)->stats, sped(30, 24));
        db.reset();
        OpenReport again;
        db = openOrFail(path_, &again);
        QVERIFY(db);
        QCOMPARE(again.migratedFrom, 0);
        QCOMPARE(db->message(reply->id)->stats, sped(30, 24));
        QCOMPARE(db->message(2)->stats.genTokens, 7);
    }

    void exportAndImportKeepTheDraftCounts() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        NewConversation nc;
        nc.title = QStringLiteral("Stew");
        const Result<Conversation> c = db->createConversation(nc);
        QVERIFY(c);
        NewMessage user;
        user.conversationId = c->id;
        user.role = QStringLiteral("user");
        user.content = QStringLiteral("And a stew?");
        const Result<Message> asked = db->addMessage(user);
        QVERIFY(asked);
        const Result<Message> plain = db->beginReply(c->id, asked->id, QStringLiteral("m"));
        QVERIFY(db->finishMessage(plain->id, QStringLiteral("Beef."), MessageStatus::Complete, sped(0, 0)));
        const Result<Message> fast = db->beginReply(c->id, asked->id, QStringLiteral("m"));
        QVERIFY(db->finishMessage(fast->id, QStringLiteral("Lentils."), MessageStatus::Complete, sped(50, 41)));

        const Result<ConversationBundle> b = db->bundle(c->id);
        QVERIFY(b);
        const QByteArray json = exportJson({b.value()});
        const QJsonArray messages =
            QJsonDocument::fromJson(json).object()[QStringLiteral("conversations")].toArray()[0].toObject()[QStringLiteral("messages")].toArray();
        QCOMPARE(messages.size(), 3);
        // Only a sped-up reply carries the keys: the others read as in earlier exports.
        const QJsonObject plainStats = messages[1].toObject()[QStringLiteral("stats")].toObject();
        const QJsonObject fastStats = messages[2].toObject()[QStringLiteral("stats")].toObject();
        QVERIFY(!plainStats.contains(QStringLiteral("drafted")));
        QCOMPARE(fastStats[QStringLiteral("drafted")].toInt(), 50);
        QCOMPARE(fastStats[QStringLiteral("accepted")].toInt(), 41);

        // Markdown (the active branch: the sped-up reply) says it too.
        const QString md = exportMarkdown({b.value()});
        QVERIFY2(md.contains(QStringLiteral("64 tokens, 48.3 tok/s, drafted 50, accepted 41, first token after 35 ms")), qPrintable(md));

        const Result<QList<ConversationBundle>> parsed = parseExportJson(json);
        QVERIFY(parsed);
        const Result<qint64> imported = db->importBundle(parsed->at(0));
        QVERIFY2(imported, qPrintable(imported.error()));
        const Result<QList<Message>> back = db->messages(imported.value());
        QVERIFY(back);
        QCOMPARE(back->size(), 3);
        QCOMPARE(back->at(1).stats, sped(0, 0));
        QCOMPARE(back->at(2).stats, sped(50, 41));
    }

    void failedUpgradeLeavesTheV3File() {
        // Something in the way of v4 (the column already there): the upgrade fails in its
        // transaction and the file stays a usable v3 database.
        QStringList statements = previousReleaseSchema();
        statements << QStringLiteral("INSERT INTO conversations(id, title, created_at, updated_at) VALUES (1, 'kept', 1, 1)")
                   << QStringLiteral("ALTER TABLE messages ADD COLUMN accepted INTEGER");
        QVERIFY(rawExec(path_, statements, true));
        QString error;
        QVERIFY(!HistoryDatabase::open(path_, nullptr, &error));
        QVERIFY2(error.contains(QStringLiteral("upgrade")), qPrintable(error));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 3);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'drafted'")), 0);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM conversations")), 1);
    }

private:
    QTemporaryDir dir_;
    QString path_;
    int n_ = 0;
};

QTEST_GUILESS_MAIN(TestHistoryDraftStats)
#include "test_history_draft_stats.moc"
