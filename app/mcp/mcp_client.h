#pragma once
// One MCP server as the app sees it: started on demand, initialized (protocol version
// negotiation, `notifications/initialized`), its tools listed (all pages, again on
// `notifications/tools/list_changed`), tools called with a timeout and cancellation. Requests
// from the server are answered (ping; sampling, roots and elicitation are not offered: -32601).
// Anything that makes the server unusable (cannot start, crash, invalid JSON-RPC, no answer to a
// protocol request in time, a huge message, an HTTP error) puts it in Failed with a reason and
// stops its process group; the rest of the app goes on without it (see McpHost). Transports:
// stdio (a child process) or Streamable HTTP (a "url"). Lives in (and is used from) one thread
// with an event loop; nothing here blocks.
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <functional>
#include <sys/types.h>

#include "app/mcp/http_transport.h"
#include "app/mcp/json_rpc.h"
#include "app/mcp/mcp_config.h"
#include "app/mcp/mcp_types.h"
#include "app/mcp/stdio_transport.h"

namespace ld::mcp {

class McpClient final : public QObject {
    Q_OBJECT
public:
    struct Options {
        int requestTimeoutMs = 30000;  // initialize, tools/list
        int callTimeoutMs = 120000;    // tools/call, unless a call gives its own
        StdioTransport::Options stdio;
        HttpTransport::Options http;
    };
    using CallCallback = std::function<void(const CallResult&)>;

    explicit McpClient(ServerConfig config, QObject* parent = nullptr);
    McpClient(ServerConfig config, Options options, QObject* parent = nullptr);
    ~McpClient() override;

    const ServerConfig& config() const { return config_; }
    ServerState state() const { return state_; }
    QString failureReason() const { return failureReason_; }
    QString protocolVersion() const { return protocolVersion_; }  // negotiated
    QJsonObject serverInfo() const { return serverInfo_; }
    QList<Tool> tools() const { return tools_; }
    // The server's stderr (bounded) and its logging notifications, for the user to read.
    QString serverLog() const;
    // The process group of the (last) server process, 0 before one started.
    pid_t processGroup() const { return lastPgid_; }

    // Starts the server; no-op while starting or ready. From Failed, starts afresh.
    void start();
    // Stops the server and its process group; pending calls fail. stopped() once all is gone
    // (also when nothing was running).
    void stop();
    // Calls a tool; `done` runs exactly once (never inside callTool itself), also on failure,
    // timeout, cancelCall() or stop(); not when the client is destroyed first.
    // Starts the server when it is stopped; waits for it while it starts. timeoutMs <= 0: the
    // default. Returns an id for cancelCall().
    qint64 callTool(const QString& name, const QJsonObject& arguments, CallCallback done, int timeoutMs = 0);
    // Sends notifications/cancelled for a call in flight; its callback gets "cancelled".
    void cancelCall(qint64 callId, const QString& reason = QStringLiteral("cancelled by the user"));

signals:
    void stateChanged(ld::mcp::ServerState state);
    void toolsChanged();
    void stopped();

private:
    enum class Kind { Initialize, ListTools, Call };
    struct Pending {
        Kind kind;
        QTimer* timer = nullptr;
        CallCallback done;
        qint64 callId = 0;  // Call: the id returned to the caller
        int timeoutMs = 0;
    };
    struct QueuedCall {
        qint64 callId;
        QString name;
        QJsonObject arguments;
        CallCallback done;
        int timeoutMs;
    };

    void setState(ServerState s, const QString& reason = {});
    void fail(const QString& reason);
    qint64 sendRequest(Kind kind, const QString& method, const QJsonObject& params, int timeoutMs);
    void onLine(const QByteArray& line);
    void onResponse(const RpcMessage& m);
    void onServerRequest(const RpcMessage& m);
    void onNotification(const RpcMessage& m);
    void onInitialized(const QJsonObject& result);
    void listTools(const QString& cursor = {});
    void onToolsPage(const QJsonObject& result);
    void sendCall(const QueuedCall& call);
    void finishCall(qint64 rpcId, const CallResult& result);
    void failAllCalls(const QString& why);
    void appendLog(const QString& line);
    void dropTransport();

    ServerConfig config_;
    Options options_;
    ServerState state_ = ServerState::Stopped;
    QString failureReason_;
    QString protocolVersion_;
    QJsonObject serverInfo_;
    QList<Tool> tools_;
    QPointer<Transport> transport_;
    pid_t lastPgid_ = 0;
    qint64 nextId_ = 1;
    QHash<qint64, Pending> pending_;          // by JSON-RPC id
    QHash<qint64, qint64> callToRpc_;         // call id -> JSON-RPC id, while in flight
    QList<QueuedCall> queued_;                // calls waiting for the server to be ready
    bool initialized_ = false;                // initialize answered
    bool listing_ = false;                    // a tools/list walk in progress
    bool relist_ = false;                     // list_changed arrived during that walk
    int relistChain_ = 0;                     // walks redone in a row because of list_changed
    QTimer relistTimer_;                      // coalesces list_changed bursts (at most 10 walks/s)
    QList<Tool> listed_;                      // pages gathered so far
    QStringList seenCursors_;
    QStringList log_;                         // logging notifications and client notes
    int closingTransports_ = 0;               // dropped, their processes still exiting
    QString lastLog_;                         // the stderr of the last transport, once closed
};

}  // namespace ld::mcp
