#include "app/mcp/mcp_blocking.h"

#include <QEventLoop>
#include <QTimer>

namespace ld::mcp {

bool startAndWait(McpClient& client, int timeoutMs, QString* error) {
    QEventLoop loop;
    QTimer deadline;
    deadline.setSingleShot(true);
    QObject::connect(&deadline, &QTimer::timeout, &loop, &QEventLoop::quit);
    QObject::connect(&client, &McpClient::stateChanged, &loop, [&loop](ServerState s) {
        if (s != ServerState::Starting) loop.quit();
    });
    client.start();
    if (client.state() == ServerState::Starting) {
        deadline.start(timeoutMs);
        loop.exec();
    }
    if (client.state() == ServerState::Ready) return true;
    if (client.state() == ServerState::Failed) {
        *error = QStringLiteral("MCP server \"%1\": %2").arg(client.config().name, client.failureReason());
    } else {
        *error = QStringLiteral("MCP server \"%1\" did not get ready within %2 s")
                     .arg(client.config().name)
                     .arg(timeoutMs / 1000.0);
        client.stop();
    }
    return false;
}

QString notReadyReason(const McpClient& client) {
    return client.state() == ServerState::Failed
               ? QStringLiteral("MCP server \"%1\": %2").arg(client.config().name, client.failureReason())
               : QStringLiteral("MCP server \"%1\" did not get ready in time").arg(client.config().name);
}

CallResult callToolAndWait(McpClient& client, const QString& name, const QJsonObject& arguments, int timeoutMs) {
    QEventLoop loop;
    CallResult out;
    bool done = false;
    client.callTool(
        name, arguments,
        [&](const CallResult& r) {
            out = r;
            done = true;
            loop.quit();
        },
        timeoutMs);
    if (!done) loop.exec();  // the call's own timeout bounds this
    return out;
}

bool stopAndWait(McpClient& client, int timeoutMs) {
    QEventLoop loop;
    bool stopped = false;
    QObject::connect(&client, &McpClient::stopped, &loop, [&] {
        stopped = true;
        loop.quit();
    });
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    client.stop();
    if (!stopped) loop.exec();
    return stopped;
}

}  // namespace ld::mcp
