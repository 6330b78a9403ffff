#include "app/mcp/tool_servers.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QTimer>

#include <algorithm>

#include "app/mcp/mcp_host.h"

namespace ld::mcp {

namespace {

const QString kServersKey = QStringLiteral("mcpServers");
const QString kAllowKey = QStringLiteral("alwaysAllowed");
const QString kDisabledKey = QStringLiteral("disabled");  // Cline and others spell it so

QJsonObject stringMap(const QMap<QString, QString>& m) {
    QJsonObject o;
    for (auto it = m.begin(); it != m.end(); ++it) o.insert(it.key(), it.value());
    return o;
}

// A server as the file holds it: the same fields parseConfig() reads.
QJsonObject serverJson(const ToolServerEntry& e) {
    const ServerConfig& c = e.config;
    QJsonObject o;
    if (c.transport == ServerConfig::Transport::Stdio) {
        o.insert(QStringLiteral("command"), c.command);
        if (!c.args.isEmpty()) o.insert(QStringLiteral("args"), QJsonArray::fromStringList(c.args));
        if (!c.env.isEmpty()) o.insert(QStringLiteral("env"), stringMap(c.env));
        if (!c.cwd.isEmpty()) o.insert(QStringLiteral("cwd"), c.cwd);
    } else {
        o.insert(QStringLiteral("url"), c.url.toString());
        if (!c.headers.isEmpty()) o.insert(QStringLiteral("headers"), stringMap(c.headers));
    }
    if (!e.enabled) o.insert(kDisabledKey, true);
    return o;
}

// The servers of a {"mcpServers": ...} document with their "disabled" flags.
QString parseEntries(const QByteArray& json, QList<ToolServerEntry>* out, QJsonObject* root) {
    const ConfigResult parsed = parseConfig(json);
    if (!parsed.ok()) return parsed.error;
    *root = QJsonDocument::fromJson(json).object();
    QJsonObject servers = root->value(kServersKey).toObject();
    if (servers.isEmpty()) servers = root->value(QStringLiteral("servers")).toObject();
    for (const ServerConfig& s : parsed.servers) {
        ToolServerEntry e;
        e.config = s;
        e.enabled = !servers.value(s.name).toObject().value(kDisabledKey).toBool(false);
        out->append(e);
    }
    return {};
}

}  // namespace

ToolServers::ToolServers(QString filePath, McpClient::Options options, QObject* parent)
    : QObject(parent), filePath_(std::move(filePath)), options_(options) {
    load();
    rebuildHost();
}

ToolServers::~ToolServers() = default;  // the host's clients kill their servers' process groups

void ToolServers::load() {
    QFile f(filePath_);
    if (!f.exists()) return;
    if (!f.open(QIODevice::ReadOnly)) {
        loadError_ = QStringLiteral("%1 could not be read: %2").arg(filePath_, f.errorString());
        return;
    }
    QJsonObject root;
    QList<ToolServerEntry> entries;
    const QString error = parseEntries(f.readAll(), &entries, &root);
    if (!error.isEmpty()) {
        loadError_ = QStringLiteral("%1: %2").arg(filePath_, error);
        return;
    }
    servers_ = entries;
    QStringList keys;
    for (const QJsonValue& v : root.value(kAllowKey).toArray())
        if (v.isString()) keys << v.toString();
    allow_.setKeys(keys);
}

QString ToolServers::save() {
    QJsonObject servers;
    for (const ToolServerEntry& e : servers_) servers.insert(e.config.name, serverJson(e));
    QJsonObject root;
    root.insert(kServersKey, servers);
    QStringList keys = allow_.keys();
    keys.sort();
    root.insert(kAllowKey, QJsonArray::fromStringList(keys));
    QDir().mkpath(QFileInfo(filePath_).absolutePath());
    QSaveFile f(filePath_);
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(root).toJson()) < 0 || !f.commit())
        return QStringLiteral("The tool settings could not be saved to %1: %2").arg(filePath_, f.errorString());
    loadError_.clear();  // the file now holds what the user sees
    return {};
}

void ToolServers::rebuildHost() {
    QList<ServerConfig> enabled;
    for (const ToolServerEntry& e : servers_)
        if (e.enabled) enabled << e.config;
    host_ = std::make_unique<McpHost>(enabled, options_);
    connect(host_.get(), &McpHost::serverStateChanged, this,
            [this](const QString& name) { emit serverStateChanged(name); });
    connect(host_.get(), &McpHost::toolsChanged, this, &ToolServers::toolsChanged);
}

McpClient* ToolServers::client(const QString& name) const { return host_->client(name); }

QString ToolServers::addServer(const ServerConfig& config) {
    const QString name = config.name.trimmed();
    if (name.isEmpty()) return QStringLiteral("The server needs a name.");
    for (const ToolServerEntry& e : servers_)
        if (e.config.name == name) return QStringLiteral("There is already a server named \"%1\".").arg(name);
    // Checked by the same parser as an imported file, so both give the same errors.
    ToolServerEntry candidate{config, true};
    candidate.config.name = name;
    QJsonObject servers;
    servers.insert(name, serverJson(candidate));
    QJsonObject root;
    root.insert(kServersKey, servers);
    const ConfigResult parsed = parseConfig(QJsonDocument(root).toJson());
    if (!parsed.ok()) return parsed.error;
    servers_.append({parsed.servers.first(), true});
    rebuildHost();
    emit serversChanged();
    return save();
}

QString ToolServers::importJson(const QByteArray& json) {
    QJsonObject root;
    QList<ToolServerEntry> entries;
    const QString error = parseEntries(json, &entries, &root);
    if (!error.isEmpty()) return error;
    if (entries.isEmpty()) return QStringLiteral("The file lists no servers (\"mcpServers\" is empty).");
    for (const ToolServerEntry& e : entries) {
        const auto same = std::find_if(servers_.begin(), servers_.end(),
                                       [&](const ToolServerEntry& s) { return s.config.name == e.config.name; });
        if (same != servers_.end()) *same = e;
        else servers_.append(e);
    }
    rebuildHost();
    emit serversChanged();
    return save();
}

QString ToolServers::removeServer(const QString& name) {
    const qsizetype before = servers_.size();
    servers_.removeIf([&](const ToolServerEntry& e) { return e.config.name == name; });
    if (servers_.size() == before) return QStringLiteral("There is no server named \"%1\".").arg(name);
    rebuildHost();
    emit serversChanged();
    return save();
}

QString ToolServers::setEnabled(const QString& name, bool enabled) {
    for (ToolServerEntry& e : servers_) {
        if (e.config.name != name) continue;
        if (e.enabled == enabled) return {};
        e.enabled = enabled;
        rebuildHost();
        emit serversChanged();
        return save();
    }
    return QStringLiteral("There is no server named \"%1\".").arg(name);
}

void ToolServers::start(const QString& name) {
    if (McpClient* c = client(name)) c->start();
}

void ToolServers::ensureStarted(std::function<void()> done, int timeoutMs) {
    McpHost* host = host_.get();
    for (McpClient* c : host->clients())
        if (c->state() == ServerState::Stopped) c->start();
    if (!host->starting()) {
        QTimer::singleShot(0, this, std::move(done));
        return;
    }
    // One waiter per call: a context object that goes once `done` ran. A list change (the host
    // rebuilt) or the deadline also ends the wait: the turn goes on with what is ready.
    auto* waiter = new QObject(this);
    auto pending = std::make_shared<std::function<void()>>(std::move(done));
    auto finish = [waiter, pending] {
        if (!*pending) return;
        const std::function<void()> d = std::move(*pending);
        *pending = nullptr;
        waiter->deleteLater();
        d();
    };
    connect(host, &McpHost::serverStateChanged, waiter, [host, finish] {
        if (!host->starting()) finish();
    });
    connect(this, &ToolServers::serversChanged, waiter, finish);
    QTimer::singleShot(timeoutMs, waiter, finish);
}

bool ToolServers::SavedAllowList::allowed(const PendingCall& call) const {
    QMutexLocker lock(&mutex_);
    return keys_.contains(allowKey(call));
}

void ToolServers::SavedAllowList::allow(const PendingCall& call) {
    {
        QMutexLocker lock(&mutex_);
        keys_.insert(allowKey(call));
    }
    // Saved on the owner's thread (this may be a tool turn's worker).
    QMetaObject::invokeMethod(owner_, [o = owner_] { o->save(); });
}

QStringList ToolServers::SavedAllowList::keys() const {
    QMutexLocker lock(&mutex_);
    return QStringList(keys_.begin(), keys_.end());
}

void ToolServers::SavedAllowList::setKeys(const QStringList& keys) {
    QMutexLocker lock(&mutex_);
    keys_ = QSet<QString>(keys.begin(), keys.end());
}

}  // namespace ld::mcp
