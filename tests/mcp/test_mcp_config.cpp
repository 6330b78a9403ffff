// The MCP servers file: the mcpServers format of other hosts (stdio and Streamable HTTP
// entries), and a clear error naming the field for each kind of mistake.
#include <QTemporaryDir>
#include <QTest>

#include "app/mcp/json_rpc.h"
#include "app/mcp/mcp_config.h"

using namespace ld::mcp;

namespace {
QByteArray quoted(const char* json) { return QByteArray(json).replace('\'', '"'); }
}  // namespace

class TestMcpConfig : public QObject {
    Q_OBJECT

private slots:
    void parsesStdioAndHttpServers() {
        // Single quotes stand for double quotes (Qt 6.4's moc misreads raw strings).
        const ConfigResult r = parseConfig(quoted(
            "{'mcpServers': {"
            "'files': {'command': 'npx', 'args': ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'],"
            "          'env': {'DEBUG': '1'}, 'cwd': '/srv', 'autoApprove': ['read_file']},"
            "'web': {'url': 'https://example.com/mcp', 'headers': {'Authorization': 'Bearer x'}},"
            "'typed': {'type': 'http', 'url': 'http://127.0.0.1:3001/mcp'}}}"));
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.servers.size(), 3);
        const ServerConfig* files = findServer(r.servers, QStringLiteral("files"));
        QVERIFY(files);
        QCOMPARE(files->transport, ServerConfig::Transport::Stdio);
        QCOMPARE(files->command, QStringLiteral("npx"));
        QCOMPARE(files->args, (QStringList{"-y", "@modelcontextprotocol/server-filesystem", "/tmp"}));
        QCOMPARE(files->env.value(QStringLiteral("DEBUG")), QStringLiteral("1"));
        QCOMPARE(files->cwd, QStringLiteral("/srv"));
        const ServerConfig* web = findServer(r.servers, QStringLiteral("web"));
        QVERIFY(web);
        QCOMPARE(web->transport, ServerConfig::Transport::Http);
        QCOMPARE(web->url, QUrl(QStringLiteral("https://example.com/mcp")));
        QCOMPARE(web->headers.value(QStringLiteral("Authorization")), QStringLiteral("Bearer x"));
        QCOMPARE(findServer(r.servers, QStringLiteral("typed"))->transport, ServerConfig::Transport::Http);
        QVERIFY(!findServer(r.servers, QStringLiteral("nope")));
    }

    void acceptsVsCodeServersKeyAndEmptyList() {
        ConfigResult r = parseConfig(quoted("{'servers': {'a': {'type': 'stdio', 'command': 'x'}}}"));
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.servers.size(), 1);
        r = parseConfig(quoted("{'mcpServers': {}}"));
        QVERIFY2(r.ok(), qPrintable(r.error));
        QVERIFY(r.servers.isEmpty());
    }

    void rejectsMistakesClearly_data() {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not json") << QByteArray("{\n  \"mcpServers\": {,}\n}") << "not valid JSON at line 2";
        QTest::newRow("array") << QByteArray("[]") << "expected a JSON object with \"mcpServers\"";
        QTest::newRow("no servers key") << quoted("{'x': {}}") << "expected a JSON object with \"mcpServers\"";
        QTest::newRow("servers not object") << quoted("{'mcpServers': []}") << "\"mcpServers\" must be an object";
        QTest::newRow("entry not object") << quoted("{'mcpServers': {'a': 'npx'}}")
                                          << "server \"a\" must be an object with \"command\" or \"url\"";
        QTest::newRow("neither") << quoted("{'mcpServers': {'a': {'args': []}}}")
                                 << "server \"a\" needs a \"command\" (stdio) or a \"url\" (HTTP)";
        QTest::newRow("both") << quoted("{'mcpServers': {'a': {'command': 'x', 'url': 'http://h/mcp'}}}")
                              << "server \"a\" has both \"command\" and \"url\"";
        QTest::newRow("empty command") << quoted("{'mcpServers': {'a': {'command': ' '}}}")
                                       << "\"command\" must be a non-empty string";
        QTest::newRow("args not strings") << quoted("{'mcpServers': {'a': {'command': 'x', 'args': [1]}}}")
                                          << "\"args\" must be an array of strings";
        QTest::newRow("env value") << quoted("{'mcpServers': {'a': {'command': 'x', 'env': {'N': 1}}}}")
                                   << "server \"a\": \"env\".N must be a string";
        QTest::newRow("bad url") << quoted("{'mcpServers': {'a': {'url': 'ftp://h/mcp'}}}")
                                 << "\"url\" must be an http:// or https:// URL";
        QTest::newRow("sse") << quoted("{'mcpServers': {'a': {'type': 'sse', 'url': 'http://h/sse'}}}")
                             << "legacy HTTP+SSE transport is not supported";
        QTest::newRow("unknown type") << quoted("{'mcpServers': {'a': {'type': 'ws', 'url': 'http://h'}}}")
                                      << "unknown \"type\" \"ws\"";
        QTest::newRow("stdio with url") << quoted("{'mcpServers': {'a': {'type': 'stdio', 'url': 'http://h'}}}")
                                        << "\"stdio\" needs a \"command\"";
    }
    void rejectsMistakesClearly() {
        QFETCH(QByteArray, json);
        QFETCH(QString, expected);
        const ConfigResult r = parseConfig(json);
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(expected), qPrintable(r.error));
        QVERIFY(r.servers.isEmpty());
    }

    void missingFileNamesThePath() {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("absent.json"));
        const ConfigResult r = loadConfigFile(path);
        QVERIFY(!r.ok());
        QVERIFY2(r.error.contains(path), qPrintable(r.error));
    }

    void jsonRpcEnvelopeIsValidated_data() {
        QTest::addColumn<QByteArray>("line");
        QTest::addColumn<QString>("expected");  // empty: valid
        QTest::newRow("result") << quoted("{'jsonrpc':'2.0','id':1,'result':{}}") << QString();
        QTest::newRow("request") << quoted("{'jsonrpc':'2.0','id':'a','method':'ping'}") << QString();
        QTest::newRow("batch") << quoted("[{'jsonrpc':'2.0','method':'n'},{'jsonrpc':'2.0','id':2,'result':1}]")
                               << QString();
        QTest::newRow("garbage") << QByteArray("hello") << "invalid JSON";
        QTest::newRow("version") << quoted("{'jsonrpc':'1.0','id':1,'result':{}}") << "\"jsonrpc\": \"2.0\"";
        QTest::newRow("both") << quoted("{'jsonrpc':'2.0','id':1,'result':{},'error':{}}") << "both";
        QTest::newRow("neither") << quoted("{'jsonrpc':'2.0','id':1}") << "neither";
        QTest::newRow("no id") << quoted("{'jsonrpc':'2.0','result':{}}") << "without a valid \"id\"";
        QTest::newRow("bad error") << quoted("{'jsonrpc':'2.0','id':1,'error':{'code':'x'}}") << "numeric";
        QTest::newRow("null id request") << quoted("{'jsonrpc':'2.0','id':null,'method':'x'}") << "\"id\"";
        QTest::newRow("empty batch") << QByteArray("[]") << "empty JSON-RPC batch";
    }
    void jsonRpcEnvelopeIsValidated() {
        QFETCH(QByteArray, line);
        QFETCH(QString, expected);
        QString error;
        const QList<RpcMessage> m = parseLine(line, &error);
        if (expected.isEmpty()) {
            QVERIFY2(!m.isEmpty(), qPrintable(error));
        } else {
            QVERIFY(m.isEmpty());
            QVERIFY2(error.contains(expected), qPrintable(error));
        }
    }
};

QTEST_GUILESS_MAIN(TestMcpConfig)
#include "test_mcp_config.moc"
