#pragma once
// How an MCP client reaches one server: newline-delimited JSON-RPC messages in and out. The
// stdio transport is the one implemented; Streamable HTTP would be a second subclass.
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
    // What the server wrote for humans (stderr), bounded.
    virtual QString log() const = 0;

signals:
    void opened();
    void lineReceived(const QByteArray& line);
    // The connection is unusable (cannot start, exited, too-long line); close() follows by itself.
    void failed(const QString& reason);
    void closed();
};

}  // namespace ld::mcp
