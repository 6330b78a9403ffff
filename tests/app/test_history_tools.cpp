// Tool calls and tool results in the history (issue 18): the v3 migration of a database made by
// the previous release (schema v2), storing and reading calls and results, JSON export/import
// round trips (and an export of the previous release), Markdown, search, and bad input.
#include <QFile>
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
#include "tests/app/history_export_json.h"
#include "tests/app/history_raw_db.h"

using namespace ld::history;
using namespace ld::history::testing;

namespace {

// The schema exactly as the previous release (schema v2) created it: its two migrations.
QStringList previousReleaseSchema() { return statementsOf(sql::kMigrationV1) + statementsOf(sql::kMigrationV2); }

ToolCall call(const QString& id, const QString& name, const QString& args,
              ToolDecision decision = ToolDecision::Pending, const QString& server = QStringLiteral("everything")) {
    ToolCall c;
    c.callId = id;
    c.server = server;
    c.name = name;
    c.argumentsJson = args;
    c.decision = decision;
    return c;
}

Result<Message> addMessage(HistoryDatabase& db, qint64 conversation, const QString& role, const QString& text,
                           std::optional<qint64> parent = {}, QList<ToolCall> calls = {},
                           std::optional<ToolResult> result = {}) {
    NewMessage m;
    m.conversationId = conversation;
    m.role = role;
    m.content = text;
    if (parent) {
        m.parentId = parent;
        m.explicitParent = true;
    }
    m.toolCalls = std::move(calls);
    m.toolResult = std::move(result);
    return db.addMessage(m);
}

ToolResult resultFor(const QString& callId, bool isError = false, bool truncated = false) {
    ToolResult r;
    r.callId = callId;
    r.isError = isError;
    r.truncated = truncated;
    return r;
}

QJsonObject firstConversation(const QByteArray& exportBytes) {
    return QJsonDocument::fromJson(exportBytes).object()[QStringLiteral("conversations")].toArray()[0].toObject();
}

}  // namespace

class TestHistoryTools : public QObject {
    Q_OBJECT

private slots:
    void init() { QVERIFY(dir_.isValid()); path_ = dir_.filePath(QStringLiteral("tools-%1.db").arg(++n_)); }

    void migratesPreviousReleaseDatabaseWithData() {
        // A v2 database with what the previous release wrote: a branch, stats, an attachment,
        // a notice, a plain "tool" row (the role was allowed) and a reply left streaming.
        QStringList statements = previousReleaseSchema();
        statements << QStringLiteral("INSERT INTO conversations(id, title, created_at, updated_at, model, system_prompt, sampling)"
                                     " VALUES (1, 'Weather in Lyon', 1700000000000, 1700000500000, 'llama-3.1-8b', 'Be brief.', '{\"temperature\":0.7}')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status)"
                                     " VALUES (1, 1, NULL, 'user', 'Will it rain in Lyon tomorrow?', 1700000000000, 1700000000000, 'complete')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status, model, gen_tokens, gen_tps)"
                                     " VALUES (2, 1, 1, 'assistant', 'Probably drizzle in the afternoon.', 1700000100000, 1700000200000, 'complete', 'llama-3.1-8b', 7, 21.5)")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status)"
                                     " VALUES (3, 1, 1, 'assistant', 'Sunny spells', 1700000300000, 1700000300000, 'complete')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status)"
                                     " VALUES (4, 1, 3, 'notice', 'forecast.pdf: unreadable', 1700000400000, 1700000400000, 'complete')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status)"
                                     " VALUES (5, 1, 4, 'tool', 'legacyoutputword', 1700000450000, 1700000450000, 'complete')")
                   << QStringLiteral("INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at, updated_at, status)"
                                     " VALUES (6, 1, 5, 'assistant', 'Half a rep', 1700000500000, 1700000500000, 'streaming')")
                   << QStringLiteral("UPDATE conversations SET current_leaf_id = 6 WHERE id = 1")
                   << QStringLiteral("INSERT INTO attachments(conversation_id, message_id, file_name, sha256, size_bytes, created_at)"
                                     " VALUES (1, 1, 'forecast.pdf', 'abcd', 42, 1700000000000)");
        QVERIFY(rawExec(path_, statements, true));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 2);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'legacyoutputword'")), 1);

        OpenReport report;
        auto db = openOrFail(path_, &report);
        QVERIFY(db);
        QCOMPARE(report.migratedFrom, 2);
        QCOMPARE(report.schemaVersion, sql::kCurrentSchemaVersion);
        QCOMPARE(report.recoveredInterrupted, 1);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), qint64(sql::kCurrentSchemaVersion));

        // Data intact.
        const Result<Conversation> c = db->conversation(1);
        QVERIFY(c);
        QCOMPARE(c->title, QStringLiteral("Weather in Lyon"));
        QCOMPARE(c->sampling.value(QStringLiteral("temperature")).toDouble(), 0.7);
        QCOMPARE(c->currentLeafId, std::optional<qint64>(6));
        const Result<QList<Message>> all = db->messages(1);
        QVERIFY(all);
        QCOMPARE(all->size(), 6);
        QCOMPARE(all->at(1).stats.genTokens, 7);
        QCOMPARE(all->at(1).updatedMs, qint64(1700000200000));
        QCOMPARE(all->at(2).parentId, std::optional<qint64>(1));  // the other branch
        QCOMPARE(all->at(4).role, QStringLiteral("tool"));
        QVERIFY(!all->at(4).toolResult);  // a v2 row: no call to link, kept as it was
        QCOMPARE(all->at(5).status, MessageStatus::Interrupted);
        for (const Message& m : all.value()) QVERIFY(m.toolCalls.isEmpty());
        QCOMPARE(db->activeBranch(1)->size(), 5);
        QCOMPARE(db->attachments(1)->size(), 1);
        QCOMPARE(db->search(QStringLiteral("drizzle"))->size(), 1);
        // The old "tool" row left the index with the migration (tool output is not searched).
        QCOMPARE(db->search(QStringLiteral("legacyoutputword"))->size(), 0);

        // New roles usable: a reply that calls a tool, the user's decision, the result, the answer.
        const Result<Message> asks = addMessage(*db, 1, QStringLiteral("user"), QStringLiteral("And in Paris?"), 2);
        QVERIFY(asks);
        const Result<Message> calls = addMessage(
            *db, 1, QStringLiteral("assistant"), QString(), asks->id,
            {call(QStringLiteral("call_0"), QStringLiteral("get_weather"), QStringLiteral("{\"city\": \"Paris\"}"))});
        QVERIFY2(calls, qPrintable(calls.error()));
        QVERIFY(db->setToolCallDecision(calls->id, QStringLiteral("call_0"), ToolDecision::AllowedOnce));
        const Result<Message> result = addMessage(*db, 1, QStringLiteral("tool"), QStringLiteral("{\"rain\": true}"),
                                                  calls->id, {}, resultFor(QStringLiteral("call_0")));
        QVERIFY2(result, qPrintable(result.error()));
        QVERIFY(result->toolResult);
        QCOMPARE(result->toolResult->callId, QStringLiteral("call_0"));
        const Result<Message> reread = db->message(calls->id);
        QCOMPARE(reread->toolCalls.size(), 1);
        QCOMPARE(reread->toolCalls[0].decision, ToolDecision::AllowedOnce);
        QCOMPARE(reread->toolCalls[0].argumentsJson, QStringLiteral("{\"city\": \"Paris\"}"));
        QCOMPARE(db->activeBranch(1)->last().toolResult, std::optional(resultFor(QStringLiteral("call_0"))));

        db.reset();
        OpenReport again;
        QVERIFY(openOrFail(path_, &again));
        QCOMPARE(again.migratedFrom, 0);
    }

    void failedMigrationLeavesThePreviousVersion() {
        // Something in the way of v3 (a table of the same name): the upgrade fails in its
        // transaction, and the file stays a usable v2 database.
        QStringList statements = previousReleaseSchema();
        statements << QStringLiteral("INSERT INTO conversations(id, title, created_at, updated_at) VALUES (1, 'kept', 1, 1)")
                   << QStringLiteral("CREATE TABLE tool_results (x INTEGER)");
        QVERIFY(rawExec(path_, statements, true));
        QString error;
        QVERIFY(!HistoryDatabase::open(path_, nullptr, &error));
        QVERIFY2(error.contains(QStringLiteral("upgrade")), qPrintable(error));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT version FROM schema_version")), 2);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM sqlite_master WHERE name = 'tool_calls'")), 0);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts_insert'")), 1);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM conversations")), 1);
    }

    void exportImportRoundTripsToolCalls() {
        auto db = openOrFail(path_);
        QVERIFY(db);
        NewConversation n;
        n.title = QStringLiteral("Sums");
        const qint64 c = db->createConversation(n)->id;
        const qint64 user = addMessage(*db, c, QStringLiteral("user"), QStringLiteral("Add 1 and 2, then read notes.txt"))->id;
        // Two calls in one reply; the arguments keep the model's spelling (key order, spaces).
        const Result<Message> reply = db->beginReply(c, user, QStringLiteral("llama-3.2-1b"));
        QVERIFY(db->finishMessage(reply->id, QStringLiteral("[get_sum(b=2, a=1), read_file(path=\"notes.txt\")]"),
                                  MessageStatus::Complete, GenerationStats{10, 12, 100, 20, 30}));
        // Unanswered calls may be replaced (the parser's second reading of the reply wins).
        QVERIFY(db->setToolCalls(reply->id, {call(QStringLiteral("call_x"), QStringLiteral("stale"), QString())}));
        QCOMPARE(db->message(reply->id)->toolCalls.first().argumentsJson, QStringLiteral("{}"));
        QVERIFY(db->setToolCalls(reply->id, {call(QStringLiteral("call_0"), QStringLiteral("get_sum"), QStringLiteral("{\"b\": 2, \"a\": 1}")),
                                             call(QStringLiteral("call_1"), QStringLiteral("read_file"),
                                                  QStringLiteral("{\"path\":\"notes.txt\"}"), ToolDecision::Pending,
                                                  QStringLiteral("filesystem"))}));
        QVERIFY(db->setToolCallDecision(reply->id, QStringLiteral("call_0"), ToolDecision::AlwaysAllowed));
        QVERIFY(db->setToolCallDecision(reply->id, QStringLiteral("call_1"), ToolDecision::Denied));
        const Result<Message> sum = addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("3"), reply->id, {},
                                               resultFor(QStringLiteral("call_0")));
        QVERIFY2(sum, qPrintable(sum.error()));
        const Result<Message> denied = addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("The user denied this call.\n```\nfence"),
                                                  sum->id, {}, resultFor(QStringLiteral("call_1"), true, true));
        QVERIFY2(denied, qPrintable(denied.error()));
        QVERIFY(addMessage(*db, c, QStringLiteral("assistant"), QStringLiteral("1 + 2 = 3; I may not read the file."), denied->id));
        // A regeneration on another branch reuses the id call_0: its result links to its own call.
        const Result<Message> again = addMessage(*db, c, QStringLiteral("assistant"), QString(), user,
                                                 {call(QStringLiteral("call_0"), QStringLiteral("get_sum"), QStringLiteral("{\"a\": 1, \"b\": 2}"),
                                                       ToolDecision::AllowedOnce)});
        QVERIFY(again);
        QVERIFY(addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("{\"sum\": 3}"), again->id, {}, resultFor(QStringLiteral("call_0"))));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM tool_results r JOIN tool_calls t ON t.id = r.tool_call_id"
                                                " WHERE t.message_id = %1").arg(again->id)), 1);
        QVERIFY(db->setCurrentLeaf(c, denied->id + 1));

        const QByteArray first = exportJson({db->bundle(c).value()});
        QCOMPARE(QJsonDocument::fromJson(first).object()[QStringLiteral("version")].toInt(), 2);
        const QJsonObject a = firstConversation(first);
        const QJsonArray messages = a[QStringLiteral("messages")].toArray();
        QCOMPARE(messages.size(), 7);
        const QJsonArray calls = messages[1][QStringLiteral("tool_calls")].toArray();
        QCOMPARE(calls.size(), 2);
        QCOMPARE(calls[0][QStringLiteral("id")].toString(), QStringLiteral("call_0"));
        QCOMPARE(calls[0][QStringLiteral("server")].toString(), QStringLiteral("everything"));
        QCOMPARE(calls[0][QStringLiteral("name")].toString(), QStringLiteral("get_sum"));
        QCOMPARE(calls[0][QStringLiteral("arguments")].toString(), QStringLiteral("{\"b\": 2, \"a\": 1}"));
        QCOMPARE(calls[0][QStringLiteral("decision")].toString(), QStringLiteral("always_allowed"));
        QCOMPARE(calls[1][QStringLiteral("server")].toString(), QStringLiteral("filesystem"));
        QCOMPARE(calls[1][QStringLiteral("decision")].toString(), QStringLiteral("denied"));
        QCOMPARE(messages[3][QStringLiteral("role")].toString(), QStringLiteral("tool"));
        QCOMPARE(messages[3][QStringLiteral("tool_call_id")].toString(), QStringLiteral("call_1"));
        QCOMPARE(messages[3][QStringLiteral("is_error")].toBool(), true);
        QCOMPARE(messages[3][QStringLiteral("truncated")].toBool(), true);
        QCOMPARE(messages[2][QStringLiteral("is_error")].toBool(true), false);
        QVERIFY(!messages[0].toObject().contains(QStringLiteral("tool_calls")));  // plain messages as in v1
        QVERIFY(!messages[0].toObject().contains(QStringLiteral("tool_call_id")));

        const auto parsed = parseExportJson(first);
        QVERIFY2(parsed, qPrintable(parsed.error()));
        const Result<qint64> imported = db->importBundle(parsed->at(0));
        QVERIFY2(imported, qPrintable(imported.error()));
        const QByteArray second = exportJson({db->bundle(imported.value()).value()});
        QCOMPARE(normalized(firstConversation(second)), normalized(a));
        // The imported regeneration's result answers the imported regeneration's call.
        const QList<Message> copy = db->messages(imported.value()).value();
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT t.message_id FROM tool_results r JOIN tool_calls t ON t.id = r.tool_call_id"
                                                " WHERE r.message_id = %1").arg(copy[6].id)), copy[5].id);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT t.message_id FROM tool_results r JOIN tool_calls t ON t.id = r.tool_call_id"
                                                " WHERE r.message_id = %1").arg(copy[2].id)), copy[1].id);

        // Duplicating a branch copies its calls and results too.
        const Result<qint64> branch = db->duplicateConversation(c, denied->id);
        QVERIFY2(branch, qPrintable(branch.error()));
        const QList<Message> dup = db->messages(branch.value()).value();
        QCOMPARE(dup.size(), 4);
        QCOMPARE(dup[1].toolCalls.size(), 2);
        QCOMPARE(dup[3].toolResult, std::optional(resultFor(QStringLiteral("call_1"), true, true)));

        const QString md = exportMarkdown({db->bundle(c).value()});
        QVERIFY2(md.contains(QStringLiteral("**Tool call** `get_sum` on everything (call call_0, always allowed):\n\n"
                                            "```json\n{\n    \"a\": 1,\n    \"b\": 2\n}\n```\n")), qPrintable(md));
        QVERIFY(md.contains(QStringLiteral("**Tool call** `read_file` on filesystem (call call_1, denied)")));
        QVERIFY(md.contains(QStringLiteral("## Tool result: get_sum\n\n*Call call_0*\n\n```\n3\n```\n")));
        // Output holding a fence gets a longer one; the notes say error and truncation.
        QVERIFY2(md.contains(QStringLiteral("## Tool result: read_file\n\n*Call call_1, the tool reported an error, truncated to fit the context*\n\n"
                                            "````\nThe user denied this call.\n```\nfence\n````\n")), qPrintable(md));
        QVERIFY(md.contains(QStringLiteral("1 + 2 = 3; I may not read the file.")));
        QVERIFY(md.contains(QStringLiteral("[get_sum(b=2, a=1), read_file(path=\"notes.txt\")]")));
    }

    void previousReleaseExportStillImports() {
        // What the previous release wrote (format version 1, no tool fields).
        const QByteArray v1 = R"({
            "format": "llamadesk-history", "version": 1,
            "conversations": [{
                "id": 7, "title": "Old chat", "created": "2026-01-02T03:04:05.678Z",
                "updated": "2026-01-02T03:05:00.000Z", "model": "tiny", "system_prompt": "",
                "sampling": {"temperature": 0.5}, "current_leaf": 12, "message_count": 2,
                "messages": [
                    {"id": 11, "parent": null, "role": "user", "content": "hello", "created": "2026-01-02T03:04:05.678Z",
                     "updated": "2026-01-02T03:04:05.678Z", "status": "complete", "model": "", "error": "",
                     "stats": {"prompt_tokens": 0, "gen_tokens": 0, "prompt_tps": 0, "gen_tps": 0, "ttft_ms": 0}},
                    {"id": 12, "parent": 11, "role": "assistant", "content": "hi there", "created": "2026-01-02T03:05:00.000Z",
                     "updated": "2026-01-02T03:05:00.000Z", "status": "complete", "model": "tiny", "error": "",
                     "stats": {"prompt_tokens": 3, "gen_tokens": 2, "prompt_tps": 50, "gen_tps": 20, "ttft_ms": 12}}
                ],
                "attachments": []
            }]})";
        const auto parsed = parseExportJson(v1);
        QVERIFY2(parsed, qPrintable(parsed.error()));
        auto db = openOrFail(path_);
        const Result<qint64> id = db->importBundle(parsed->at(0));
        QVERIFY2(id, qPrintable(id.error()));
        const QList<Message> branch = db->activeBranch(id.value()).value();
        QCOMPARE(branch.size(), 2);
        QCOMPARE(branch[1].content, QStringLiteral("hi there"));
        QCOMPARE(branch[1].stats.genTokens, 2);
        QVERIFY(branch[1].toolCalls.isEmpty() && !branch[1].toolResult);
        // Re-exported without tool data it is still version 1, for the previous release.
        QCOMPARE(QJsonDocument::fromJson(exportJson({db->bundle(id.value()).value()})).object()[QStringLiteral("version")].toInt(), 1);
        QVERIFY(!parseExportJson(R"({"format": "llamadesk-history", "version": 3, "conversations": []})"));
    }

    void badToolLinksAreRefusedWhole() {
        auto db = openOrFail(path_);
        NewConversation n;
        n.title = QStringLiteral("Good");
        const qint64 c = db->createConversation(n)->id;
        const qint64 user = addMessage(*db, c, QStringLiteral("user"), QStringLiteral("q"))->id;
        const Result<Message> reply = addMessage(*db, c, QStringLiteral("assistant"), QString(), user,
                                                 {call(QStringLiteral("call_0"), QStringLiteral("echo"), QStringLiteral("{}"))});
        QVERIFY(reply);
        QVERIFY(addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("ok"), reply->id, {}, resultFor(QStringLiteral("call_0"))));
        const QByteArray good = exportJson({db->bundle(c).value()});
        const qint64 before = db->conversationCount().value();
        const qint64 rowsBefore = rawCount(path_, QStringLiteral("SELECT count(*) FROM messages"));

        // A result naming an unknown call, in the second conversation of a file: clear error,
        // and the first conversation is not imported either.
        QJsonObject doc = QJsonDocument::fromJson(good).object();
        QJsonObject bad = firstConversation(good);
        QJsonArray messages = bad[QStringLiteral("messages")].toArray();
        QJsonObject result = messages[2].toObject();
        result[QStringLiteral("tool_call_id")] = QStringLiteral("call_9");
        messages[2] = result;
        bad[QStringLiteral("messages")] = messages;
        doc[QStringLiteral("conversations")] = QJsonArray{firstConversation(good), bad};
        const auto refused = parseExportJson(QJsonDocument(doc).toJson());
        QVERIFY(!refused);
        QVERIFY2(refused.error().contains(QStringLiteral("tool call \"call_9\"")) &&
                     refused.error().contains(QStringLiteral("no message before it on its branch")),
                 qPrintable(refused.error()));

        // The same through importBundles (what the store and the CLI call): nothing written.
        ConversationBundle okBundle = parseExportJson(good)->at(0);
        ConversationBundle badBundle = okBundle;
        badBundle.messages[2].toolResult->callId = QStringLiteral("call_9");
        const auto imported = db->importBundles({okBundle, badBundle});
        QVERIFY(!imported);
        QVERIFY2(imported.error().contains(QStringLiteral("call_9")), qPrintable(imported.error()));
        QCOMPARE(db->conversationCount().value(), before);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM messages")), rowsBefore);

        // A call on another branch is not one the result can answer.
        ConversationBundle sideways = okBundle;
        sideways.messages[2].parentId = sideways.messages[0].id;
        QVERIFY(!db->importBundle(sideways));
        // Calls on a user message, duplicate ids, arguments that are not an object, a result
        // on a non-tool message, an unknown decision.
        ConversationBundle onUser = okBundle;
        onUser.messages[0].toolCalls = {call(QStringLiteral("x"), QStringLiteral("echo"), QStringLiteral("{}"))};
        QVERIFY(!db->importBundle(onUser));
        ConversationBundle dup = okBundle;
        dup.messages[1].toolCalls << dup.messages[1].toolCalls[0];
        QVERIFY(!db->importBundle(dup));
        ConversationBundle args = okBundle;
        args.messages[1].toolCalls[0].argumentsJson = QStringLiteral("[1, 2]");
        QVERIFY(!db->importBundle(args));
        ConversationBundle role = okBundle;
        role.messages[2].role = QStringLiteral("user");
        QVERIFY(!db->importBundle(role));
        QByteArray decision = good;
        decision.replace("\"pending\"", "\"maybe\"");
        const auto unknownDecision = parseExportJson(decision);
        QVERIFY(!unknownDecision);
        QVERIFY2(unknownDecision.error().contains(QStringLiteral("maybe")), qPrintable(unknownDecision.error()));
        QCOMPARE(db->conversationCount().value(), before);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM messages")), rowsBefore);

        // The live API refuses the same things and writes nothing.
        const Result<Message> orphan = addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("?"), reply->id, {},
                                                  resultFor(QStringLiteral("call_9")));
        QVERIFY(!orphan);
        QVERIFY2(orphan.error().contains(QStringLiteral("call_9")), qPrintable(orphan.error()));
        QVERIFY(!addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("?"), user, {}, resultFor(QStringLiteral("call_0"))));
        QVERIFY(!addMessage(*db, c, QStringLiteral("assistant"), QStringLiteral("?"), reply->id, {}, resultFor(QStringLiteral("call_0"))));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM messages")), rowsBefore);
        const Status noSuchCall = db->setToolCallDecision(reply->id, QStringLiteral("call_9"), ToolDecision::Denied);
        QVERIFY(!noSuchCall);
        QVERIFY2(noSuchCall.error().contains(QStringLiteral("call_9")), qPrintable(noSuchCall.error()));
        QVERIFY(!db->setToolCalls(user, {call(QStringLiteral("a"), QStringLiteral("echo"), QStringLiteral("{}"))}));
        // An answered call cannot be replaced; the stored calls stay as they were.
        const Status replaced = db->setToolCalls(reply->id, {call(QStringLiteral("call_5"), QStringLiteral("echo"), QStringLiteral("{}"))});
        QVERIFY(!replaced);
        QVERIFY2(replaced.error().contains(QStringLiteral("already have results")), qPrintable(replaced.error()));
        QCOMPARE(db->message(reply->id)->toolCalls, QList<ToolCall>{call(QStringLiteral("call_0"), QStringLiteral("echo"), QStringLiteral("{}"))});
    }

    void searchSkipsToolResultsAndDeleteCascades() {
        auto db = openOrFail(path_);
        NewConversation n;
        n.title = QStringLiteral("Search");
        const qint64 c = db->createConversation(n)->id;
        const qint64 user = addMessage(*db, c, QStringLiteral("user"), QStringLiteral("list the quokkafolder please"))->id;
        const Result<Message> reply = addMessage(*db, c, QStringLiteral("assistant"), QStringLiteral("Calling wombatlister"), user,
                                                 {call(QStringLiteral("c1"), QStringLiteral("list_directory"), QStringLiteral("{\"path\": \"/tmp\"}"))});
        QVERIFY(reply);
        const Result<Message> out = addMessage(*db, c, QStringLiteral("tool"), QStringLiteral("[FILE] platypusnotes.txt"),
                                               reply->id, {}, resultFor(QStringLiteral("c1")));
        QVERIFY(out);
        QCOMPARE(db->search(QStringLiteral("quokkafolder"))->size(), 1);
        QCOMPARE(db->search(QStringLiteral("wombatlister"))->size(), 1);
        QCOMPARE(db->search(QStringLiteral("platypusnotes"))->size(), 0);  // tool output is not indexed

        QVERIFY(db->deleteConversation(c));
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM tool_calls")), 0);
        QCOMPARE(rawCount(path_, QStringLiteral("SELECT count(*) FROM tool_results")), 0);
        QCOMPARE(db->search(QStringLiteral("wombatlister"))->size(), 0);
        // The index matches its content table exactly (rows skipped on purpose included).
        QVERIFY(rawExec(path_, {QStringLiteral("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")}, true));
    }

private:
    QTemporaryDir dir_;
    QString path_;
    int n_ = 0;
};

QTEST_GUILESS_MAIN(TestHistoryTools)
#include "test_history_tools.moc"
