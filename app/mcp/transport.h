#pragma once
// How an MCP client reaches one server: JSON-RPC messages in and out, one per "line" (a stdio
// line, an HTTP body or a server-sent event). Subclasses: StdioTransport, HttpTransport.
#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QString>

namespace ld::mcp {

class Transport : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    // Connects (starts the server process); emits opened() or failed().
    virtual void open() = 0;
    virtual void send(const QJsonObject& message) = 0;
    // Ends the connection and whatever the server started; emits closed() once it is all gone.
    // Safe to call more than once and after failed().
    virtual void close() = 0;
    // What the server wrote for humans (stderr), or the transport's own notes; bounded.
    virtual QString log() const = 0;
    // The version initialize agreed on, for transports that state it on every request (HTTP).
    virtual void setProtocolVersion(const QString&) {}

signals:
    void opened();
    void lineReceived(const QByteArray& line);
    // The connection is unusable (cannot start, exited, too-long line); close() follows by itself.
    void failed(const QString& reason);
    void closed();
};

}  // namespace ld::mcp
