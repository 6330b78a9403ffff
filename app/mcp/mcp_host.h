#pragma once
// All the configured MCP servers of the app: one McpClient each, started together, with the
// tools of the ready ones gathered in one list. A server that fails is reported through
// serverStateChanged() and simply contributes no tools; the others go on. Same threading as
// McpClient (one thread with an event loop; nothing blocks).
#include <QList>
#include <QObject>

#include <memory>
#include <vector>

#include "app/mcp/mcp_client.h"

namespace ld::mcp {

class McpHost final : public QObject {
    Q_OBJECT
public:
    McpHost(const QList<ServerConfig>& servers, McpClient::Options options, QObject* parent = nullptr);
    ~McpHost() override;

    QList<McpClient*> clients() const;
    McpClient* client(const QString& serverName) const;  // nullptr when not configured
    // The tools of every ready server, in the configuration's order.
    QList<Tool> tools() const;
    // True while some server is still starting.
    bool starting() const;

    void startAll();
    void stopAll();
    // Calls `tool` on `server`; an unknown server is a failure delivered like the others.
    qint64 callTool(const QString& server, const QString& tool, const QJsonObject& arguments,
                    McpClient::CallCallback done, int timeoutMs = 0);

signals:
    void serverStateChanged(const QString& server, ld::mcp::ServerState state, const QString& reason);
    void toolsChanged();
    // Every server's process is gone after stopAll().
    void allStopped();

private:
    std::vector<std::unique_ptr<McpClient>> clients_;
    int stoppedCount_ = 0;
};

// Blocking, for the CLI: starts every server and waits until none is starting (at most
// timeoutMs); then stops them all and waits for their processes (at most stopTimeoutMs).
void startAllAndWait(McpHost& host, int timeoutMs);
void stopAllAndWait(McpHost& host, int stopTimeoutMs);

}  // namespace ld::mcp
