#pragma once
// The MCP servers file, in the format other MCP hosts (Claude Desktop, Cursor, VS Code) use:
//   {"mcpServers": {"NAME": {"command": "npx", "args": [...], "env": {"K": "V"}, "cwd": "..."},
//                   "NAME2": {"url": "https://host/mcp", "headers": {"K": "V"}}}}
// ("servers" is accepted as VS Code spells it). Parsing is strict about the fields it uses, with
// an error that names the field, and ignores the fields other hosts add (autoApprove, ...).
#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace ld::mcp {

struct ServerConfig {
    enum class Transport { Stdio, Http };
    QString name;
    Transport transport = Transport::Stdio;
    // Stdio: the server is started on demand as a child process.
    QString command;
    QStringList args;
    QMap<QString, QString> env;  // added to (overriding) the app's own environment
    QString cwd;                 // empty: the app's working directory
    // Http (Streamable HTTP transport).
    QUrl url;
    QMap<QString, QString> headers;
};

struct ConfigResult {
    QList<ServerConfig> servers;  // sorted by name (QJsonObject keeps no file order)
    QString error;                // empty when the file is valid
    bool ok() const { return error.isEmpty(); }
};

ConfigResult parseConfig(const QByteArray& json);
ConfigResult loadConfigFile(const QString& path);

// The server called `name`, or nullptr.
const ServerConfig* findServer(const QList<ServerConfig>& servers, const QString& name);

}  // namespace ld::mcp
