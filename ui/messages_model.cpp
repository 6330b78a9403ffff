#include "ui/messages_model.h"

#include "app/chat/chat_controller.h"
#include "app/chat/tool_approval.h"

namespace ld::ui {

using history::Message;

MessagesModel::MessagesModel(chat::ChatController* chat, QObject* parent) : QAbstractListModel(parent), chat_(chat) {
    textFlush_.setSingleShot(true);
    textFlush_.setInterval(33);  // ~30 updates a second are smooth; more only costs layout time
    connect(&textFlush_, &QTimer::timeout, this, &MessagesModel::flushText);
    connect(chat, &chat::ChatController::messagesReset, this, &MessagesModel::reset);
    connect(chat, &chat::ChatController::messageAdded, this, [this] {
        flushText();
        // The controller appended already; the view learns of the row here.
        if (count_ >= chat_->messages().size()) return;
        beginInsertRows({}, count_, count_);
        ++count_;
        cache_.append(Cached{});
        endInsertRows();
        // A tool's result shows in the block of the call it answers.
        const int callRow = callRowOf(count_ - 1);
        if (callRow >= 0) emit dataChanged(index(callRow), index(callRow), {ToolCallsRole});
    });
    connect(chat, &chat::ChatController::replyText, this, [this](qint64 id) {
        for (int i = count_ - 1; i >= 0; --i) {
            const Message* m = message(i);
            if (!m || m->id != id) continue;
            if (dirtyRow_ >= 0 && dirtyRow_ != i) flushText();
            dirtyRow_ = i;
            if (!textFlush_.isActive()) textFlush_.start();
            return;
        }
    });
    connect(chat, &chat::ChatController::messageUpdated, this, [this](int row) {
        if (row < 0 || row >= count_) return;
        flushText();
        invalidate(row, {});
    });
    reset();
}

const Message* MessagesModel::message(int row) const {
    const QList<Message>& messages = chat_->messages();
    return row >= 0 && row < count_ && row < messages.size() ? &messages[row] : nullptr;
}

void MessagesModel::reset() {
    textFlush_.stop();
    dirtyRow_ = -1;
    beginResetModel();
    count_ = int(chat_->messages().size());
    cache_ = QList<Cached>(count_);
    endResetModel();
}

void MessagesModel::invalidate(int row, const QList<int>& roles) {
    cache_[row].valid = false;  // its sources and rendered blocks stay for reuse
    emit dataChanged(index(row), index(row), roles);
}

void MessagesModel::flushText() {
    textFlush_.stop();
    const int row = dirtyRow_;
    dirtyRow_ = -1;
    if (row >= 0 && row < count_) invalidate(row, {ContentRole, BlocksRole});
}

void MessagesModel::setDark(bool dark) {
    if (dark_ == dark) return;
    dark_ = dark;
    for (Cached& c : cache_) c = {};
    if (count_ > 0) emit dataChanged(index(0), index(count_ - 1), {BlocksRole});
    emit darkChanged();
}

int MessagesModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : count_; }

QVariant MessagesModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const Message* m = message(index.row());
    if (!m) return {};
    switch (role) {
    case Qt::DisplayRole:
    case ContentRole: return m->content;
    case IdRole: return m->id;
    case RoleRole: return m->role;
    case StatusRole: return history::statusName(m->status);
    case StatsRole: return statsText(m->stats);
    case ErrorRole: return m->error;
    case ModelRole: return m->model;
    case ToolCallsRole: return toolCalls(index.row());
    case BlocksRole: {
        Cached& c = cache_[index.row()];
        if (!c.valid) {
            const QList<MarkdownBlock> sources = splitMarkdownBlocks(m->content);
            QList<QVariantList> rendered;
            c.blocks.clear();
            for (qsizetype i = 0; i < sources.size(); ++i) {
                const bool same = i < c.sources.size() && c.sources[i] == sources[i];
                rendered.append(same ? c.rendered[i] : renderMarkdownBlock(sources[i], dark_));
                blockRenderCount_ += !same;
                c.blocks += rendered.last();
            }
            c.sources = sources;
            c.rendered = rendered;
            c.valid = true;
            ++renderCount_;
        }
        return c.blocks;
    }
    }
    return {};
}

QHash<int, QByteArray> MessagesModel::roleNames() const {
    return {{IdRole, "messageId"}, {RoleRole, "role"},   {ContentRole, "content"}, {StatusRole, "status"},
            {StatsRole, "stats"},  {ErrorRole, "error"}, {ModelRole, "modelName"}, {BlocksRole, "blocks"},
            {ToolCallsRole, "toolCalls"}};
}

int MessagesModel::callRowOf(int row) const {
    const Message* m = message(row);
    if (!m || !m->toolResult) return -1;
    for (int i = row - 1; i >= 0; --i) {
        const Message* c = message(i);
        if (!c) return -1;
        for (const history::ToolCall& call : c->toolCalls)
            if (call.callId == m->toolResult->callId) return i;
    }
    return -1;
}

QVariantList MessagesModel::toolCalls(int row) const {
    const Message* m = message(row);
    QVariantList out;
    if (!m) return out;
    for (const history::ToolCall& call : m->toolCalls) {
        QVariantMap c{{QStringLiteral("callId"), call.callId},
                      {QStringLiteral("server"), call.server},
                      {QStringLiteral("name"), call.name},
                      {QStringLiteral("arguments"), chat::prettyArguments(call.argumentsJson)},
                      {QStringLiteral("decision"), history::toolDecisionName(call.decision)},
                      {QStringLiteral("hasResult"), false}};
        // The result is the first tool message after this one that answers the call.
        for (int i = row + 1; i < count_; ++i) {
            const Message* r = message(i);
            if (!r || r->role != QLatin1String(history::kToolRole)) {
                if (r && r->role == QLatin1String(history::kNoticeRole)) continue;
                break;
            }
            if (!r->toolResult || r->toolResult->callId != call.callId) continue;
            c.insert(QStringLiteral("hasResult"), true);
            c.insert(QStringLiteral("result"), r->content);
            c.insert(QStringLiteral("isError"), r->toolResult->isError);
            c.insert(QStringLiteral("truncated"), r->toolResult->truncated);
            break;
        }
        out << c;
    }
    return out;
}

QString MessagesModel::statsText(const history::GenerationStats& s) {
    if (s.genTokens <= 0) return {};
    QString t = QStringLiteral("%1 %2 · %3 tok/s")
                    .arg(s.genTokens)
                    .arg(s.genTokens == 1 ? QStringLiteral("token") : QStringLiteral("tokens"))
                    .arg(s.genTps, 0, 'f', 1);
    // Right after the speed it explains ("Speed up replies"), before what an elided line may lose.
    if (s.drafted > 0)
        t += QStringLiteral(" · drafted %1, accepted %2 (%3%)")
                 .arg(s.drafted)
                 .arg(s.accepted)
                 .arg(qRound(100.0 * s.accepted / s.drafted));
    if (s.ttftMs > 0) t += QStringLiteral(" · first token %1 ms").arg(qRound(s.ttftMs));
    if (s.promptTokens > 0) t += QStringLiteral(" · prompt %1 tokens").arg(s.promptTokens);
    return t;
}

}  // namespace ld::ui
