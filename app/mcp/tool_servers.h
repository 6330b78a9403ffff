#pragma once
// The app's MCP servers as the user configured them in Settings → Tools, saved in a JSON file
// of the format other MCP hosts use ({"mcpServers": {...}}, with "disabled": true for a server
// switched off) plus the user's "always allow" decisions. The enabled servers run in one McpHost,
// rebuilt when the list changes; they are started on demand (a chat turn with tools, or the
// page's Start) and stopped with the app (McpHost's clients kill their process groups). Lives on
// the UI thread; nothing here blocks. The allow list is also read from a tool turn's worker
// thread (ToolLoop), hence its lock.
#include <QList>
#include <QMutex>
#include <QObject>
#include <QSet>

#include <functional>
#include <memory>

#include "app/mcp/mcp_client.h"
#include "app/mcp/tool_loop.h"

namespace ld::mcp {

class McpHost;

struct ToolServerEntry {
    ServerConfig config;
    bool enabled = true;
};

class ToolServers final : public QObject {
    Q_OBJECT
public:
    // `filePath`: where the list is read from and saved to (missing: no servers yet).
    explicit ToolServers(QString filePath, McpClient::Options options = {}, QObject* parent = nullptr);
    ~ToolServers() override;

    QString filePath() const { return filePath_; }
    // Why the saved file could not be read (it is then left alone until the user changes the list).
    QString loadError() const { return loadError_; }
    const QList<ToolServerEntry>& servers() const { return servers_; }
    // The running side of an enabled server, nullptr for a disabled or unknown one.
    McpClient* client(const QString& name) const;
    McpHost* host() const { return host_.get(); }

    // Each returns an error sentence, empty on success (the list is then saved).
    QString addServer(const ServerConfig& config);  // a new name
    QString importJson(const QByteArray& json);     // {"mcpServers": ...}: adds, replacing same names
    QString removeServer(const QString& name);
    QString setEnabled(const QString& name, bool enabled);

    // Starts the enabled servers not running yet; `done` runs (on this thread, never inside this
    // call) once none is starting, or after timeoutMs.
    void ensureStarted(std::function<void()> done, int timeoutMs = 60000);
    void start(const QString& name);

    // The user's "always allow" decisions, for ToolLoopOptions::allowList (any thread).
    AllowList* allowList() { return &allow_; }

signals:
    void serversChanged();  // added, removed, enabled or disabled (the host was rebuilt)
    void serverStateChanged(const QString& name);
    void toolsChanged();

private:
    class SavedAllowList final : public AllowList {
    public:
        explicit SavedAllowList(ToolServers* owner) : owner_(owner) {}
        bool allowed(const PendingCall& call) const override;
        void allow(const PendingCall& call) override;
        QStringList keys() const;
        void setKeys(const QStringList& keys);

    private:
        ToolServers* owner_;
        mutable QMutex mutex_;
        QSet<QString> keys_;
    };

    void load();
    QString save();
    void rebuildHost();

    QString filePath_;
    McpClient::Options options_;
    QString loadError_;
    QList<ToolServerEntry> servers_;
    std::unique_ptr<McpHost> host_;
    SavedAllowList allow_{this};
};

}  // namespace ld::mcp
