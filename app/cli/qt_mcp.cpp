// `llamadesk-cli mcp --config FILE list [SERVER]` and `... call SERVER TOOL [JSON-ARGS]`: the MCP
// client from the command line, through the blocking helpers (the CLI has no UI thread).
// Exit codes: 0 done; 1 failure (bad config, a server that failed, no result); 2 the tool ran
// and reported an error (isError: true), its result still printed.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/qt_support.h"
#include "app/mcp/mcp_blocking.h"
#include "app/mcp/mcp_config.h"
#include "app/mcp/mcp_host.h"

namespace ld::cli {
namespace {

using namespace ld::mcp;

void printJson(const QJsonDocument& doc) {
    const QByteArray json = doc.toJson(QJsonDocument::Indented);
    std::fwrite(json.constData(), 1, size_t(json.size()), stdout);
    std::fflush(stdout);
}

void printErr(const QString& text) { std::cerr << "error: " << text.toStdString() << '\n'; }

McpClient::Options clientOptions(int callTimeoutMs, int startTimeoutMs) {
    McpClient::Options o;
    o.callTimeoutMs = callTimeoutMs;
    o.requestTimeoutMs = startTimeoutMs;
    return o;
}

// The servers start together; one that fails is reported and the others are still listed.
int list(const QList<ServerConfig>& servers, const McpClient::Options& opt) {
    McpHost host(servers, opt);
    startAllAndWait(host, opt.requestTimeoutMs * 2 + 5000);  // initialize, then tools/list
    int failures = 0;
    for (McpClient* c : host.clients()) {
        if (c->state() == ServerState::Ready) continue;
        ++failures;
        printErr(notReadyReason(*c));
    }
    QJsonArray out;
    for (const Tool& t : host.tools()) {
        QJsonObject o{{QStringLiteral("server"), t.server},
                      {QStringLiteral("name"), t.name},
                      {QStringLiteral("description"), t.description},
                      {QStringLiteral("inputSchema"), t.inputSchema}};
        if (!t.title.isEmpty()) o.insert(QStringLiteral("title"), t.title);
        out.append(o);
    }
    stopAllAndWait(host, 5000);
    printJson(QJsonDocument(out));
    return failures ? 1 : 0;
}

int call(const ServerConfig& server, const QString& tool, const QByteArray& argsJson, const McpClient::Options& opt) {
    QJsonParseError pe;
    const QJsonDocument args = QJsonDocument::fromJson(argsJson, &pe);
    if (pe.error != QJsonParseError::NoError || !args.isObject())
        throw UsageError("JSON-ARGS must be a JSON object, e.g. '{\"message\": \"hi\"}'" +
                         (pe.error != QJsonParseError::NoError ? ": " + pe.errorString().toStdString() : std::string()));
    McpClient client(server, opt);
    QString error;
    if (!startAndWait(client, opt.requestTimeoutMs + 5000, &error)) {
        printErr(error);
        stopAndWait(client, 5000);
        return 1;
    }
    bool known = false;
    for (const Tool& t : client.tools()) known = known || t.name == tool;
    if (!known) {
        printErr(QStringLiteral("MCP server \"%1\" has no tool \"%2\"").arg(server.name, tool));
        stopAndWait(client, 5000);
        return 1;
    }
    const CallResult r = callToolAndWait(client, tool, args.object(), opt.callTimeoutMs);
    stopAndWait(client, 5000);
    if (!r.ok) {
        printErr(QStringLiteral("%1 on MCP server \"%2\": %3").arg(tool, server.name, r.error));
        return 1;
    }
    QJsonObject out = r.raw;
    out.insert(QStringLiteral("content"), r.content);
    out.insert(QStringLiteral("isError"), r.isError);
    printJson(QJsonDocument(out));
    if (r.isError) {
        printErr(QStringLiteral("the tool %1 on MCP server \"%2\" reported an error").arg(tool, server.name));
        return 2;
    }
    return 0;
}

}  // namespace

int run_mcp_command(const ArgList& argv) {
    const Args a(argv, {{"--config", true}, {"--timeout", true}, {"--start-timeout", true}});
    const auto& pos = a.positional();
    if (pos.empty()) throw UsageError("needs list or call");
    const QString path = qs(a.require("--config"));
    const int callMs = int(a.get_double("--timeout", 60) * 1000);
    const int startMs = int(a.get_double("--start-timeout", 30) * 1000);
    if (callMs <= 0 || startMs <= 0) throw UsageError("--timeout and --start-timeout must be positive");
    ensure_qt_application();
    const ConfigResult config = loadConfigFile(path);
    if (!config.ok()) {
        printErr(config.error);
        return 1;
    }
    const McpClient::Options opt = clientOptions(callMs, startMs);
    if (pos[0] == "list") {
        if (pos.size() > 2) throw UsageError("list takes at most one SERVER");
        if (pos.size() == 1) return list(config.servers, opt);
        const ServerConfig* only = findServer(config.servers, qs(pos[1]));
        if (!only) {
            printErr(QStringLiteral("no MCP server \"%1\" in %2").arg(qs(pos[1]), path));
            return 1;
        }
        return list({*only}, opt);
    }
    if (pos[0] == "call") {
        if (pos.size() < 3 || pos.size() > 4) throw UsageError("call needs SERVER TOOL [JSON-ARGS]");
        const ServerConfig* server = findServer(config.servers, qs(pos[1]));
        if (!server) {
            QStringList names;
            for (const ServerConfig& s : config.servers) names << s.name;
            printErr(QStringLiteral("no MCP server \"%1\" in %2 (it has: %3)")
                         .arg(qs(pos[1]), path, names.join(QStringLiteral(", "))));
            return 1;
        }
        return call(*server, qs(pos[2]), pos.size() == 4 ? QByteArray::fromStdString(pos[3]) : QByteArray("{}"), opt);
    }
    throw UsageError("unknown mcp command '" + pos[0] + "' (list or call)");
}

}  // namespace ld::cli
