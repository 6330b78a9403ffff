#include "app/mcp/json_rpc.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace ld::mcp {
namespace {

bool validId(const QJsonValue& id) { return id.isString() || id.isDouble(); }

bool parseOne(const QJsonValue& v, RpcMessage* m, QString* error) {
    if (!v.isObject()) {
        *error = QStringLiteral("a JSON-RPC message must be an object");
        return false;
    }
    const QJsonObject o = v.toObject();
    if (o.value(QStringLiteral("jsonrpc")).toString() != QLatin1String("2.0")) {
        *error = QStringLiteral("a message without \"jsonrpc\": \"2.0\"");
        return false;
    }
    const QJsonValue method = o.value(QStringLiteral("method"));
    const QJsonValue id = o.value(QStringLiteral("id"));
    if (!method.isUndefined()) {
        if (!method.isString() || method.toString().isEmpty()) {
            *error = QStringLiteral("a request whose \"method\" is not a string");
            return false;
        }
        m->method = method.toString();
        m->params = o.value(QStringLiteral("params"));
        if (!m->params.isUndefined() && !m->params.isObject() && !m->params.isArray()) {
            *error = QStringLiteral("\"%1\" with \"params\" that are neither an object nor an array").arg(m->method);
            return false;
        }
        if (id.isUndefined()) {
            m->kind = RpcMessage::Kind::Notification;
            return true;
        }
        if (!validId(id)) {
            *error = QStringLiteral("a request \"%1\" whose \"id\" is not a string or number").arg(m->method);
            return false;
        }
        m->kind = RpcMessage::Kind::Request;
        m->id = id;
        return true;
    }
    if (!validId(id)) {
        *error = QStringLiteral("a response without a valid \"id\"");
        return false;
    }
    m->id = id;
    const bool hasResult = o.contains(QStringLiteral("result"));
    const QJsonValue err = o.value(QStringLiteral("error"));
    if (hasResult == !err.isUndefined()) {
        *error = QStringLiteral("a response with %1 \"result\" and \"error\"").arg(hasResult ? "both" : "neither");
        return false;
    }
    if (hasResult) {
        m->kind = RpcMessage::Kind::Result;
        m->result = o.value(QStringLiteral("result"));
        return true;
    }
    const QJsonObject e = err.toObject();
    if (!err.isObject() || !e.value(QStringLiteral("code")).isDouble() ||
        !e.value(QStringLiteral("message")).isString()) {
        *error = QStringLiteral("an error response without a numeric \"code\" and a \"message\"");
        return false;
    }
    m->kind = RpcMessage::Kind::Error;
    m->errorCode = e.value(QStringLiteral("code")).toInt();
    m->errorMessage = e.value(QStringLiteral("message")).toString();
    m->errorData = e.value(QStringLiteral("data"));
    return true;
}

}  // namespace

QList<RpcMessage> parseLine(const QByteArray& line, QString* error) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &pe);
    if (pe.error != QJsonParseError::NoError) {
        *error = QStringLiteral("invalid JSON (%1 at byte %2)").arg(pe.errorString()).arg(pe.offset);
        return {};
    }
    QList<RpcMessage> out;
    if (doc.isArray()) {  // a batch (protocol 2025-03-26)
        const QJsonArray batch = doc.array();
        if (batch.isEmpty()) {
            *error = QStringLiteral("an empty JSON-RPC batch");
            return {};
        }
        for (const QJsonValue& v : batch) {
            RpcMessage m;
            if (!parseOne(v, &m, error)) return {};
            out << m;
        }
        return out;
    }
    RpcMessage m;
    if (!parseOne(doc.object(), &m, error)) {
        if (!doc.isObject()) *error = QStringLiteral("a JSON-RPC message must be an object");
        return {};
    }
    out << m;
    return out;
}

QJsonObject makeRequest(qint64 id, const QString& method, const QJsonObject& params) {
    QJsonObject o{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                  {QStringLiteral("id"), id},
                  {QStringLiteral("method"), method}};
    if (!params.isEmpty()) o.insert(QStringLiteral("params"), params);
    return o;
}

QJsonObject makeNotification(const QString& method, const QJsonObject& params) {
    QJsonObject o{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")}, {QStringLiteral("method"), method}};
    if (!params.isEmpty()) o.insert(QStringLiteral("params"), params);
    return o;
}

QJsonObject makeResult(const QJsonValue& id, const QJsonObject& result) {
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")}, {QStringLiteral("id"), id},
            {QStringLiteral("result"), result}};
}

QJsonObject makeError(const QJsonValue& id, int code, const QString& message) {
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("id"), id},
            {QStringLiteral("error"), QJsonObject{{QStringLiteral("code"), code}, {QStringLiteral("message"), message}}}};
}

}  // namespace ld::mcp
