#pragma once
// Conversations, newest first, for a list view: loaded page by page from a HistoryStore
// (fetchMore), reloaded when the store announces a change. Never blocks on SQL.
#include <QAbstractListModel>
#include <QList>

#include "app/history/history_types.h"

namespace ld::history {

class HistoryStore;

class ConversationListModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role {
        IdRole = Qt::UserRole + 1,
        TitleRole,
        CreatedRole,   // QDateTime
        UpdatedRole,   // QDateTime
        ModelRole,
        MessageCountRole,
    };
    Q_ENUM(Role)

    explicit ConversationListModel(HistoryStore* store, int pageSize = 50, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;
    bool canFetchMore(const QModelIndex& parent) const override;
    void fetchMore(const QModelIndex& parent) override;

    // Reloads as many rows as are shown now (at least one page).
    void reload();
    std::optional<Conversation> conversationAt(int row) const;
    int rowOf(qint64 conversationId) const;  // -1 when not loaded

signals:
    void loaded();                        // a page or a reload arrived
    void errorOccurred(const QString& message);

private:
    HistoryStore* store_;
    int pageSize_;
    QList<Conversation> rows_;
    bool atEnd_ = false;
    bool fetching_ = false;
    quint64 generation_ = 0;  // results of a request made before the latest reload are dropped
};

}  // namespace ld::history
