#pragma once
// The GGUF models the settings panel offers: what models::ModelLibrary lists (every *.gguf in
// the models folder plus the files the user added, read by the app core's one scanner,
// models::inspectModel, which reads only headers), and the model in use when it lies elsewhere
// (a --model path). Rows arrive when a scan finishes. After them, the models of each remote
// engine (Settings → Engines) from its /v1/models, fetched off the UI thread: "model — engine",
// path a chat::remoteModelKey; an engine that cannot be reached is one row that says why.
#include <QAbstractListModel>
#include <QList>
#include <QPointer>
#include <QThreadPool>
#include <atomic>
#include <memory>

#include "app/models/local_models.h"

namespace ld::settings {
class AppSettings;
}
namespace ld::models {
class ModelLibrary;
}
namespace ld::remote {
class EngineRegistry;
}

namespace ld::ui {

class ModelListModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(QString modelsFolder READ modelsFolder CONSTANT)
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
public:
    enum Role {
        PathRole = Qt::UserRole + 1,
        NameRole,
        FileNameRole,
        ParametersRole,   // "8.0B"
        QuantRole,        // "Q4_K"
        SizeRole,         // "4.9 GB"
        ContextRole,      // trained context length
        TemplateRole,     // chat format
        ErrorRole,        // why it cannot load here (empty when it can)
        ReadyRole,        // header read / remote model list fetched
        RemoteRole,       // a model on a remote engine
        EngineRole,       // the remote engine's name (empty for local files)
    };
    Q_ENUM(Role)

    // `folder` empty: the XDG data folder's llamadesk/models.
    explicit ModelListModel(settings::AppSettings* settings, QString folder = {}, QObject* parent = nullptr);
    ~ModelListModel() override;  // cancels the remote model lists still being fetched

    // The library whose scans fill the list (ModelManagerParts owns it; it may go first).
    void setLibrary(models::ModelLibrary* library);
    // The remote engines whose models are listed too (outlives this); fetches their lists.
    void setEngineRegistry(remote::EngineRegistry* registry);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString modelsFolder() const { return folder_; }
    static QString defaultModelsFolder();
    // Rescans the library (and the model in use); the rows change when the scan ends.
    Q_INVOKABLE void refresh();
    Q_INVOKABLE int rowOfPath(const QString& path) const;
    // Fetches every remote engine's model list again (after engines were added or removed, or
    // a server was started); rows change as each answers.
    Q_INVOKABLE void refreshRemote();

signals:
    void countChanged();
    void infoRead();   // the rows were rebuilt from a finished scan (tests wait on it)
    void remoteRead(); // an engine's model list arrived (or failed)

private:
    void rebuild();
    void inspectCurrent(const QString& path);

    settings::AppSettings* settings_;
    QString folder_;
    QPointer<models::ModelLibrary> library_;
    QList<models::LocalModel> rows_;
    models::LocalModel current_;   // the model in use when the library does not list it
    quint64 generation_ = 0;
    struct RemoteRow {
        QString engineId, engineName, model;
        int contextLength = 0;
        bool ready = false;         // false while the list is being fetched
        QString error;              // the engine could not list its models
    };
    void setRemoteRows(const QString& engineId, const QList<RemoteRow>& rows);
    QVariant remoteData(const RemoteRow& row, int role) const;
    remote::EngineRegistry* registry_ = nullptr;
    QList<RemoteRow> remote_;       // after rows_, engine by engine
    quint64 remoteGeneration_ = 0;
    // The engines' /v1/models calls block a thread each for up to ~15 s (an engine that is down):
    // their own pool, not the global one Qt's painting and QtConcurrent also use; the destructor
    // cancels them (within 20 ms) so closing the app does not wait for them.
    std::shared_ptr<std::atomic<bool>> closing_ = std::make_shared<std::atomic<bool>>(false);
    QThreadPool pool_;
};

}  // namespace ld::ui
