#pragma once
// The settings panel's "files on this computer" list, backed by models::ModelLibrary (the
// watched models folder plus referenced files): metadata for each file, whether it can load
// here and why not, and the file actions — add (copy or reference), remove, reveal in the
// file manager (QDesktopServices, hence here in ui/ rather than in the app core).
#include <QAbstractListModel>
#include <QUrl>

#include "app/models/model_library.h"

namespace ld::ui {

class LocalModelsModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
    Q_PROPERTY(QString folder READ folder CONSTANT)
public:
    enum Role {
        PathRole = Qt::UserRole + 1,
        FileNameRole,
        NameRole,
        ArchitectureRole,
        ParametersRole,   // "8.0B"
        QuantRole,
        ContextRole,
        SizeRole,         // "4.9 GB"
        LoadableRole,
        ProblemRole,      // why it cannot load here
        InFolderRole,     // false: referenced where it lies (removing only forgets it)
    };
    Q_ENUM(Role)

    explicit LocalModelsModel(models::ModelLibrary* library, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;
    QString folder() const { return library_->folder(); }

    Q_INVOKABLE void addFile(const QUrl& file, bool copy);
    // The QML asks for confirmation first.
    Q_INVOKABLE bool remove(const QString& path);
    Q_INVOKABLE bool reveal(const QString& path);
    Q_INVOKABLE void rescan() { library_->rescan(); }

signals:
    void countChanged();
    void errorOccurred(const QString& message);
    void info(const QString& message);

private:
    models::ModelLibrary* library_;
    QList<models::LocalModel> rows_;
};

}  // namespace ld::ui
