#include "app/mcp/mcp_host.h"

#include <QEventLoop>
#include <QTimer>

namespace ld::mcp {

McpHost::McpHost(const QList<ServerConfig>& servers, McpClient::Options options, QObject* parent)
    : QObject(parent) {
    for (const ServerConfig& s : servers) {
        auto client = std::make_unique<McpClient>(s, options);
        McpClient* c = client.get();
        connect(c, &McpClient::stateChanged, this, [this, c](ServerState state) {
            emit serverStateChanged(c->config().name, state, c->failureReason());
            // A server leaving Ready takes its tools out of the list.
            if (state != ServerState::Starting) emit toolsChanged();
        });
        connect(c, &McpClient::toolsChanged, this, &McpHost::toolsChanged);
        connect(c, &McpClient::stopped, this, [this] {
            if (++stoppedCount_ == int(clients_.size())) emit allStopped();
        });
        clients_.push_back(std::move(client));
    }
}

McpHost::~McpHost() = default;  // each client kills its server's process group

QList<McpClient*> McpHost::clients() const {
    QList<McpClient*> out;
    for (const auto& c : clients_) out << c.get();
    return out;
}

McpClient* McpHost::client(const QString& serverName) const {
    for (const auto& c : clients_)
        if (c->config().name == serverName) return c.get();
    return nullptr;
}

QList<Tool> McpHost::tools() const {
    QList<Tool> out;
    for (const auto& c : clients_)
        if (c->state() == ServerState::Ready) out += c->tools();
    return out;
}

bool McpHost::starting() const {
    for (const auto& c : clients_)
        if (c->state() == ServerState::Starting) return true;
    return false;
}

void McpHost::startAll() {
    for (const auto& c : clients_) c->start();
}

void McpHost::stopAll() {
    stoppedCount_ = 0;
    if (clients_.empty()) {
        QTimer::singleShot(0, this, &McpHost::allStopped);
        return;
    }
    for (const auto& c : clients_) c->stop();
}

qint64 McpHost::callTool(const QString& server, const QString& tool, const QJsonObject& arguments,
                         McpClient::CallCallback done, int timeoutMs) {
    McpClient* c = client(server);
    if (!c) {
        QTimer::singleShot(0, this, [done, server] {
            done(CallResult::failure(QStringLiteral("no MCP server \"%1\" is configured").arg(server)));
        });
        return -1;
    }
    return c->callTool(tool, arguments, std::move(done), timeoutMs);
}

void startAllAndWait(McpHost& host, int timeoutMs) {
    QEventLoop loop;
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    QObject::connect(&host, &McpHost::serverStateChanged, &loop, [&host, &loop] {
        if (!host.starting()) loop.quit();
    });
    host.startAll();
    if (host.starting()) loop.exec();
    // Still starting after the deadline: give up on those.
    for (McpClient* c : host.clients())
        if (c->state() == ServerState::Starting) c->stop();
}

void stopAllAndWait(McpHost& host, int stopTimeoutMs) {
    QEventLoop loop;
    bool done = false;
    QTimer::singleShot(stopTimeoutMs, &loop, &QEventLoop::quit);
    QObject::connect(&host, &McpHost::allStopped, &loop, [&] {
        done = true;
        loop.quit();
    });
    host.stopAll();
    if (!done) loop.exec();
}

}  // namespace ld::mcp
