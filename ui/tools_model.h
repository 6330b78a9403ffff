#pragma once
// Settings → Tools: the user's MCP servers (mcp::ToolServers) as a list for the page, one row per
// server with its state, the reason it failed and its tool count, and the page's actions (add a
// stdio command or a URL, import another host's {"mcpServers": ...} file, remove, enable, start,
// read the server's log). Errors come back as sentences for the page to show.
#include <QAbstractListModel>
#include <QUrl>

namespace ld::mcp {
class ToolServers;
}

namespace ld::ui {

class ToolsModel final : public QAbstractListModel {
    Q_OBJECT
    // Why the saved list could not be read (empty when it could).
    Q_PROPERTY(QString loadError READ loadError NOTIFY loadErrorChanged)
    Q_PROPERTY(QString filePath READ filePath CONSTANT)
public:
    enum Role {
        NameRole = Qt::UserRole + 1,
        TransportRole,  // "stdio" | "http"
        TargetRole,     // the command line, or the URL
        EnabledRole,
        StateRole,      // "disabled" | "stopped" | "starting" | "ready" | "failed"
        ReasonRole,     // why it failed (the crash, the bad answer, ...), else empty
        ToolCountRole,
        ToolNamesRole,  // "echo, add, ..."
    };
    Q_ENUM(Role)

    explicit ToolsModel(mcp::ToolServers* servers, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString loadError() const;
    QString filePath() const;

    // Each returns an error sentence, empty on success. `args`: as a shell would split them
    // (double quotes group words); `env`: KEY=VALUE lines.
    Q_INVOKABLE QString addCommand(const QString& name, const QString& command, const QString& args, const QString& env);
    Q_INVOKABLE QString addUrl(const QString& name, const QString& url);
    Q_INVOKABLE QString importJson(const QString& json);
    Q_INVOKABLE QString importFile(const QUrl& file);
    Q_INVOKABLE QString remove(const QString& name);
    Q_INVOKABLE QString setEnabled(const QString& name, bool enabled);
    Q_INVOKABLE void start(const QString& name);
    // The server's stderr and logging notifications so far (empty for one not running).
    Q_INVOKABLE QString log(const QString& name) const;

signals:
    void loadErrorChanged();

private:
    int rowOf(const QString& name) const;
    void changedAll();

    mcp::ToolServers* servers_;
};

}  // namespace ld::ui
