#pragma once
// The MCP stdio transport: the server is a child process in its own process group (setsid), with
// newline-delimited JSON-RPC on its stdin/stdout. Its stderr is kept as a bounded log (the last
// `stderrLogBytes`), a line longer than `maxLineBytes` closes the connection with a clear error,
// and closing follows the spec's order — close stdin, SIGTERM, SIGKILL — for the whole group.
#include <QProcess>
#include <QTimer>

#include <sys/types.h>

#include "app/mcp/mcp_config.h"
#include "app/mcp/transport.h"

namespace ld::mcp {

class StdioTransport final : public Transport {
    Q_OBJECT
public:
    struct Options {
        qsizetype maxLineBytes = 16 * 1024 * 1024;
        qsizetype stderrLogBytes = 64 * 1024;
        int stdinCloseGraceMs = 500;  // after closing stdin, before SIGTERM
        int termGraceMs = 2000;       // after SIGTERM, before SIGKILL
    };

    StdioTransport(ServerConfig config, Options options, QObject* parent = nullptr);
    // Kills what is still running, synchronously (bounded by a few hundred milliseconds).
    ~StdioTransport() override;

    void open() override;
    void send(const QJsonObject& message) override;
    void close() override;
    QString log() const override;

    // The server's process group id (its leader's pid) once started, else 0.
    pid_t processGroup() const { return pgid_; }

private:
    void onStdout();
    void onStderr();
    void onFinished(int exitCode, QProcess::ExitStatus status);
    void fail(const QString& reason);
    void poll();
    QString stderrTail() const;

    ServerConfig config_;
    Options options_;
    QProcess* process_ = nullptr;
    pid_t pgid_ = 0;
    QByteArray stdout_;
    QByteArray stderr_;
    bool failed_ = false;
    bool closing_ = false;
    bool closedEmitted_ = false;
    QTimer termTimer_, killTimer_, pollTimer_;
};

}  // namespace ld::mcp
