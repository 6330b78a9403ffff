#pragma once
// What the MCP client hands to the rest of the app: a server's state, its tools, a call's result.
#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>

namespace ld::mcp {

enum class ServerState { Stopped, Starting, Ready, Failed };
QString stateName(ServerState s);

// Protocol versions this client speaks, newest first; the first is offered in `initialize`.
// The tools/ping/cancellation subset used here is the same in all of them.
const QStringList& supportedProtocolVersions();

struct Tool {
    QString server;  // the configured server name
    QString name;
    QString title;  // optional display name (2025-06-18)
    QString description;
    QJsonObject inputSchema;
    QJsonObject raw;  // the tool as the server listed it (annotations, outputSchema, ...)
};

struct CallResult {
    bool ok = false;  // false: no result (error says why); a tool's own failure is isError
    QString error;
    QJsonArray content;
    bool isError = false;
    QJsonObject raw;  // the whole tools/call result (structuredContent, _meta, ...)

    static CallResult failure(QString why) {
        CallResult r;
        r.error = std::move(why);
        return r;
    }
};

}  // namespace ld::mcp
