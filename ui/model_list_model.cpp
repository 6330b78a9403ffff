#include "ui/model_list_model.h"

#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "app/chat/model_info.h"
#include "app/models/model_library.h"
#include "app/settings/app_settings.h"

namespace ld::ui {

ModelListModel::ModelListModel(settings::AppSettings* settings, QString folder, QObject* parent)
    : QAbstractListModel(parent), settings_(settings), folder_(folder.isEmpty() ? defaultModelsFolder() : std::move(folder)) {}

QString ModelListModel::defaultModelsFolder() { return models::defaultModelsFolder(); }

void ModelListModel::setLibrary(models::ModelLibrary* library) {
    if (library_) disconnect(library_, nullptr, this, nullptr);
    library_ = library;
    if (library_) connect(library_, &models::ModelLibrary::modelsChanged, this, &ModelListModel::rebuild);
    rebuild();
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
    const QString abs = path.isEmpty() ? path : QFileInfo(path).absoluteFilePath();
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].path == abs) return i;
    return -1;
}

int ModelListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

QVariant ModelListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
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
    }
    return {};
}

QHash<int, QByteArray> ModelListModel::roleNames() const {
    return {{PathRole, "path"},         {NameRole, "name"},   {FileNameRole, "fileName"}, {ParametersRole, "parameters"},
            {QuantRole, "quant"},       {SizeRole, "size"},   {ContextRole, "contextLength"},
            {TemplateRole, "chatTemplate"}, {ErrorRole, "error"}, {ReadyRole, "ready"}};
}

}  // namespace ld::ui
