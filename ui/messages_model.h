#pragma once
// The messages of the open conversation's active branch, for the chat view. Mirrors the
// ChatController (which owns the state) from its signals; streamed text is coalesced so a
// fast model does not re-layout the Markdown of the reply for every token.
#include <QAbstractListModel>
#include <QTimer>

#include "app/history/history_types.h"

namespace ld::chat {
class ChatController;
}

namespace ld::ui {

class MessagesModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role {
        IdRole = Qt::UserRole + 1,
        RoleRole,      // "user" | "assistant" | "system"
        ContentRole,
        StatusRole,    // "complete" | "streaming" | "interrupted" | "error"
        StatsRole,     // "42 tokens · 35.2 tok/s · first token 120 ms", empty when none
        ErrorRole,
        ModelRole,
        BlocksRole,    // [{code: bool, text, lang}] Markdown split at fenced code blocks
    };
    Q_ENUM(Role)

    explicit MessagesModel(chat::ChatController* chat, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    static QString statsText(const history::GenerationStats& stats);
    // Splits Markdown into prose and fenced code blocks (an unterminated fence, as while
    // streaming, runs to the end).
    static QVariantList splitBlocks(const QString& markdown);

private:
    void reset(const QList<history::Message>& messages);
    void flushText();

    QList<history::Message> rows_;
    QTimer textFlush_;
    int dirtyRow_ = -1;
};

}  // namespace ld::ui
