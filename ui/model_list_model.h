#pragma once
// The GGUF models the settings panel offers: every *.gguf in the models folder plus the files
// the user added. Headers are read on a pool thread; rows show "reading…" until they arrive.
#include <QAbstractListModel>
#include <QList>

#include "app/chat/chat_types.h"

namespace ld::settings {
class AppSettings;
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
        ErrorRole,        // why the header could not be read
        ReadyRole,        // header read
    };
    Q_ENUM(Role)

    // `folder` empty: the XDG data folder's llamadesk/models.
    explicit ModelListModel(settings::AppSettings* settings, QString folder = {}, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString modelsFolder() const { return folder_; }
    static QString defaultModelsFolder();
    Q_INVOKABLE void refresh();
    Q_INVOKABLE int rowOfPath(const QString& path) const;

signals:
    void countChanged();
    void infoRead();   // a header arrived (tests wait on it)

private:
    struct Row {
        QString path;
        chat::ModelInfo info;
        QString error;
        bool ready = false;
    };
    settings::AppSettings* settings_;
    QString folder_;
    QList<Row> rows_;
    quint64 generation_ = 0;
};

}  // namespace ld::ui
