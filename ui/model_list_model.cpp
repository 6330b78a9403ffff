#include "ui/model_list_model.h"

#include <QDir>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QStandardPaths>
#include <QtConcurrent/QtConcurrentRun>

#include "app/chat/model_info.h"
#include "app/settings/app_settings.h"

namespace ld::ui {

namespace {
struct ReadOutcome {
    chat::ModelInfo info;
    QString error;
    bool ok = false;
};
}  // namespace

ModelListModel::ModelListModel(settings::AppSettings* settings, QString folder, QObject* parent)
    : QAbstractListModel(parent), settings_(settings), folder_(folder.isEmpty() ? defaultModelsFolder() : std::move(folder)) {
    refresh();
}

QString ModelListModel::defaultModelsFolder() {
    return QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/llamadesk/models");
}

void ModelListModel::refresh() {
    QStringList paths;
    const QDir dir(folder_);
    for (const QFileInfo& f : dir.entryInfoList({QStringLiteral("*.gguf")}, QDir::Files | QDir::Readable, QDir::Name))
        paths << f.absoluteFilePath();
    for (const QString& p : settings_->extraModels())
        if (!paths.contains(p)) paths << p;
    const QString current = settings_->modelPath();
    if (!current.isEmpty() && !paths.contains(current) && QFileInfo::exists(current)) paths << current;

    const quint64 generation = ++generation_;
    beginResetModel();
    rows_.clear();
    for (const QString& p : paths) rows_.append(Row{p, {}, {}, false});
    endResetModel();
    emit countChanged();

    for (const QString& p : paths) {
        auto* watcher = new QFutureWatcher<ReadOutcome>(this);
        connect(watcher, &QFutureWatcher<ReadOutcome>::finished, this, [this, watcher, p, generation] {
            watcher->deleteLater();
            if (generation != generation_) return;  // a newer refresh replaced the rows
            const ReadOutcome r = watcher->result();
            const int row = rowOfPath(p);
            if (row < 0) return;
            rows_[row].ready = true;
            rows_[row].info = r.info;
            rows_[row].error = r.ok ? QString() : r.error;
            emit dataChanged(index(row), index(row));
            emit infoRead();
        });
        watcher->setFuture(QtConcurrent::run([p] {
            ReadOutcome r;
            r.ok = chat::readModelInfo(p, &r.info, &r.error);
            return r;
        }));
    }
}

int ModelListModel::rowOfPath(const QString& path) const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_[i].path == path) return i;
    return -1;
}

int ModelListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

QVariant ModelListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Row& r = rows_[index.row()];
    switch (role) {
    case PathRole: return r.path;
    case Qt::DisplayRole:
    case NameRole: return r.ready && r.error.isEmpty() ? r.info.name : QFileInfo(r.path).fileName();
    case FileNameRole: return QFileInfo(r.path).fileName();
    case ParametersRole: return r.ready && r.error.isEmpty() ? chat::formatParameters(r.info.parameters) : QString();
    case QuantRole: return r.info.quantType;
    case SizeRole: return chat::formatBytes(r.ready && r.error.isEmpty() ? r.info.sizeBytes : QFileInfo(r.path).size());
    case ContextRole: return r.info.contextLength;
    case TemplateRole: return r.info.chatTemplate;
    case ErrorRole: return r.error;
    case ReadyRole: return r.ready;
    }
    return {};
}

QHash<int, QByteArray> ModelListModel::roleNames() const {
    return {{PathRole, "path"},         {NameRole, "name"},   {FileNameRole, "fileName"}, {ParametersRole, "parameters"},
            {QuantRole, "quant"},       {SizeRole, "size"},   {ContextRole, "contextLength"},
            {TemplateRole, "chatTemplate"}, {ErrorRole, "error"}, {ReadyRole, "ready"}};
}

}  // namespace ld::ui
