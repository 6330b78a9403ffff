#pragma once
// The messages of the open conversation's active branch, for the chat view. The
// ChatController owns the messages (it builds prompts from them and must work without a view);
// this model only presents them: it keeps a row count, so rows are announced before the view
// reads them, and one cache entry per row with the message's rendered blocks. Streamed text is
// coalesced, so a fast model does not re-render the reply for every token, and a flush
// re-renders only the streaming message, once, when the view asks for it.
#include <QAbstractListModel>
#include <QTimer>
#include <QVariantList>

#include "app/history/history_types.h"
#include "ui/text_format.h"

namespace ld::chat {
class ChatController;
}

namespace ld::ui {

class MessagesModel : public QAbstractListModel {
    Q_OBJECT
    // The theme the blocks' colours are for (ChatView binds it to Theme.dark).
    Q_PROPERTY(bool dark READ dark WRITE setDark NOTIFY darkChanged)
public:
    enum Role {
        IdRole = Qt::UserRole + 1,
        RoleRole,      // "user" | "assistant" | "system" | "notice" | "tool" (shown in its call's block)
        ContentRole,
        StatusRole,    // "complete" | "streaming" | "interrupted" | "error"
        StatsRole,     // "42 tokens · 35.2 tok/s · first token 120 ms", empty when none
        ErrorRole,
        ModelRole,
        BlocksRole,    // renderMessageBlocks(): [{code, text, lang, html}]
        // An assistant message's tool calls, each with its result when one follows:
        // [{callId, server, name, arguments (indented JSON), decision ("pending", "allowed_once",
        // "always_allowed", "denied"), hasResult, result, isError, truncated}]
        ToolCallsRole,
    };
    Q_ENUM(Role)

    explicit MessagesModel(chat::ChatController* chat, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    bool dark() const { return dark_; }
    void setDark(bool dark);

    // How many times a message's Markdown was rendered, and how many of its Markdown blocks
    // (splitMarkdownBlocks) were, for tests that check a flush re-renders only what changed.
    int renderCount() const { return renderCount_; }
    int blockRenderCount() const { return blockRenderCount_; }

    static QString statsText(const history::GenerationStats& stats);

signals:
    void darkChanged();

private:
    // Rendered blocks of one row; `valid` is false until rendered and after its text changed.
    // A re-render reuses the blocks of the Markdown blocks that did not change (while a reply
    // streams, only its last block grows).
    struct Cached {
        bool valid = false;
        QVariantList blocks;
        QList<MarkdownBlock> sources;
        QList<QVariantList> rendered;  // per source
    };
    const history::Message* message(int row) const;
    QVariantList toolCalls(int row) const;
    // The row whose calls a tool result at `row` answers, or -1.
    int callRowOf(int row) const;
    void reset();
    void invalidate(int row, const QList<int>& roles);
    void flushText();

    chat::ChatController* chat_;
    int count_ = 0;                   // rows announced to the views (the controller may be ahead)
    mutable QList<Cached> cache_;     // one per row, filled lazily by data()
    mutable int renderCount_ = 0;
    mutable int blockRenderCount_ = 0;
    QTimer textFlush_;
    int dirtyRow_ = -1;
    bool dark_ = false;
};

}  // namespace ld::ui
