#include "ui/model_list_model.h"

#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "app/chat/chat_types.h"
#include "app/chat/model_info.h"
#include "app/models/model_library.h"
#include "app/remote/engine_registry.h"
#include "app/remote/remote_client.h"
#include "app/settings/app_settings.h"

namespace ld::ui {

ModelListModel::ModelListModel(settings::AppSettings* settings, QString folder, QObject* parent)
    : QAbstractListModel(parent), settings_(settings), folder_(folder.isEmpty() ? defaultModelsFolder() : std::move(folder)) {}

ModelListModel::~ModelListModel() {
    closing_->store(true);
    pool_.waitForDone();  // within ~20 ms: every call polls closing_
}

QString ModelListModel::defaultModelsFolder() { return models::defaultModelsFolder(); }

void ModelListModel::setLibrary(models::ModelLibrary* library) {
    if (library_) disconnect(library_, nullptr, this, nullptr);
    library_ = library;
    if (library_) connect(library_, &models::ModelLibrary::modelsChanged, this, &ModelListModel::rebuild);
    rebuild();
}

void ModelListModel::setEngineRegistry(remote::EngineRegistry* registry) {
    registry_ = registry;
    refreshRemote();
}

void ModelListModel::refreshRemote() {
    const quint64 generation = ++remoteGeneration_;  // answers to an older refresh are dropped
    QList<RemoteRow> rows;
    QList<std::pair<QString, remote::RemoteEndpoint>> asks;
    if (registry_) {
        for (const remote::EngineEntry& e : registry_->engines()) {
            std::optional<remote::RemoteEndpoint> ep = registry_->endpoint(e.id);
            if (!ep) continue;
            // A list answers at once from a running server: an engine that is down must not
            // keep its "checking" row for the two minutes a generation may wait.
            ep->connectTimeoutMs = std::min(ep->connectTimeoutMs, 5000);
            ep->firstByteTimeoutMs = std::min(ep->firstByteTimeoutMs, 10000);
            ep->idleTimeoutMs = std::min(ep->idleTimeoutMs, 10000);
            RemoteRow checking;
            checking.engineId = e.id;
            checking.engineName = e.name;
            rows.append(checking);
            asks.append({e.id, *ep});
        }
    }
    beginResetModel();
    remote_ = rows;
    endResetModel();
    emit countChanged();
    for (const auto& [id, ep] : asks) {
        const QString engineId = id;
        const QString name = std::find_if(rows.begin(), rows.end(), [&](const RemoteRow& r) { return r.engineId == id; })->engineName;
        QtConcurrent::run(&pool_, [ep = ep, closing = closing_] { return remote::RemoteClient(ep).models(closing.get()); })
            .then(this, [this, generation, engineId, name](const remote::ModelList& list) {
                if (generation != remoteGeneration_) return;
                QList<RemoteRow> out;
                if (!list.error.isEmpty() || list.models.isEmpty()) {
                    RemoteRow r;
                    r.engineId = engineId;
                    r.engineName = name;
                    r.ready = true;
                    r.error = list.error.isEmpty() ? tr("%1 offers no models").arg(name)
                                                   : tr("%1 cannot be reached: %2").arg(name, list.error);
                    out.append(r);
                }
                for (const remote::RemoteModel& m : list.models) {
                    RemoteRow r;
                    r.engineId = engineId;
                    r.engineName = name;
                    r.model = m.id;
                    r.contextLength = m.maxModelLen;
                    r.ready = true;
                    out.append(r);
                }
                setRemoteRows(engineId, out);
            });
    }
}

void ModelListModel::setRemoteRows(const QString& engineId, const QList<RemoteRow>& rows) {
    QList<RemoteRow> next;
    bool placed = false;
    for (const RemoteRow& r : std::as_const(remote_)) {
        if (r.engineId != engineId) {
            next.append(r);
        } else if (!placed) {  // where the engine's rows were, keeping the engines' order
            next += rows;
            placed = true;
        }
    }
    if (!placed) return;  // the engine was removed meanwhile
    beginResetModel();
    remote_ = next;
    endResetModel();
    emit countChanged();
    emit remoteRead();
}

void ModelListModel::refresh() {
    current_ = {};
    ++generation_;  // an inspection in flight is for the old state
    if (library_) library_->rescan();  // rebuild() follows modelsChanged
    else rebuild();
}

void ModelListModel::rebuild() {
    QList<models::LocalModel> rows;
    if (library_) rows = library_->models();
    // The model in use is offered even when it is neither in the folder nor added (--model).
    const QString current = settings_->modelPath();
    bool listed = current.isEmpty() || !QFileInfo::exists(current);
    for (const models::LocalModel& m : rows) listed = listed || m.path == QFileInfo(current).absoluteFilePath();
    if (!listed) {
        if (current_.path == QFileInfo(current).absoluteFilePath()) rows.append(current_);
        else inspectCurrent(current);
    }

    beginResetModel();
    rows_ = rows;
    endResetModel();
    emit countChanged();
    emit infoRead();
}

void ModelListModel::inspectCurrent(const QString& path) {
    const quint64 generation = ++generation_;
    auto* watcher = new QFutureWatcher<models::LocalModel>(this);
    connect(watcher, &QFutureWatcher<models::LocalModel>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != generation_) return;  // a newer refresh replaced it
        current_ = watcher->result();
        rebuild();
    });
    // The same scanner the library uses, off the UI thread.
    watcher->setFuture(QtConcurrent::run([path] { return models::inspectModel(path, models::readMemoryInfo()); }));
}

int ModelListModel::rowOfPath(const QString& path) const {
    if (chat::isRemoteModelKey(path)) {
        for (int i = 0; i < remote_.size(); ++i)
            if (!remote_[i].model.isEmpty() && chat::remoteModelKey(remote_[i].engineId, remote_[i].model) == path)
                return int(rows_.size()) + i;
        return -1;
    }
    const QString abs = path.isEmpty() ? path : QFileInfo(path).absoluteFilePath();
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].path == abs) return i;
    return -1;
}

int ModelListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(rows_.size() + remote_.size());
}

QVariant ModelListModel::remoteData(const RemoteRow& r, int role) const {
    switch (role) {
    case PathRole: return r.model.isEmpty() ? QString() : chat::remoteModelKey(r.engineId, r.model);
    case Qt::DisplayRole:
    case NameRole: return r.model.isEmpty() ? r.engineName : QStringLiteral("%1 — %2").arg(r.model, r.engineName);
    case FileNameRole: return r.model;
    case ParametersRole:
    case QuantRole:
    case SizeRole:
    case TemplateRole: return QString();
    case ContextRole: return r.contextLength;
    case ErrorRole: return r.error;
    case ReadyRole: return r.ready;
    case RemoteRole: return true;
    case EngineRole: return r.engineName;
    }
    return {};
}

QVariant ModelListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    if (index.row() >= rows_.size()) return remoteData(remote_[index.row() - rows_.size()], role);
    const models::LocalModel& m = rows_[index.row()];
    switch (role) {
    case PathRole: return m.path;
    case Qt::DisplayRole:
    case NameRole: return m.name.isEmpty() ? m.fileName : m.name;
    case FileNameRole: return m.fileName;
    case ParametersRole: return m.parameters > 0 ? chat::formatParameters(m.parameters) : QString();
    case QuantRole: return m.quantType;
    case SizeRole: return chat::formatBytes(m.sizeBytes);
    case ContextRole: return m.contextLength;
    case TemplateRole: return m.chatTemplate;
    case ErrorRole: return m.loadable ? QString() : m.problem;
    case ReadyRole: return true;
    case RemoteRole: return false;
    case EngineRole: return QString();
    }
    return {};
}

QHash<int, QByteArray> ModelListModel::roleNames() const {
    return {{PathRole, "path"},         {NameRole, "name"},   {FileNameRole, "fileName"}, {ParametersRole, "parameters"},
            {QuantRole, "quant"},       {SizeRole, "size"},   {ContextRole, "contextLength"},
            {TemplateRole, "chatTemplate"}, {ErrorRole, "error"}, {ReadyRole, "ready"},
            {RemoteRole, "remote"},     {EngineRole, "engine"}};
}

}  // namespace ld::ui
