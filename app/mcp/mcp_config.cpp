#include "app/mcp/mcp_config.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace ld::mcp {
namespace {

ConfigResult fail(QString error) {
    ConfigResult r;
    r.error = std::move(error);
    return r;
}

// A JSON parse error's byte offset as "line L, column C" (what an editor shows).
QString position(const QByteArray& json, int offset) {
    int line = 1, column = 1;
    for (int i = 0; i < offset && i < json.size(); ++i) {
        if (json[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return QStringLiteral("line %1, column %2").arg(line).arg(column);
}

bool stringMap(const QJsonValue& v, const QString& where, QMap<QString, QString>* out, QString* error) {
    if (v.isUndefined()) return true;
    if (!v.isObject()) {
        *error = where + QStringLiteral(" must be an object of strings");
        return false;
    }
    const QJsonObject o = v.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!it.value().isString()) {
            *error = where + QStringLiteral(".") + it.key() + QStringLiteral(" must be a string");
            return false;
        }
        out->insert(it.key(), it.value().toString());
    }
    return true;
}

bool parseServer(const QString& name, const QJsonValue& value, ServerConfig* s, QString* error) {
    const QString where = QStringLiteral("server \"%1\"").arg(name);
    if (name.trimmed().isEmpty()) {
        *error = QStringLiteral("a server has an empty name");
        return false;
    }
    if (!value.isObject()) {
        *error = where + QStringLiteral(" must be an object with \"command\" or \"url\"");
        return false;
    }
    const QJsonObject o = value.toObject();
    s->name = name;
    const QString type = o.value(QStringLiteral("type")).toString();
    if (!o.value(QStringLiteral("type")).isUndefined() && !o.value(QStringLiteral("type")).isString()) {
        *error = where + QStringLiteral(": \"type\" must be a string");
        return false;
    }
    if (type == QLatin1String("sse")) {
        *error = where + QStringLiteral(": the legacy HTTP+SSE transport is not supported; use a "
                                        "Streamable HTTP \"url\" or a stdio \"command\"");
        return false;
    }
    const bool hasCommand = o.contains(QStringLiteral("command"));
    const bool hasUrl = o.contains(QStringLiteral("url"));
    if (hasCommand == hasUrl) {
        *error = where + (hasCommand ? QStringLiteral(" has both \"command\" and \"url\"; give one")
                                     : QStringLiteral(" needs a \"command\" (stdio) or a \"url\" (HTTP)"));
        return false;
    }
    if (!type.isEmpty() && type != QLatin1String("stdio") && type != QLatin1String("http") &&
        type != QLatin1String("streamable-http") && type != QLatin1String("streamableHttp")) {
        *error = where + QStringLiteral(": unknown \"type\" \"%1\" (stdio or http)").arg(type);
        return false;
    }
    if (hasCommand) {
        if (!type.isEmpty() && type != QLatin1String("stdio")) {
            *error = where + QStringLiteral(": \"type\" \"%1\" needs a \"url\", not a \"command\"").arg(type);
            return false;
        }
        s->transport = ServerConfig::Transport::Stdio;
        const QJsonValue cmd = o.value(QStringLiteral("command"));
        if (!cmd.isString() || cmd.toString().trimmed().isEmpty()) {
            *error = where + QStringLiteral(": \"command\" must be a non-empty string");
            return false;
        }
        s->command = cmd.toString();
        const QJsonValue args = o.value(QStringLiteral("args"));
        if (!args.isUndefined()) {
            if (!args.isArray()) {
                *error = where + QStringLiteral(": \"args\" must be an array of strings");
                return false;
            }
            for (const QJsonValue& a : args.toArray()) {
                if (!a.isString()) {
                    *error = where + QStringLiteral(": \"args\" must be an array of strings");
                    return false;
                }
                s->args << a.toString();
            }
        }
        if (!stringMap(o.value(QStringLiteral("env")), where + QStringLiteral(": \"env\""), &s->env, error))
            return false;
        const QJsonValue cwd = o.value(QStringLiteral("cwd"));
        if (!cwd.isUndefined()) {
            if (!cwd.isString()) {
                *error = where + QStringLiteral(": \"cwd\" must be a string");
                return false;
            }
            s->cwd = cwd.toString();
        }
        return true;
    }
    if (type == QLatin1String("stdio")) {
        *error = where + QStringLiteral(": \"type\" \"stdio\" needs a \"command\", not a \"url\"");
        return false;
    }
    s->transport = ServerConfig::Transport::Http;
    const QJsonValue url = o.value(QStringLiteral("url"));
    s->url = QUrl(url.toString(), QUrl::StrictMode);
    if (!url.isString() || !s->url.isValid() || s->url.host().isEmpty() ||
        (s->url.scheme() != QLatin1String("http") && s->url.scheme() != QLatin1String("https"))) {
        *error = where + QStringLiteral(": \"url\" must be an http:// or https:// URL");
        return false;
    }
    return stringMap(o.value(QStringLiteral("headers")), where + QStringLiteral(": \"headers\""), &s->headers,
                     error);
}

}  // namespace

ConfigResult parseConfig(const QByteArray& json) {
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError)
        return fail(QStringLiteral("not valid JSON at %1: %2").arg(position(json, pe.offset), pe.errorString()));
    if (!doc.isObject()) return fail(QStringLiteral("expected a JSON object with \"mcpServers\""));
    const QJsonObject root = doc.object();
    QJsonValue servers = root.value(QStringLiteral("mcpServers"));
    if (servers.isUndefined()) servers = root.value(QStringLiteral("servers"));
    if (servers.isUndefined()) return fail(QStringLiteral("expected a JSON object with \"mcpServers\""));
    if (!servers.isObject()) return fail(QStringLiteral("\"mcpServers\" must be an object of servers by name"));
    ConfigResult r;
    const QJsonObject all = servers.toObject();
    for (const QString& name : all.keys()) {
        ServerConfig s;
        QString error;
        if (!parseServer(name, all.value(name), &s, &error)) return fail(error);
        r.servers << s;
    }
    return r;
}

ConfigResult loadConfigFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return fail(QStringLiteral("cannot read the MCP config %1: %2").arg(path, f.errorString()));
    if (f.size() > 16 * 1024 * 1024) return fail(QStringLiteral("the MCP config %1 is larger than 16 MiB").arg(path));
    ConfigResult r = parseConfig(f.readAll());
    if (!r.ok()) r.error = QStringLiteral("MCP config %1: %2").arg(path, r.error);
    return r;
}

const ServerConfig* findServer(const QList<ServerConfig>& servers, const QString& name) {
    for (const ServerConfig& s : servers)
        if (s.name == name) return &s;
    return nullptr;
}

}  // namespace ld::mcp
