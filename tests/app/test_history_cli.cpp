// `llamadesk-cli history --db PATH list | show ID | search TEXT | export ID --format md|json |
// import FILE`, run as a user would, against a database the core wrote.
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "app/history/history_database.h"
#include "tests/qt_test_util.h"

using namespace ld::history;

namespace {

struct Run {
    int code = -1;
    QByteArray out;
    QString err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(LLAMADESK_CLI), args);
    Run r;
    if (!p.waitForFinished(60000)) return r;
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

}  // namespace

class TestHistoryCli : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        // CMake builds llamadesk-cli before this test, and `history` is part of it.
        QVERIFY2(QFileInfo::exists(QStringLiteral(LLAMADESK_CLI)), LLAMADESK_CLI " is missing");
        const Run probe = cli({QStringLiteral("history"), QStringLiteral("--db"), dir_.filePath(QStringLiteral("probe.db")), QStringLiteral("list")});
        QVERIFY2(probe.code == 0, qPrintable(QStringLiteral("llamadesk-cli history list failed: ") + probe.err));
    }

    void listShowSearchExportImport() {
        const QString path = dir_.filePath(QStringLiteral("h.db"));
        qint64 c = 0, reply = 0;
        {
            auto db = HistoryDatabase::open(path, nullptr, nullptr);
            QVERIFY(db);
            NewConversation n;
            n.title = QStringLiteral("Gardening tips");
            c = db->createConversation(n)->id;
            NewMessage m;
            m.conversationId = c;
            m.role = QStringLiteral("user");
            m.content = QStringLiteral("When should I prune tomatoes?");
            QVERIFY(db->addMessage(m));
            reply = db->beginReply(c, std::nullopt, QStringLiteral("tiny"))->id;
            QVERIFY(db->checkpointReply(reply, QStringLiteral("Prune suckers weekly")));
            // The writer "dies" here: the CLI's open must recover the reply.
        }
        const QStringList db{QStringLiteral("history"), QStringLiteral("--db"), path};

        Run r = cli(db + QStringList{QStringLiteral("list")});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.err.contains(QStringLiteral("interrupted")), qPrintable(r.err));  // told on stderr
        const QJsonArray list = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list[0][QStringLiteral("title")].toString(), QStringLiteral("Gardening tips"));
        QCOMPARE(list[0][QStringLiteral("message_count")].toInt(), 2);

        r = cli(db + QStringList{QStringLiteral("show"), QString::number(c)});
        QCOMPARE(r.code, 0);
        const QJsonArray messages = QJsonDocument::fromJson(r.out).object()[QStringLiteral("messages")].toArray();
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages[0][QStringLiteral("status")].toString(), QStringLiteral("complete"));
        QCOMPARE(messages[1][QStringLiteral("status")].toString(), QStringLiteral("interrupted"));
        QCOMPARE(messages[1][QStringLiteral("content")].toString(), QStringLiteral("Prune suckers weekly"));

        r = cli(db + QStringList{QStringLiteral("search"), QStringLiteral("prune")});
        QCOMPARE(r.code, 0);
        const QJsonArray hits = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(hits.size(), 2);  // the question and the recovered reply
        QVERIFY(hits[0][QStringLiteral("snippet")].toString().contains(QStringLiteral("**Prune**")));

        r = cli(db + QStringList{QStringLiteral("export"), QString::number(c), QStringLiteral("--format"), QStringLiteral("md")});
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.startsWith("# Gardening tips\n"));
        QVERIFY(r.out.contains("*(reply interrupted)*"));

        r = cli(db + QStringList{QStringLiteral("export"), QString::number(c), QStringLiteral("--format"), QStringLiteral("json")});
        QCOMPARE(r.code, 0);
        const QByteArray exported = r.out;
        const QString file = dir_.filePath(QStringLiteral("export.json"));
        {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(r.out);
        }
        const QString other = dir_.filePath(QStringLiteral("other.db"));
        r = cli({QStringLiteral("history"), QStringLiteral("--db"), other, QStringLiteral("import"), file});
        QCOMPARE(r.code, 0);
        const qint64 imported = qint64(QJsonDocument::fromJson(r.out).array()[0].toDouble());
        r = cli({QStringLiteral("history"), QStringLiteral("--db"), other, QStringLiteral("export"), QString::number(imported),
                 QStringLiteral("--format"), QStringLiteral("json")});
        QCOMPARE(r.code, 0);
        const QJsonObject a = QJsonDocument::fromJson(exported).object();
        const QJsonObject b = QJsonDocument::fromJson(r.out).object();
        // Fresh database: the same ids come back, so the documents match exactly.
        QCOMPARE(b, a);
    }

    void toolCallsShowExportAndImport() {
        const QString path = dir_.filePath(QStringLiteral("tools.db"));
        qint64 c = 0;
        {
            auto db = HistoryDatabase::open(path, nullptr, nullptr);
            QVERIFY(db);
            NewConversation n;
            n.title = QStringLiteral("Echo");
            c = db->createConversation(n)->id;
            NewMessage m;
            m.conversationId = c;
            m.role = QStringLiteral("user");
            m.content = QStringLiteral("Echo hello");
            QVERIFY(db->addMessage(m));
            m.role = QStringLiteral("assistant");
            m.content = QString();
            ToolCall call;
            call.callId = QStringLiteral("call_0");
            call.server = QStringLiteral("everything");
            call.name = QStringLiteral("echo");
            call.argumentsJson = QStringLiteral("{\"message\": \"hello\"}");
            call.decision = ToolDecision::AllowedOnce;
            m.toolCalls = {call};
            QVERIFY(db->addMessage(m));
            m.role = QStringLiteral("tool");
            m.content = QStringLiteral("Echo: hello");
            m.toolCalls.clear();
            m.toolResult = ToolResult{QStringLiteral("call_0"), false, false};
            const auto result = db->addMessage(m);
            QVERIFY2(result, qPrintable(result.error()));
        }
        const QStringList db{QStringLiteral("history"), QStringLiteral("--db"), path};

        Run r = cli(db + QStringList{QStringLiteral("show"), QString::number(c)});
        QCOMPARE(r.code, 0);
        const QJsonArray messages = QJsonDocument::fromJson(r.out).object()[QStringLiteral("messages")].toArray();
        QCOMPARE(messages.size(), 3);
        QCOMPARE(messages[1][QStringLiteral("tool_calls")][0][QStringLiteral("name")].toString(), QStringLiteral("echo"));
        QCOMPARE(messages[1][QStringLiteral("tool_calls")][0][QStringLiteral("decision")].toString(), QStringLiteral("allowed_once"));
        QCOMPARE(messages[2][QStringLiteral("tool_call_id")].toString(), QStringLiteral("call_0"));

        r = cli(db + QStringList{QStringLiteral("export"), QString::number(c), QStringLiteral("--format"), QStringLiteral("md")});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("**Tool call** `echo` on everything (call call_0, allowed once)"), r.out.constData());
        QVERIFY(r.out.contains("## Tool result: echo\n\n*Call call_0*\n\n```\nEcho: hello\n```\n"));

        r = cli(db + QStringList{QStringLiteral("export"), QStringLiteral("all"), QStringLiteral("--format"), QStringLiteral("json")});
        QCOMPARE(r.code, 0);
        const QByteArray exported = r.out;
        const QString file = dir_.filePath(QStringLiteral("tools.json"));
        {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(exported);
        }
        const QString other = dir_.filePath(QStringLiteral("tools-other.db"));
        r = cli({QStringLiteral("history"), QStringLiteral("--db"), other, QStringLiteral("import"), file});
        QCOMPARE(r.code, 0);
        r = cli({QStringLiteral("history"), QStringLiteral("--db"), other, QStringLiteral("export"), QStringLiteral("all"),
                 QStringLiteral("--format"), QStringLiteral("json")});
        QCOMPARE(r.code, 0);
        QCOMPARE(QJsonDocument::fromJson(r.out).object(), QJsonDocument::fromJson(exported).object());

        // A file whose second conversation has a result for an unknown call: an error naming
        // it, and the first conversation is not imported either.
        QJsonObject doc = QJsonDocument::fromJson(exported).object();
        QJsonObject bad = doc[QStringLiteral("conversations")].toArray()[0].toObject();
        QJsonArray badMessages = bad[QStringLiteral("messages")].toArray();
        QJsonObject result = badMessages[2].toObject();
        result[QStringLiteral("tool_call_id")] = QStringLiteral("call_7");
        badMessages[2] = result;
        bad[QStringLiteral("messages")] = badMessages;
        doc[QStringLiteral("conversations")] = QJsonArray{doc[QStringLiteral("conversations")].toArray()[0], bad};
        {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(QJsonDocument(doc).toJson());
        }
        r = cli({QStringLiteral("history"), QStringLiteral("--db"), other, QStringLiteral("import"), file});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(QStringLiteral("\"call_7\"")), qPrintable(r.err));
        r = cli({QStringLiteral("history"), QStringLiteral("--db"), other, QStringLiteral("list")});
        QCOMPARE(QJsonDocument::fromJson(r.out).array().size(), 1);  // only the earlier import
    }

    // `generate --db --lookup` keeps the reply's speculative-decoding numbers with its stats, as
    // the app does: a text that repeats is drafted by prompt lookup.
    void generateRecordsSpeculationStats() {
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/stories260K.gguf");
        if (!QFileInfo::exists(model)) LD_QSKIP_OR_FAIL_IN_CI("stories260K.gguf is not in the shared models folder");
        const QString path = dir_.filePath(QStringLiteral("spec.db"));
        const Run r = cli({QStringLiteral("generate"), QStringLiteral("-m"), model, QStringLiteral("--temp"), QStringLiteral("0"),
                           QStringLiteral("-n"), QStringLiteral("60"), QStringLiteral("--lookup"), QStringLiteral("-p"),
                           QStringLiteral("The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran."),
                           QStringLiteral("--db"), path});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        auto db = HistoryDatabase::open(path, nullptr, nullptr);
        QVERIFY(db);
        const auto convs = db->listConversations(0, 10);
        QVERIFY(convs && convs->size() == 1);
        const auto msgs = db->activeBranch(convs->first().id);
        QVERIFY(msgs && msgs->size() == 2);
        const GenerationStats& st = msgs->last().stats;
        QVERIFY2(st.drafted > 0 && st.accepted > 0 && st.accepted <= st.drafted,
                 qPrintable(QStringLiteral("drafted %1, accepted %2; %3").arg(st.drafted).arg(st.accepted).arg(r.err)));
        QVERIFY2(r.err.contains(QStringLiteral("%1 drafted, %2 accepted").arg(st.drafted).arg(st.accepted)), qPrintable(r.err));
    }

    void errorsReachTheUser() {
        const QString path = dir_.filePath(QStringLiteral("bad.db"));
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("definitely not sqlite");
        }
        Run r = cli({QStringLiteral("history"), QStringLiteral("--db"), path, QStringLiteral("list")});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.err.contains(QStringLiteral("moved aside")), qPrintable(r.err));

        r = cli({QStringLiteral("history"), QStringLiteral("--db"), path, QStringLiteral("show"), QStringLiteral("42")});
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains(QStringLiteral("no conversation 42")));

        r = cli({QStringLiteral("history"), QStringLiteral("--db"), path, QStringLiteral("export"), QStringLiteral("1"),
                 QStringLiteral("--format"), QStringLiteral("pdf")});
        QVERIFY(r.code != 0);
        QVERIFY(r.err.contains(QStringLiteral("--format md or --format json")));

        r = cli({QStringLiteral("history"), QStringLiteral("--db"), path, QStringLiteral("import"), dir_.filePath(QStringLiteral("nope.json"))});
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains(QStringLiteral("Cannot read")));
    }

private:
    QTemporaryDir dir_;
};

QTEST_GUILESS_MAIN(TestHistoryCli)
#include "test_history_cli.moc"
