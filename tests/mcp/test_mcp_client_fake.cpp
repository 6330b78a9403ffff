// McpClient against tests/mcp/fake_server.js: the protocol details a well-behaved server
// exercises (pagination, list_changed before the initialize reply and after a call, server
// requests answered, progress ignored, timeout with cancellation, cancelCall) and every kind of
// misbehaviour (invalid JSON, a bad envelope, a huge line, silence, a crash mid-call, an
// unsupported protocol version, SIGTERM ignored): each ends in a clear state, without hanging,
// and with the server's whole process group gone.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

#include "app/mcp/mcp_blocking.h"
#include "app/mcp/mcp_client.h"
#include "mcp/mcp_test_util.h"

using namespace ld::mcp;
using ld::test::fakeServer;
using ld::test::processGroupGone;

namespace {

McpClient::Options fastOptions() {
    McpClient::Options o;
    o.requestTimeoutMs = 5000;
    o.callTimeoutMs = 5000;
    o.stdio.stdinCloseGraceMs = 200;
    o.stdio.termGraceMs = 500;
    return o;
}

QStringList toolNames(const McpClient& c) {
    QStringList names;
    for (const Tool& t : c.tools()) names << t.name;
    return names;
}

bool waitForState(McpClient& c, ServerState s, int ms = 10000) {
    return QTest::qWaitFor([&] { return c.state() == s; }, ms);
}

}  // namespace

class TestMcpClientFake : public QObject {
    Q_OBJECT

private slots:
    void init() { LD_REQUIRE_NODE(); }

    void lifecycleAndServerRequests() {
        McpClient::Options opt = fastOptions();
        opt.stdio.stderrLogBytes = 8 * 1024;
        McpClient c(fakeServer(QStringLiteral("good")), opt);
        QSignalSpy states(&c, &McpClient::stateChanged);
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        QCOMPARE(states.size(), 2);  // starting, ready
        QCOMPARE(c.protocolVersion(), supportedProtocolVersions().first());
        QCOMPARE(c.serverInfo().value(QStringLiteral("name")).toString(), QStringLiteral("fake"));
        // Two pages of two tools, gathered in order.
        QCOMPARE(toolNames(c), (QStringList{"echo", "slow", "grow", "progress"}));
        QCOMPARE(c.tools().first().server, QStringLiteral("fake-good"));
        QCOMPARE(c.tools().first().inputSchema.value(QStringLiteral("type")).toString(), QStringLiteral("object"));
        // The server asked for sampling and roots (not offered: -32601) and pinged us ({}).
        QVERIFY2(QTest::qWaitFor([&] { return c.serverLog().contains(QStringLiteral("client answered p1: {}")); }, 5000),
                 qPrintable(c.serverLog()));
        const QString log = c.serverLog();
        QVERIFY2(log.contains(QStringLiteral("client answered s1: {\"code\":-32601")), qPrintable(log));
        QVERIFY2(log.contains(QStringLiteral("client answered s2: {\"code\":-32601")), qPrintable(log));
        QVERIFY2(log.contains(QStringLiteral("capabilities {}")), qPrintable(log));
        // 64 KiB of stderr noise came first; only the last 8 KiB (from a line start) are kept.
        QVERIFY2(!log.contains(QStringLiteral("noise 0 ")), qPrintable(log.left(200)));
        QVERIFY(log.contains(QStringLiteral("initialized")));
        QVERIFY(c.serverLog().size() < 8 * 1024 + 4096);  // the stderr part plus the client's notes
        const pid_t pgid = c.processGroup();
        QVERIFY(pgid > 0);
        QVERIFY(stopAndWait(c, 5000));
        QCOMPARE(c.state(), ServerState::Stopped);
        QVERIFY(processGroupGone(pgid));
    }

    void callsProgressAndListChanged() {
        McpClient c(fakeServer(QStringLiteral("good")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        CallResult r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("hi")}}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(!r.isError);
        QCOMPARE(r.content.first().toObject().value(QStringLiteral("text")).toString(), QStringLiteral("echo: hi"));
        // Progress notifications before the answer are ignored.
        r = callToolAndWait(c, QStringLiteral("progress"), {}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(r.content.first().toObject().value(QStringLiteral("text")).toString(), QStringLiteral("done"));
        // A JSON-RPC error is a failed call, not a failed server.
        r = callToolAndWait(c, QStringLiteral("nope"), {}, 5000);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.contains(QStringLiteral("Unknown tool: nope")) && r.error.contains(QStringLiteral("-32602")),
                 qPrintable(r.error));
        QCOMPARE(c.state(), ServerState::Ready);
        // grow adds a tool and sends list_changed: the client lists again (all pages).
        QSignalSpy changed(&c, &McpClient::toolsChanged);
        r = callToolAndWait(c, QStringLiteral("grow"), {}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY2(changed.wait(5000), qPrintable(c.serverLog().right(600)));
        QCOMPARE(toolNames(c), (QStringList{"echo", "slow", "grow", "progress", "added4"}));
        const pid_t pgid = c.processGroup();
        QVERIFY(stopAndWait(c, 5000));
        QVERIFY(processGroupGone(pgid));
    }

    void callOnDemandStartsTheServer() {
        McpClient c(fakeServer(QStringLiteral("good")), fastOptions());
        QCOMPARE(c.state(), ServerState::Stopped);
        const CallResult r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("x")}}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(c.state(), ServerState::Ready);
        QVERIFY(stopAndWait(c, 5000));
    }

    void timeoutCancelsTheCall() {
        McpClient c(fakeServer(QStringLiteral("good")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        QElapsedTimer t;
        t.start();
        CallResult r = callToolAndWait(c, QStringLiteral("slow"), {}, 300);
        QVERIFY(t.elapsed() < 3000);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.contains(QStringLiteral("timed out after 0.3 s")), qPrintable(r.error));
        // The server was told, with the request's id; the connection stays usable.
        QVERIFY2(QTest::qWaitFor([&] { return c.serverLog().contains(QRegularExpression(
                                                  QStringLiteral("cancelled \\d+: the tool call timed out"))); },
                                 3000),
                 qPrintable(c.serverLog().right(500)));
        QCOMPARE(c.state(), ServerState::Ready);
        r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("still")}}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error));

        // The user's cancel: the callback runs at once, the server gets notifications/cancelled.
        CallResult cancelled;
        bool done = false;
        const qint64 id = c.callTool(QStringLiteral("slow"), {}, [&](const CallResult& res) {
            cancelled = res;
            done = true;
        });
        QVERIFY(QTest::qWaitFor([&] { return c.serverLog().count(QStringLiteral(" slow")) >= 2; }, 3000));
        c.cancelCall(id);
        QVERIFY(done);
        QVERIFY(!cancelled.ok);
        QCOMPARE(cancelled.error, QStringLiteral("cancelled by the user"));
        QVERIFY(QTest::qWaitFor([&] { return c.serverLog().contains(QStringLiteral(": cancelled by the user")); }, 3000));
        QVERIFY(stopAndWait(c, 5000));
    }

    void pendingCallFailsWhenStopped() {
        McpClient c(fakeServer(QStringLiteral("good")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        CallResult r;
        bool done = false;
        c.callTool(QStringLiteral("slow"), {}, [&](const CallResult& res) {
            r = res;
            done = true;
        });
        QVERIFY(stopAndWait(c, 5000));
        QVERIFY(done);
        QVERIFY2(r.error.contains(QStringLiteral("was stopped")), qPrintable(r.error));
    }

    void misbehavingServersFailClearly_data() {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QString>("reason");
        QTest::newRow("invalid JSON") << "invalid-json" << "the server sent invalid JSON";
        QTest::newRow("bad envelope") << "bad-rpc" << "without \"jsonrpc\": \"2.0\"";
        QTest::newRow("huge line") << "huge" << "longer than 1 MiB; connection closed";
        QTest::newRow("never answers") << "silent" << "no answer to initialize within 1 s";
        QTest::newRow("future version") << "future-version" << "protocol version \"2099-01-01\", which LlamaDesk does not";
    }
    void misbehavingServersFailClearly() {
        QFETCH(QString, mode);
        QFETCH(QString, reason);
        McpClient::Options opt = fastOptions();
        opt.requestTimeoutMs = 1000;
        opt.stdio.maxLineBytes = 1024 * 1024;
        McpClient c(fakeServer(mode), opt);
        QSignalSpy stopped(&c, &McpClient::stopped);
        QElapsedTimer t;
        t.start();
        QString error;
        QVERIFY(!startAndWait(c, 10000, &error));
        QVERIFY(t.elapsed() < 8000);  // node's start-up plus at most the 1 s timeout, on a busy machine
        QCOMPARE(c.state(), ServerState::Failed);
        QVERIFY2(c.failureReason().contains(reason), qPrintable(c.failureReason()));
        QVERIFY2(error.contains(reason) && error.contains(QStringLiteral("fake-") + mode), qPrintable(error));
        QVERIFY(c.serverLog().contains(QStringLiteral("failed: ")));
        // A call now fails at once with the reason; it does not restart the server by itself.
        const CallResult r = callToolAndWait(c, QStringLiteral("echo"), {}, 1000);
        QVERIFY2(!r.ok && r.error.contains(reason), qPrintable(r.error));
        QVERIFY(stopped.size() == 1 || stopped.wait(5000));
        QVERIFY(processGroupGone(c.processGroup()));
    }

    void crashMidCallKillsTheGroup() {
        McpClient c(fakeServer(QStringLiteral("crash")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        const pid_t pgid = c.processGroup();
        QSignalSpy stopped(&c, &McpClient::stopped);
        const CallResult r = callToolAndWait(c, QStringLiteral("echo"), {}, 5000);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.contains(QStringLiteral("exited with code 3")) &&
                     r.error.contains(QStringLiteral("crashing mid-call")),  // the last stderr line
                 qPrintable(r.error));
        QCOMPARE(c.state(), ServerState::Failed);
        // Its `sleep` child outlived it in the group: stopping the group ends it too.
        QVERIFY(stopped.wait(5000));
        QVERIFY(processGroupGone(pgid));
        // Failed is not final: start() tries afresh.
        c.start();
        QVERIFY(waitForState(c, ServerState::Ready));
        QVERIFY(c.processGroup() != pgid);
        const pid_t second = c.processGroup();
        QVERIFY(stopAndWait(c, 5000));
        QVERIFY(processGroupGone(second));
    }

    void sigtermIgnoredGetsSigkill() {
        McpClient c(fakeServer(QStringLiteral("ignore-term")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        const pid_t pgid = c.processGroup();
        QElapsedTimer t;
        t.start();
        QVERIFY(stopAndWait(c, 5000));
        QVERIFY(t.elapsed() >= 600);  // stdin closed, SIGTERM ignored, then SIGKILL
        QVERIFY(processGroupGone(pgid));
    }

    void endlessListChangedIsBounded() {
        McpClient c(fakeServer(QStringLiteral("churn")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        QCOMPARE(toolNames(c), (QStringList{"echo", "slow", "grow", "progress"}));
        QVERIFY2(c.serverLog().contains(QStringLiteral("keeps changing its tool list")), qPrintable(c.serverLog().right(300)));
        // Once ready, list_changed bursts are coalesced: at most about 10 walks (of 2 pages) a second.
        const qsizetype before = c.serverLog().count(QStringLiteral("tools/list "));
        QTest::qWait(1000);
        const qsizetype during = c.serverLog().count(QStringLiteral("tools/list ")) - before;
        QVERIFY2(during <= 2 * 15, qPrintable(QString::number(during)));
        const CallResult r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("ok")}}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error));
        QVERIFY(stopAndWait(c, 5000));
    }

    void olderProtocolVersionIsAccepted() {
        McpClient c(fakeServer(QStringLiteral("old-version")), fastOptions());
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        QCOMPARE(c.protocolVersion(), QStringLiteral("2024-11-05"));
        QVERIFY(stopAndWait(c, 5000));
    }

    void missingCommandFails() {
        ServerConfig s;
        s.name = QStringLiteral("ghost");
        s.command = QStringLiteral("/nonexistent/mcp-server");
        McpClient c(s, fastOptions());
        QString error;
        QVERIFY(!startAndWait(c, 5000, &error));
        QVERIFY2(c.failureReason().contains(QStringLiteral("cannot start \"/nonexistent/mcp-server\"")),
                 qPrintable(c.failureReason()));
        QVERIFY(stopAndWait(c, 5000));
    }

    void unreachableHttpServerFails() {
        ServerConfig s;
        s.name = QStringLiteral("web");
        s.transport = ServerConfig::Transport::Http;
        s.url = QUrl(QStringLiteral("http://127.0.0.1:9/mcp"));  // discard port: nothing listens
        McpClient c(s, fastOptions());
        QString error;
        QVERIFY(!startAndWait(c, 5000, &error));
        QVERIFY2(error.contains(QStringLiteral("cannot reach http://127.0.0.1:9/mcp")), qPrintable(error));
        QVERIFY(stopAndWait(c, 5000));
    }
};

QTEST_GUILESS_MAIN(TestMcpClientFake)
#include "test_mcp_client_fake.moc"
