#include "app/history/conversation_list_model.h"

#include <QDateTime>

#include "app/history/history_store.h"

namespace ld::history {

ConversationListModel::ConversationListModel(HistoryStore* store, int pageSize, QObject* parent)
    : QAbstractListModel(parent), store_(store), pageSize_(qMax(1, pageSize)) {
    connect(store_, &HistoryStore::conversationsChanged, this, &ConversationListModel::reload);
    reload();
}

int ConversationListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(rows_.size());
}

QVariant ConversationListModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Conversation& c = rows_.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
        return c.title.isEmpty() ? tr("New conversation") : c.title;
    case Qt::ToolTipRole:
        return c.model;
    case IdRole: return c.id;
    case TitleRole: return c.title;
    case CreatedRole: return QDateTime::fromMSecsSinceEpoch(c.createdMs);
    case UpdatedRole: return QDateTime::fromMSecsSinceEpoch(c.updatedMs);
    case ModelRole: return c.model;
    case MessageCountRole: return c.messageCount;
    default: return {};
    }
}

QHash<int, QByteArray> ConversationListModel::roleNames() const {
    QHash<int, QByteArray> names = QAbstractListModel::roleNames();
    names.insert(IdRole, "conversationId");
    names.insert(TitleRole, "title");
    names.insert(CreatedRole, "created");
    names.insert(UpdatedRole, "updated");
    names.insert(ModelRole, "model");
    names.insert(MessageCountRole, "messageCount");
    return names;
}

bool ConversationListModel::canFetchMore(const QModelIndex& parent) const {
    return !parent.isValid() && !atEnd_ && !fetching_;
}

void ConversationListModel::fetchMore(const QModelIndex& parent) {
    if (!canFetchMore(parent)) return;
    fetching_ = true;
    const quint64 generation = generation_;
    store_->listConversations(int(rows_.size()), pageSize_)
        .then(this, [this, generation](const Result<QList<Conversation>>& page) {
            if (generation != generation_) return;
            if (!page) {
                fetching_ = false;
                emit errorOccurred(page.error());
                return;
            }
            // Views (and QAbstractItemModelTester) call fetchMore from the insert signals:
            // stay "fetching" until the rows are in, or the same page is asked for twice.
            atEnd_ = page->size() < pageSize_;
            if (!page->isEmpty()) {
                beginInsertRows({}, int(rows_.size()), int(rows_.size() + page->size() - 1));
                rows_ += page.value();
                endInsertRows();
            }
            fetching_ = false;
            emit loaded();
        });
}

void ConversationListModel::reload() {
    const quint64 generation = ++generation_;
    fetching_ = true;
    const int want = qMax(pageSize_, int(rows_.size()));
    store_->listConversations(0, want).then(this, [this, generation, want](const Result<QList<Conversation>>& page) {
        if (generation != generation_) return;
        if (!page) {
            fetching_ = false;
            emit errorOccurred(page.error());
            return;
        }
        beginResetModel();
        rows_ = page.value();
        atEnd_ = rows_.size() < want;
        endResetModel();
        fetching_ = false;
        emit loaded();
    });
}

std::optional<Conversation> ConversationListModel::conversationAt(int row) const {
    if (row < 0 || row >= rows_.size()) return std::nullopt;
    return rows_.at(row);
}

int ConversationListModel::rowOf(qint64 conversationId) const {
    for (int i = 0; i < rows_.size(); ++i)
        if (rows_.at(i).id == conversationId) return i;
    return -1;
}

}  // namespace ld::history
