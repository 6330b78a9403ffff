// McpClient against the official reference servers from npm (tests/mcp/package-lock.json):
// @modelcontextprotocol/server-everything (which sends tools/list_changed before its initialize
// reply) over stdio and over Streamable HTTP, and @modelcontextprotocol/server-filesystem on a
// temporary folder.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include "app/mcp/mcp_blocking.h"
#include "app/mcp/mcp_client.h"
#include "mcp/mcp_test_util.h"

using namespace ld::mcp;
using ld::test::officialServer;
using ld::test::processGroupGone;

namespace {

ServerConfig everything() {
    ServerConfig s;
    s.name = QStringLiteral("everything");
    s.command = ld::test::nodeExecutable();
    s.args = {officialServer(QStringLiteral("server-everything"))};
    return s;
}

ServerConfig filesystem(const QString& root) {
    ServerConfig s;
    s.name = QStringLiteral("files");
    s.command = ld::test::nodeExecutable();
    s.args = {officialServer(QStringLiteral("server-filesystem")), root};
    return s;
}

const Tool* findTool(const QList<Tool>& tools, const QString& name) {
    for (const Tool& t : tools)
        if (t.name == name) return &t;
    return nullptr;
}

QString firstText(const CallResult& r) {
    return r.content.isEmpty() ? QString() : r.content.first().toObject().value(QStringLiteral("text")).toString();
}

}  // namespace

class TestMcpClientServers : public QObject {
    Q_OBJECT

private slots:
    void init() { LD_REQUIRE_OFFICIAL_SERVERS(); }

    void everythingServer() {
        McpClient c(everything());
        QString error;
        QVERIFY2(startAndWait(c, 20000, &error), qPrintable(error));
        QVERIFY2(supportedProtocolVersions().contains(c.protocolVersion()), qPrintable(c.protocolVersion()));
        const QList<Tool> tools = c.tools();
        for (const char* name : {"echo", "get-sum", "trigger-long-running-operation"})
            QVERIFY2(findTool(tools, QLatin1String(name)), name);
        const Tool* echo = findTool(tools, QStringLiteral("echo"));
        QCOMPARE(echo->server, QStringLiteral("everything"));
        QVERIFY(!echo->description.isEmpty());
        QVERIFY(echo->inputSchema.value(QStringLiteral("properties")).toObject().contains(QStringLiteral("message")));

        CallResult r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("message"), QStringLiteral("héllo")}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(!r.isError);
        QCOMPARE(firstText(r), QStringLiteral("Echo: héllo"));

        r = callToolAndWait(c, QStringLiteral("get-sum"), {{QStringLiteral("a"), 2}, {QStringLiteral("b"), 3.5}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY2(firstText(r).contains(QStringLiteral("5.5")), qPrintable(firstText(r)));

        // Arguments that fail the tool's schema: the tool's own error result (isError), not a
        // failed call.
        r = callToolAndWait(c, QStringLiteral("get-sum"), {{QStringLiteral("a"), QStringLiteral("two")}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(r.isError);
        QVERIFY2(firstText(r).contains(QStringLiteral("Invalid")), qPrintable(firstText(r)));

        // The slow tool: timed out and cancelled; the server stays usable.
        QElapsedTimer t;
        t.start();
        r = callToolAndWait(c, QStringLiteral("trigger-long-running-operation"),
                            {{QStringLiteral("duration"), 20}, {QStringLiteral("steps"), 20}}, 1000);
        QVERIFY(t.elapsed() < 5000);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.contains(QStringLiteral("timed out after 1 s (cancelled)")), qPrintable(r.error));
        QCOMPARE(c.state(), ServerState::Ready);
        r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("message"), QStringLiteral("again")}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(firstText(r), QStringLiteral("Echo: again"));

        const pid_t pgid = c.processGroup();
        QVERIFY(stopAndWait(c, 10000));
        QVERIFY(processGroupGone(pgid));
    }

    void filesystemServer() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString root = QDir(dir.path()).canonicalPath();
        QVERIFY(QDir(root).mkdir(QStringLiteral("sub")));
        QFile f(root + QStringLiteral("/notes.txt"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("first line\nsecond line\n");
        f.close();

        McpClient c(filesystem(root));
        QString error;
        QVERIFY2(startAndWait(c, 20000, &error), qPrintable(error));
        QVERIFY(findTool(c.tools(), QStringLiteral("read_file")));
        QVERIFY(findTool(c.tools(), QStringLiteral("list_directory")));
        for (const Tool& t : c.tools()) QCOMPARE(t.server, QStringLiteral("files"));

        CallResult r = callToolAndWait(c, QStringLiteral("list_directory"), {{QStringLiteral("path"), root}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(!r.isError);
        QVERIFY2(firstText(r).contains(QStringLiteral("[FILE] notes.txt")), qPrintable(firstText(r)));
        QVERIFY2(firstText(r).contains(QStringLiteral("[DIR] sub")), qPrintable(firstText(r)));

        r = callToolAndWait(c, QStringLiteral("read_file"), {{QStringLiteral("path"), root + QStringLiteral("/notes.txt")}},
                            10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(!r.isError);
        QCOMPARE(firstText(r), QStringLiteral("first line\nsecond line\n"));

        // Outside the allowed folder: the tool says no (isError) and the server stays ready.
        r = callToolAndWait(c, QStringLiteral("read_file"), {{QStringLiteral("path"), QStringLiteral("/etc/hostname")}},
                            10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(r.isError);
        QVERIFY2(firstText(r).contains(QStringLiteral("Access denied")), qPrintable(firstText(r)));
        QCOMPARE(c.state(), ServerState::Ready);

        const pid_t pgid = c.processGroup();
        QVERIFY(stopAndWait(c, 10000));
        QVERIFY(processGroupGone(pgid));
    }

    void everythingOverStreamableHttp() {
        // A free port for the server (PORT), then wait until it listens.
        quint16 port = 0;
        {
            QTcpServer probe;
            QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
            port = probe.serverPort();
        }
        QProcess server;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("PORT"), QString::number(port));
        server.setProcessEnvironment(env);
        server.start(ld::test::nodeExecutable(), {officialServer(QStringLiteral("server-everything")),
                                                  QStringLiteral("streamableHttp")});
        QVERIFY(server.waitForStarted(10000));
        QByteArray serverErr;
        const bool listening = QTest::qWaitFor(
            [&] {
                serverErr += server.readAllStandardError();
                return serverErr.contains("listening on port");
            },
            15000);
        if (!listening) {
            server.kill();
            server.waitForFinished(5000);
            QFAIL(serverErr.constData());
        }

        ServerConfig s;
        s.name = QStringLiteral("web");
        s.transport = ServerConfig::Transport::Http;
        s.url = QUrl(QStringLiteral("http://127.0.0.1:%1/mcp").arg(port));
        McpClient c(s);
        QString error;
        QVERIFY2(startAndWait(c, 20000, &error), qPrintable(error));
        QCOMPARE(c.protocolVersion(), supportedProtocolVersions().first());
        QVERIFY(findTool(c.tools(), QStringLiteral("echo")));
        QCOMPARE(findTool(c.tools(), QStringLiteral("echo"))->server, QStringLiteral("web"));
        CallResult r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("message"), QStringLiteral("over http")}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(firstText(r), QStringLiteral("Echo: over http"));
        // A slower call, answered as an event stream (the SDK's way for POSTed requests).
        r = callToolAndWait(c, QStringLiteral("trigger-long-running-operation"),
                            {{QStringLiteral("duration"), 0.4}, {QStringLiteral("steps"), 2}}, 10000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY2(firstText(r).contains(QStringLiteral("completed")), qPrintable(firstText(r)));
        r = callToolAndWait(c, QStringLiteral("trigger-long-running-operation"),
                            {{QStringLiteral("duration"), 20}, {QStringLiteral("steps"), 20}}, 1000);
        QVERIFY2(!r.ok && r.error.contains(QStringLiteral("timed out after 1 s (cancelled)")), qPrintable(r.error));
        QCOMPARE(c.state(), ServerState::Ready);

        // A wrong endpoint: the HTTP status, clearly.
        ServerConfig wrong = s;
        wrong.url.setPath(QStringLiteral("/nope"));
        McpClient w(wrong);
        QVERIFY(!startAndWait(w, 10000, &error));
        QVERIFY2(error.contains(QStringLiteral("HTTP 404 from http://127.0.0.1:%1/nope").arg(port)), qPrintable(error));

        QVERIFY(stopAndWait(c, 10000));
        // The session was ended with a DELETE.
        QVERIFY(QTest::qWaitFor(
            [&] {
                serverErr += server.readAllStandardError() + server.readAllStandardOutput();
                return serverErr.contains("termination request");
            },
            5000));
        server.kill();
        server.waitForFinished(5000);
    }

    void destroyingTheClientKillsTheServer() {
        pid_t pgid = 0;
        {
            McpClient c(everything());
            QString error;
            QVERIFY2(startAndWait(c, 20000, &error), qPrintable(error));
            pgid = c.processGroup();
        }
        QVERIFY(processGroupGone(pgid));
    }
};

QTEST_GUILESS_MAIN(TestMcpClientServers)
#include "test_mcp_client_servers.moc"
