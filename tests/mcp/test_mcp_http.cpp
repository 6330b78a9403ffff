// The Streamable HTTP transport against tests/mcp/fake_http_server.js: plain JSON answers and
// event streams (CRLF, comments, a priming event, data over two lines, a server ping inside the
// stream), the session id, protocol version and configured headers on later requests, the GET
// stream refused with 405, DELETE on close; an expired session (404) and a huge event fail the
// server clearly.
#include <QProcess>
#include <QTest>

#include "app/mcp/mcp_blocking.h"
#include "app/mcp/mcp_client.h"
#include "mcp/mcp_test_util.h"

using namespace ld::mcp;

namespace {

// The fake server in one mode, its port and everything it logged.
class FakeHttpServer {
public:
    explicit FakeHttpServer(const QString& mode) {
        process_.start(ld::test::nodeExecutable(),
                       {QStringLiteral(LLAMADESK_SOURCE_DIR "/tests/mcp/fake_http_server.js"), mode});
        // A server that never prints its port leaves port_ 0, which every test checks first.
        (void)QTest::qWaitFor(
            [this] {
                out_ += process_.readAllStandardOutput();
                return out_.contains('\n') || process_.state() == QProcess::NotRunning;
            },
            15000);
        port_ = out_.startsWith("port ") ? out_.mid(5).trimmed().toInt() : 0;
    }
    ~FakeHttpServer() {
        process_.kill();
        process_.waitForFinished(5000);
    }
    int port() const { return port_; }
    QString log() {
        err_ += process_.readAllStandardError();
        return QString::fromUtf8(err_);
    }
    bool waitForLog(const QString& text) {
        return QTest::qWaitFor([&] { return log().contains(text); }, 5000);
    }

private:
    QProcess process_;
    QByteArray out_, err_;
    int port_ = 0;
};

ServerConfig httpServer(int port) {
    ServerConfig s;
    s.name = QStringLiteral("web");
    s.transport = ServerConfig::Transport::Http;
    s.url = QUrl(QStringLiteral("http://127.0.0.1:%1/mcp").arg(port));
    s.headers.insert(QStringLiteral("Authorization"), QStringLiteral("Bearer sekrit"));
    return s;
}

}  // namespace

class TestMcpHttp : public QObject {
    Q_OBJECT

private slots:
    void init() { LD_REQUIRE_NODE(); }

    void answersAsJsonOrEventStreams_data() {
        QTest::addColumn<QString>("mode");
        QTest::newRow("json") << "json";
        QTest::newRow("sse") << "sse";
    }
    void answersAsJsonOrEventStreams() {
        QFETCH(QString, mode);
        FakeHttpServer server(mode);
        QVERIFY(server.port() > 0);
        McpClient c(httpServer(server.port()));
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error + server.log()));
        QCOMPARE(c.serverInfo().value(QStringLiteral("name")).toString(), QStringLiteral("fake-http"));
        QCOMPARE(c.tools().size(), 1);
        const CallResult r = callToolAndWait(c, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("over http")}}, 5000);
        QVERIFY2(r.ok, qPrintable(r.error + server.log()));
        QCOMPARE(r.content.first().toObject().value(QStringLiteral("text")).toString(), QStringLiteral("echo: over http"));
        if (mode == QLatin1String("sse"))  // the ping inside the stream was answered by a POST
            QVERIFY2(server.waitForLog(QStringLiteral("POST answer srv-1 {}")), qPrintable(server.log()));
        QVERIFY(stopAndWait(c, 5000));
        QVERIFY(server.waitForLog(QStringLiteral("DELETE session=session-1234")));

        const QString log = server.log();
        const QString version = supportedProtocolVersions().first();
        // initialize goes without a session; everything after it carries the session id and
        // the negotiated version, and every request the configured header.
        QVERIFY2(log.contains(QStringLiteral("POST initialize session=- version=- auth=Bearer sekrit")), qPrintable(log));
        for (const QString& m : {QStringLiteral("notifications/initialized"), QStringLiteral("tools/list"),
                                 QStringLiteral("tools/call")}) {
            const QString line = QStringLiteral("POST %1 session=session-1234 version=%2 auth=Bearer sekrit").arg(m, version);
            QVERIFY2(log.contains(line), qPrintable(line + QStringLiteral("\n") + log));
        }
        QVERIFY2(log.contains(QStringLiteral("GET session=session-1234")), qPrintable(log));
        QVERIFY2(c.serverLog().contains(QStringLiteral("GET: 405")), qPrintable(c.serverLog()));
    }

    void expiredSessionFails() {
        FakeHttpServer server(QStringLiteral("expire"));
        QVERIFY(server.port() > 0);
        McpClient c(httpServer(server.port()));
        QString error;
        QVERIFY2(startAndWait(c, 10000, &error), qPrintable(error));
        const CallResult r = callToolAndWait(c, QStringLiteral("echo"), {}, 5000);
        QVERIFY(!r.ok);
        QVERIFY2(r.error.contains(QStringLiteral("the server ended the session (HTTP 404)")), qPrintable(r.error));
        QCOMPARE(c.state(), ServerState::Failed);
        QVERIFY(stopAndWait(c, 5000));
    }

    void hugeEventFails() {
        FakeHttpServer server(QStringLiteral("huge"));
        QVERIFY(server.port() > 0);
        McpClient::Options opt;
        opt.http.maxMessageBytes = 1024 * 1024;
        McpClient c(httpServer(server.port()), opt);
        QString error;
        QVERIFY(!startAndWait(c, 10000, &error));
        QVERIFY2(error.contains(QStringLiteral("longer than 1 MiB; connection closed")), qPrintable(error));
        QVERIFY(stopAndWait(c, 5000));
    }
};

QTEST_GUILESS_MAIN(TestMcpHttp)
#include "test_mcp_http.moc"
