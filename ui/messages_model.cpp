#include "ui/messages_model.h"

#include <QVariantMap>

#include "app/chat/chat_controller.h"
#include "ui/text_format.h"

namespace ld::ui {

using history::Message;

MessagesModel::MessagesModel(chat::ChatController* chat, QObject* parent) : QAbstractListModel(parent) {
    textFlush_.setSingleShot(true);
    textFlush_.setInterval(33);  // ~30 updates a second are smooth; more only costs layout time
    connect(&textFlush_, &QTimer::timeout, this, &MessagesModel::flushText);
    connect(chat, &chat::ChatController::messagesReset, this, &MessagesModel::reset);
    connect(chat, &chat::ChatController::messageAdded, this, [this](const Message& m) {
        flushText();
        beginInsertRows({}, int(rows_.size()), int(rows_.size()));
        rows_.append(m);
        endInsertRows();
    });
    connect(chat, &chat::ChatController::replyText, this, [this](qint64 id, const QString& piece) {
        for (int i = int(rows_.size()) - 1; i >= 0; --i) {
            if (rows_[i].id != id) continue;
            rows_[i].content += piece;
            if (dirtyRow_ >= 0 && dirtyRow_ != i) flushText();
            dirtyRow_ = i;
            if (!textFlush_.isActive()) textFlush_.start();
            return;
        }
    });
    connect(chat, &chat::ChatController::messageUpdated, this, [this](int row, const Message& m) {
        if (row < 0 || row >= rows_.size() || rows_[row].id != m.id) return;
        flushText();
        rows_[row] = m;
        emit dataChanged(index(row), index(row));
    });
    reset(chat->messages());
}

void MessagesModel::reset(const QList<Message>& messages) {
    textFlush_.stop();
    dirtyRow_ = -1;
    beginResetModel();
    rows_ = messages;
    endResetModel();
}

void MessagesModel::flushText() {
    textFlush_.stop();
    if (dirtyRow_ < 0 || dirtyRow_ >= rows_.size()) {
        dirtyRow_ = -1;
        return;
    }
    const QModelIndex i = index(dirtyRow_);
    dirtyRow_ = -1;
    emit dataChanged(i, i, {ContentRole, BlocksRole});
}

int MessagesModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(rows_.size()); }

QVariant MessagesModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Message& m = rows_[index.row()];
    switch (role) {
    case Qt::DisplayRole:
    case ContentRole: return m.content;
    case IdRole: return m.id;
    case RoleRole: return m.role;
    case StatusRole: return history::statusName(m.status);
    case StatsRole: return statsText(m.stats);
    case ErrorRole: return m.error;
    case ModelRole: return m.model;
    case BlocksRole: return splitBlocks(m.content);
    }
    return {};
}

QHash<int, QByteArray> MessagesModel::roleNames() const {
    return {{IdRole, "messageId"}, {RoleRole, "role"},   {ContentRole, "content"}, {StatusRole, "status"},
            {StatsRole, "stats"},  {ErrorRole, "error"}, {ModelRole, "modelName"}, {BlocksRole, "blocks"}};
}

QString MessagesModel::statsText(const history::GenerationStats& s) {
    if (s.genTokens <= 0) return {};
    QString t = QStringLiteral("%1 %2 · %3 tok/s")
                    .arg(s.genTokens)
                    .arg(s.genTokens == 1 ? QStringLiteral("token") : QStringLiteral("tokens"))
                    .arg(s.genTps, 0, 'f', 1);
    if (s.ttftMs > 0) t += QStringLiteral(" · first token %1 ms").arg(qRound(s.ttftMs));
    if (s.promptTokens > 0) t += QStringLiteral(" · prompt %1 tokens").arg(s.promptTokens);
    return t;
}

QVariantList MessagesModel::splitBlocks(const QString& markdown) {
    QVariantList out;
    auto add = [&](bool code, const QString& text, const QString& lang) {
        if (!code && text.trimmed().isEmpty()) return;
        out.append(QVariantMap{{QStringLiteral("code"), code},
                               {QStringLiteral("text"), code ? text : escapeMarkdownHtml(text)},
                               {QStringLiteral("lang"), lang}});
    };
    const QStringList lines = markdown.split(QLatin1Char('\n'));
    QStringList current;
    bool inCode = false;
    QString fence, lang;
    for (const QString& line : lines) {
        const QString trimmed = line.trimmed();
        if (!inCode && (trimmed.startsWith(QLatin1String("```")) || trimmed.startsWith(QLatin1String("~~~")))) {
            add(false, current.join(QLatin1Char('\n')), {});
            current.clear();
            inCode = true;
            fence = trimmed.left(3);
            lang = trimmed.mid(3).trimmed();
        } else if (inCode && trimmed.startsWith(fence) && trimmed.mid(3).trimmed().isEmpty()) {
            add(true, current.join(QLatin1Char('\n')), lang);
            current.clear();
            inCode = false;
        } else {
            current.append(line);
        }
    }
    add(inCode, current.join(QLatin1Char('\n')), lang);
    return out;
}

}  // namespace ld::ui
