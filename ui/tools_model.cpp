#include "ui/tools_model.h"

#include <QFile>
#include <QProcess>

#include "app/mcp/mcp_host.h"
#include "app/mcp/tool_servers.h"

namespace ld::ui {

using mcp::ServerConfig;

ToolsModel::ToolsModel(mcp::ToolServers* servers, QObject* parent) : QAbstractListModel(parent), servers_(servers) {
    connect(servers_, &mcp::ToolServers::serversChanged, this, [this] {
        beginResetModel();
        endResetModel();
        emit loadErrorChanged();
    });
    connect(servers_, &mcp::ToolServers::serverStateChanged, this, [this](const QString& name) {
        const int row = rowOf(name);
        if (row >= 0) emit dataChanged(index(row), index(row));
    });
    connect(servers_, &mcp::ToolServers::toolsChanged, this, &ToolsModel::changedAll);
}

void ToolsModel::changedAll() {
    if (rowCount() > 0) emit dataChanged(index(0), index(rowCount() - 1));
}

int ToolsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(servers_->servers().size()); }

int ToolsModel::rowOf(const QString& name) const {
    const auto& list = servers_->servers();
    for (int i = 0; i < list.size(); ++i)
        if (list[i].config.name == name) return i;
    return -1;
}

QVariant ToolsModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const mcp::ToolServerEntry& e = servers_->servers()[index.row()];
    const ServerConfig& c = e.config;
    const mcp::McpClient* client = servers_->client(c.name);
    switch (role) {
    case Qt::DisplayRole:
    case NameRole: return c.name;
    case TransportRole: return c.transport == ServerConfig::Transport::Stdio ? QStringLiteral("stdio") : QStringLiteral("http");
    case TargetRole:
        if (c.transport == ServerConfig::Transport::Http) return c.url.toString();
        return QStringList(QStringList{c.command} + c.args).join(QLatin1Char(' '));
    case EnabledRole: return e.enabled;
    case StateRole: return !e.enabled ? QStringLiteral("disabled") : client ? mcp::stateName(client->state()) : QString();
    case ReasonRole: return client && client->state() == mcp::ServerState::Failed ? client->failureReason() : QString();
    case ToolCountRole: return client && client->state() == mcp::ServerState::Ready ? int(client->tools().size()) : 0;
    case ToolNamesRole: {
        QStringList names;
        if (client && client->state() == mcp::ServerState::Ready)
            for (const mcp::Tool& t : client->tools()) names << t.name;
        return names.join(QStringLiteral(", "));
    }
    }
    return {};
}

QHash<int, QByteArray> ToolsModel::roleNames() const {
    return {{NameRole, "name"},   {TransportRole, "transport"}, {TargetRole, "target"},       {EnabledRole, "serverEnabled"},
            {StateRole, "serverState"}, {ReasonRole, "reason"},       {ToolCountRole, "toolCount"}, {ToolNamesRole, "toolNames"}};
}

QString ToolsModel::loadError() const { return servers_->loadError(); }
QString ToolsModel::filePath() const { return servers_->filePath(); }

QString ToolsModel::addCommand(const QString& name, const QString& command, const QString& args, const QString& env) {
    ServerConfig c;
    c.name = name.trimmed();
    c.transport = ServerConfig::Transport::Stdio;
    c.command = command.trimmed();
    if (c.command.isEmpty()) return QStringLiteral("The server needs a command to start it.");
    c.args = QProcess::splitCommand(args);
    for (const QString& line : env.split(QLatin1Char('\n'))) {
        if (line.trimmed().isEmpty()) continue;
        const qsizetype eq = line.indexOf(QLatin1Char('='));
        if (eq <= 0) return QStringLiteral("\"%1\" is not a KEY=VALUE line.").arg(line.trimmed());
        c.env.insert(line.left(eq).trimmed(), line.mid(eq + 1));
    }
    return servers_->addServer(c);
}

QString ToolsModel::addUrl(const QString& name, const QString& url) {
    ServerConfig c;
    c.name = name.trimmed();
    c.transport = ServerConfig::Transport::Http;
    c.url = QUrl(url.trimmed(), QUrl::StrictMode);
    if (url.trimmed().isEmpty()) return QStringLiteral("The server needs a URL.");
    return servers_->addServer(c);
}

QString ToolsModel::importJson(const QString& json) { return servers_->importJson(json.toUtf8()); }

QString ToolsModel::importFile(const QUrl& file) {
    QFile f(file.isLocalFile() ? file.toLocalFile() : file.toString());
    if (!f.open(QIODevice::ReadOnly)) return QStringLiteral("%1 could not be read: %2").arg(f.fileName(), f.errorString());
    if (f.size() > (4 << 20)) return QStringLiteral("%1 is too large for an MCP servers file.").arg(f.fileName());
    return servers_->importJson(f.readAll());
}

QString ToolsModel::remove(const QString& name) { return servers_->removeServer(name); }
QString ToolsModel::setEnabled(const QString& name, bool enabled) { return servers_->setEnabled(name, enabled); }
void ToolsModel::start(const QString& name) { servers_->start(name); }

QString ToolsModel::log(const QString& name) const {
    const mcp::McpClient* c = servers_->client(name);
    return c ? c->serverLog() : QString();
}

}  // namespace ld::ui
