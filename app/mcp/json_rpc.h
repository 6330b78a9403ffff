#pragma once
// JSON-RPC 2.0 messages as MCP uses them: one JSON object (or, from older servers, a batch
// array) per line. Parsing validates the envelope so that a misbehaving server is reported
// with a clear reason instead of being half understood.
#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>

namespace ld::mcp {

// JSON-RPC error codes used here.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

struct RpcMessage {
    enum class Kind { Request, Notification, Result, Error };
    Kind kind = Kind::Notification;
    QJsonValue id;  // number or string (requests, results, errors)
    QString method;
    QJsonValue params;
    QJsonValue result;
    int errorCode = 0;
    QString errorMessage;
    QJsonValue errorData;
};

// The messages in one line, or an empty list and *error set.
QList<RpcMessage> parseLine(const QByteArray& line, QString* error);

QJsonObject makeRequest(qint64 id, const QString& method, const QJsonObject& params);
QJsonObject makeNotification(const QString& method, const QJsonObject& params = {});
QJsonObject makeResult(const QJsonValue& id, const QJsonObject& result);
QJsonObject makeError(const QJsonValue& id, int code, const QString& message);

}  // namespace ld::mcp
