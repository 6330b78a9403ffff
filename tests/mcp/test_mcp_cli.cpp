// llamadesk-cli mcp, run as a separate process: `list` prints every configured server's tools as
// JSON (a failing server is reported on stderr and the others still listed, exit 1), `call`
// prints the tools/call result (exit 2 when isError), and configuration or usage mistakes are
// one line on stderr with exit 1.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "mcp/mcp_test_util.h"

using ld::test::officialServer;

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(LLAMADESK_CLI), args);
    Run r;
    if (!p.waitForStarted(10000)) {
        qWarning("cannot start %s: %s", LLAMADESK_CLI, qPrintable(p.errorString()));
        return r;
    }
    if (!p.waitForFinished(60000)) {
        qWarning("llamadesk-cli %s did not finish within 60 s", qPrintable(args.join(QLatin1Char(' '))));
        p.kill();
        p.waitForFinished(5000);
        return r;
    }
    if (p.exitStatus() != QProcess::NormalExit)
        qWarning("llamadesk-cli %s crashed: %s", qPrintable(args.join(QLatin1Char(' '))), p.readAllStandardError().constData());
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& data) {
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return {};
    f.write(data);
    return path;
}

}  // namespace

class TestMcpCli : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    QString root_, config_;

private slots:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        root_ = QDir(dir_.path()).canonicalPath() + QStringLiteral("/files");
        QVERIFY(QDir().mkpath(root_));
        QFile f(root_ + QStringLiteral("/a.txt"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("alpha\n");
        f.close();
        const QJsonObject servers{
            {QStringLiteral("everything"),
             QJsonObject{{QStringLiteral("command"), ld::test::nodeExecutable()},
                         {QStringLiteral("args"), QJsonArray{officialServer(QStringLiteral("server-everything"))}}}},
            {QStringLiteral("files"),
             QJsonObject{{QStringLiteral("command"), ld::test::nodeExecutable()},
                         {QStringLiteral("args"), QJsonArray{officialServer(QStringLiteral("server-filesystem")), root_}}}}};
        config_ = writeFile(dir_, QStringLiteral("mcp.json"),
                            QJsonDocument(QJsonObject{{QStringLiteral("mcpServers"), servers}}).toJson());
        QVERIFY(!config_.isEmpty());
    }

    void listPrintsEveryServersTools() {
        LD_REQUIRE_OFFICIAL_SERVERS();
        const Run r = cli({"mcp", "--config", config_, "list"});
        QVERIFY2(r.code == 0, r.err.constData());
        const QJsonArray tools = QJsonDocument::fromJson(r.out).array();
        QSet<QString> seen;
        for (const QJsonValue& v : tools) {
            const QJsonObject t = v.toObject();
            QVERIFY(t.value(QStringLiteral("inputSchema")).isObject());
            QVERIFY(t.value(QStringLiteral("description")).isString());
            seen << t.value(QStringLiteral("server")).toString() + QLatin1Char('/') + t.value(QStringLiteral("name")).toString();
        }
        for (const char* want : {"everything/echo", "everything/get-sum", "files/read_file", "files/list_directory"})
            QVERIFY2(seen.contains(QLatin1String(want)), want);

        // One server only.
        const Run one = cli({"mcp", "--config", config_, "list", "files"});
        QVERIFY2(one.code == 0, one.err.constData());
        for (const QJsonValue& v : QJsonDocument::fromJson(one.out).array())
            QCOMPARE(v.toObject().value(QStringLiteral("server")).toString(), QStringLiteral("files"));
    }

    void callPrintsTheResult() {
        LD_REQUIRE_OFFICIAL_SERVERS();
        Run r = cli({"mcp", "--config", config_, "call", "everything", "echo", R"({"message": "from the CLI"})"});
        QVERIFY2(r.code == 0, r.err.constData());
        QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("isError")).toBool(true), false);
        QCOMPARE(o.value(QStringLiteral("content")).toArray().first().toObject().value(QStringLiteral("text")).toString(),
                 QStringLiteral("Echo: from the CLI"));

        r = cli({"mcp", "--config", config_, "call", "files", "read_file",
                 QStringLiteral(R"({"path": "%1/a.txt"})").arg(root_)});
        QVERIFY2(r.code == 0, r.err.constData());
        o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("content")).toArray().first().toObject().value(QStringLiteral("text")).toString(),
                 QStringLiteral("alpha\n"));

        // The tool's own error: printed, exit 2.
        r = cli({"mcp", "--config", config_, "call", "files", "read_file", R"({"path": "/etc/hostname"})"});
        QCOMPARE(r.code, 2);
        QVERIFY(QJsonDocument::fromJson(r.out).object().value(QStringLiteral("isError")).toBool());
        QVERIFY2(r.err.contains("reported an error"), r.err.constData());

        // A call that times out: exit 1 with the reason.
        r = cli({"mcp", "--config", config_, "--timeout", "1", "call", "everything", "trigger-long-running-operation",
                 R"({"duration": 20, "steps": 20})"});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("timed out after 1 s (cancelled)"), r.err.constData());

        r = cli({"mcp", "--config", config_, "call", "everything", "no-such-tool"});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("MCP server \"everything\" has no tool \"no-such-tool\""), r.err.constData());
    }

    void failingServerIsReportedAndOthersListed() {
        LD_REQUIRE_OFFICIAL_SERVERS();
        const QJsonObject servers{
            {QStringLiteral("everything"),
             QJsonObject{{QStringLiteral("command"), ld::test::nodeExecutable()},
                         {QStringLiteral("args"), QJsonArray{officialServer(QStringLiteral("server-everything"))}}}},
            {QStringLiteral("broken"),
             QJsonObject{{QStringLiteral("command"), ld::test::nodeExecutable()},
                         {QStringLiteral("args"), QJsonArray{ld::test::fakeServerScript(), QStringLiteral("invalid-json")}}}},
            {QStringLiteral("web"), QJsonObject{{QStringLiteral("url"), QStringLiteral("http://127.0.0.1:9/mcp")}}}};
        const QString path = writeFile(dir_, QStringLiteral("mixed.json"),
                                       QJsonDocument(QJsonObject{{QStringLiteral("mcpServers"), servers}}).toJson());
        const Run r = cli({"mcp", "--config", path, "list"});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("MCP server \"broken\": the server sent invalid JSON"), r.err.constData());
        QVERIFY2(r.err.contains("MCP server \"web\": cannot reach http://127.0.0.1:9/mcp"), r.err.constData());
        const QJsonArray tools = QJsonDocument::fromJson(r.out).array();
        QVERIFY(!tools.isEmpty());
        for (const QJsonValue& v : tools)
            QCOMPARE(v.toObject().value(QStringLiteral("server")).toString(), QStringLiteral("everything"));
    }

    void mistakesAreOneLineErrors_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        QTest::newRow("no config") << QStringList{"mcp", "list"} << "--config";
        QTest::newRow("no subcommand") << QStringList{"mcp", "--config", "X"} << "needs list or call";
        QTest::newRow("missing file") << QStringList{"mcp", "--config", "/nonexistent/mcp.json", "list"}
                                      << "cannot read the MCP config /nonexistent/mcp.json";
        QTest::newRow("unknown server") << QStringList{"mcp", "--config", "CONFIG", "call", "nope", "echo"}
                                        << "no MCP server \"nope\"";
        QTest::newRow("args not an object") << QStringList{"mcp", "--config", "CONFIG", "call", "everything", "echo", "[1]"}
                                            << "JSON-ARGS must be a JSON object";
        QTest::newRow("bad json args") << QStringList{"mcp", "--config", "CONFIG", "call", "everything", "echo", "{x"}
                                       << "JSON-ARGS must be a JSON object";
        QTest::newRow("unknown subcommand") << QStringList{"mcp", "--config", "CONFIG", "run"} << "unknown mcp command";
        QTest::newRow("invalid config") << QStringList{"mcp", "--config", "BAD", "list"}
                                        << "server \"a\" needs a \"command\" (stdio) or a \"url\" (HTTP)";
    }
    void mistakesAreOneLineErrors() {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        const QString bad = writeFile(dir_, QStringLiteral("bad.json"), R"({"mcpServers": {"a": {}}})");
        args.replaceInStrings(QStringLiteral("CONFIG"), config_);
        args.replaceInStrings(QStringLiteral("BAD"), bad);
        const Run r = cli(args);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(expected.toUtf8()), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestMcpCli)
#include "test_mcp_cli.moc"
