// McpHost: every configured server started together; a failing server (invalid JSON, silence)
// contributes no tools and is reported with its reason while the good one is listed and called;
// stopping ends every process group.
#include <QSignalSpy>
#include <QTest>

#include "app/mcp/mcp_host.h"
#include "mcp/mcp_test_util.h"

using namespace ld::mcp;
using ld::test::fakeServer;
using ld::test::processGroupGone;

class TestMcpHost : public QObject {
    Q_OBJECT

private slots:
    void init() { LD_REQUIRE_NODE(); }

    void goesOnWithoutFailedServers() {
        McpClient::Options opt;
        opt.requestTimeoutMs = 1000;
        opt.stdio.stdinCloseGraceMs = 200;
        opt.stdio.termGraceMs = 500;
        McpHost host({fakeServer(QStringLiteral("good")), fakeServer(QStringLiteral("invalid-json")),
                      fakeServer(QStringLiteral("silent"))},
                     opt);
        QSignalSpy states(&host, &McpHost::serverStateChanged);
        startAllAndWait(host, 15000);
        QVERIFY(!host.starting());
        QCOMPARE(host.client(QStringLiteral("fake-good"))->state(), ServerState::Ready);
        QCOMPARE(host.client(QStringLiteral("fake-invalid-json"))->state(), ServerState::Failed);
        QCOMPARE(host.client(QStringLiteral("fake-silent"))->state(), ServerState::Failed);
        QStringList failed;
        for (const QList<QVariant>& s : states)
            if (s.at(1).value<ServerState>() == ServerState::Failed) failed << s.at(0).toString() + ": " + s.at(2).toString();
        failed.sort();
        QCOMPARE(failed.size(), 2);
        QVERIFY2(failed[0].startsWith(QStringLiteral("fake-invalid-json: the server sent invalid JSON")), qPrintable(failed[0]));
        QVERIFY2(failed[1].startsWith(QStringLiteral("fake-silent: no answer to initialize within 1 s")), qPrintable(failed[1]));

        const QList<Tool> tools = host.tools();
        QCOMPARE(tools.size(), 4);
        for (const Tool& t : tools) QCOMPARE(t.server, QStringLiteral("fake-good"));

        CallResult r;
        bool done = false;
        host.callTool(QStringLiteral("fake-good"), QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("via host")}},
                      [&](const CallResult& res) {
                          r = res;
                          done = true;
                      });
        QVERIFY(QTest::qWaitFor([&] { return done; }, 5000));
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(r.content.first().toObject().value(QStringLiteral("text")).toString(), QStringLiteral("echo: via host"));
        done = false;
        host.callTool(QStringLiteral("nope"), QStringLiteral("echo"), {}, [&](const CallResult& res) {
            r = res;
            done = true;
        });
        QVERIFY(QTest::qWaitFor([&] { return done; }, 5000));
        QCOMPARE(r.error, QStringLiteral("no MCP server \"nope\" is configured"));

        QList<pid_t> groups;
        for (McpClient* c : host.clients()) groups << c->processGroup();
        QSignalSpy allStopped(&host, &McpHost::allStopped);
        stopAllAndWait(host, 5000);
        QCOMPARE(allStopped.size(), 1);
        for (McpClient* c : host.clients()) QCOMPARE(c->state(), ServerState::Stopped);
        QVERIFY(host.tools().isEmpty());
        for (pid_t g : groups) QVERIFY(processGroupGone(g));
    }
};

QTEST_GUILESS_MAIN(TestMcpHost)
#include "test_mcp_host.moc"
