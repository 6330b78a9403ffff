#include "ui/local_models_model.h"

#include <QDesktopServices>
#include <QFileInfo>

#include "app/chat/model_info.h"

namespace ld::ui {

LocalModelsModel::LocalModelsModel(models::ModelLibrary* library, QObject* parent)
    : QAbstractListModel(parent), library_(library) {
    rows_ = library_->models();
    connect(library_, &models::ModelLibrary::modelsChanged, this, [this] {
        beginResetModel();
        rows_ = library_->models();
        endResetModel();
        emit countChanged();
    });
    connect(library_, &models::ModelLibrary::addFinished, this, [this](const QString& path, const QString& error) {
        if (error.isEmpty()) emit info(tr("Copied %1 into the models folder.").arg(QFileInfo(path).fileName()));
        else emit errorOccurred(error);
    });
}

int LocalModelsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

QVariant LocalModelsModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const models::LocalModel& m = rows_[index.row()];
    switch (role) {
    case PathRole: return m.path;
    case FileNameRole: return m.fileName;
    case Qt::DisplayRole:
    case NameRole: return m.name.isEmpty() ? m.fileName : m.name;
    case ArchitectureRole: return m.architecture;
    case ParametersRole: return m.parameters > 0 ? chat::formatParameters(m.parameters) : QString();
    case QuantRole: return m.quantType;
    case ContextRole: return m.contextLength;
    case SizeRole: return chat::formatBytes(m.sizeBytes);
    case LoadableRole: return m.loadable;
    case ProblemRole: return m.problem;
    case InFolderRole: return m.inModelsFolder;
    }
    return {};
}

QHash<int, QByteArray> LocalModelsModel::roleNames() const {
    return {{PathRole, "path"},         {FileNameRole, "fileName"}, {NameRole, "name"},
            {ArchitectureRole, "architecture"}, {ParametersRole, "parameters"}, {QuantRole, "quant"},
            {ContextRole, "contextLength"}, {SizeRole, "size"},  {LoadableRole, "loadable"},
            {ProblemRole, "problem"},   {InFolderRole, "inFolder"}};
}

void LocalModelsModel::addFile(const QUrl& file, bool copy) {
    const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
    if (copy) library_->addCopy(path);
    else library_->addReference(path);
}

bool LocalModelsModel::remove(const QString& path) {
    QString error;
    if (!library_->remove(path, &error)) {
        emit errorOccurred(error);
        return false;
    }
    return true;
}

bool LocalModelsModel::reveal(const QString& path) {
    // File managers open folders portably; selecting the file itself has no portable API.
    const bool ok = QDesktopServices::openUrl(QUrl::fromLocalFile(QFileInfo(path).absolutePath()));
    if (!ok) emit errorOccurred(tr("Could not open the file manager for %1.").arg(QFileInfo(path).absolutePath()));
    return ok;
}

}  // namespace ld::ui
