#include "app/history/history_store.h"

#include <QHash>
#include <QPromise>
#include <QTimer>
#include <algorithm>

#include "app/history/history_database.h"
#include "app/history/history_export.h"
#include "app/history/reply_writer.h"

namespace ld::history {

// Owns the connection and the replies being written; lives on (and is only touched from)
// the store's thread.
class StoreWorker : public QObject {
public:
    explicit StoreWorker(HistoryStore* store) : store_(store) {}

    Result<OpenReport> open(const QString& path) {
        OpenReport report;
        QString error;
        db_ = HistoryDatabase::open(path, &report, &error);
        if (!db_) {
            openError_ = error;
            emit store_->storageError(error);
            return Result<OpenReport>::failure(error);
        }
        for (const QString& n : report.notices) emit store_->notice(n);
        flushTimer_ = new QTimer(this);
        flushTimer_->setInterval(kCheckpointInterval);
        QObject::connect(flushTimer_, &QTimer::timeout, this, [this] { flushDue(); });
        return report;
    }

    void close() {
        for (auto& w : writers_) w->flush();
        writers_.clear();
        db_.reset();
    }

    HistoryDatabase* db() { return db_.get(); }
    const QString& openError() const { return openError_; }

    Result<Message> beginReply(qint64 conversationId, std::optional<qint64> parentId, const QString& model) {
        Result<Message> m = db_->beginReply(conversationId, parentId, model);
        if (!m) return m;
        auto writer = std::make_unique<ReplyWriter>(*db_, m->id);
        const qint64 id = m->id;
        writer->setCheckpointCallback([this, id](qsizetype saved) { emit store_->replyCheckpointed(id, saved); });
        writers_.insert(id, std::shared_ptr<ReplyWriter>(std::move(writer)));
        if (!flushTimer_->isActive()) flushTimer_->start();
        return m;
    }

    void append(qint64 messageId, const QString& text) {
        auto it = writers_.find(messageId);
        if (it == writers_.end()) {
            emit store_->storageError(QStringLiteral("Could not save the reply: it is not being recorded (message %1).").arg(messageId));
            return;
        }
        report(it.value()->append(text));
    }

    Status finish(qint64 messageId, MessageStatus status, const GenerationStats& stats, const QString& error) {
        auto it = writers_.find(messageId);
        if (it == writers_.end())
            return Status::failure(QStringLiteral("Could not save the reply: it is not being recorded (message %1).").arg(messageId));
        Status s = it.value()->finish(status, stats, error);
        if (!s) return s;  // the writer and its text stay for a retry
        const qint64 conversationId = db_->message(messageId).value().conversationId;
        writers_.erase(it);
        if (writers_.isEmpty()) flushTimer_->stop();
        emit store_->conversationChanged(conversationId);
        return s;
    }

private:
    // Tokens may pause (a slow prompt, a stalled backend): pending text still reaches the disk.
    void flushDue() {
        for (auto& w : writers_)
            if (w->checkpointDue()) report(w->flush());
    }

    void report(const Status& s) {
        if (!s && s.error() != lastReported_) emit store_->storageError(s.error());
        lastReported_ = s ? QString() : s.error();
    }

    HistoryStore* store_;
    std::unique_ptr<HistoryDatabase> db_;
    QString openError_;
    QHash<qint64, std::shared_ptr<ReplyWriter>> writers_;
    QTimer* flushTimer_ = nullptr;
    QString lastReported_;
};

template <class T, class F>
QFuture<T> HistoryStore::post(F&& work) {
    auto promise = std::make_shared<QPromise<T>>();
    QFuture<T> future = promise->future();
    promise->start();
    // The work is handed to the store's thread from the caller's next event-loop turn, not at
    // once: callers attach `.then(context, ...)` right after this returns, and with Qt 6.4 a
    // future that finishes on another thread while its continuation is being attached can lose
    // that continuation (seen as search results that never arrived on a busy machine).
    auto job = [this, promise, work = std::forward<F>(work)]() mutable {
        HistoryDatabase* db = worker_->db();
        if (!db)
            promise->addResult(T::failure(worker_->openError()));
        else
            promise->addResult(work(*db));
        promise->finish();
    };
    QMetaObject::invokeMethod(
        this, [this, job = std::move(job)]() mutable { QMetaObject::invokeMethod(worker_, std::move(job), Qt::QueuedConnection); },
        Qt::QueuedConnection);
    return future;
}

HistoryStore::HistoryStore(const QString& path, QObject* parent) : QObject(parent), path_(path) {
    qRegisterMetaType<ld::history::Conversation>();
    qRegisterMetaType<ld::history::Message>();
    thread_.setObjectName(QStringLiteral("history-store"));
    worker_ = new StoreWorker(this);
    worker_->moveToThread(&thread_);
    thread_.start();
    auto promise = std::make_shared<QPromise<Result<OpenReport>>>();
    opened_ = promise->future();
    promise->start();
    // Started from the next event-loop turn for the same reason as post(): `opened().then(...)`
    // must be attached before the open can finish.
    QMetaObject::invokeMethod(
        this,
        [this, promise] {
            QMetaObject::invokeMethod(
                worker_,
                [this, promise] {
                    promise->addResult(worker_->open(path_));
                    promise->finish();
                },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

HistoryStore::~HistoryStore() {
    QMetaObject::invokeMethod(worker_, [this] { worker_->close(); }, Qt::BlockingQueuedConnection);
    thread_.quit();
    thread_.wait();
    delete worker_;
}

QFuture<Result<QList<Conversation>>> HistoryStore::listConversations(int offset, int limit) {
    return post<Result<QList<Conversation>>>([=](HistoryDatabase& db) { return db.listConversations(offset, limit); });
}

QFuture<Result<int>> HistoryStore::conversationCount() {
    return post<Result<int>>([](HistoryDatabase& db) { return db.conversationCount(); });
}

QFuture<Result<Conversation>> HistoryStore::createConversation(const NewConversation& c) {
    return post<Result<Conversation>>([this, c](HistoryDatabase& db) {
        Result<Conversation> r = db.createConversation(c);
        if (r) emit conversationsChanged();
        return r;
    });
}

QFuture<Result<ConversationBundle>> HistoryStore::loadConversation(qint64 id) {
    return post<Result<ConversationBundle>>([=](HistoryDatabase& db) { return db.bundle(id); });
}

QFuture<Result<QList<Message>>> HistoryStore::activeBranch(qint64 id) {
    return post<Result<QList<Message>>>([=](HistoryDatabase& db) { return db.activeBranch(id); });
}

QFuture<Status> HistoryStore::renameConversation(qint64 id, const QString& title) {
    return post<Status>([this, id, title](HistoryDatabase& db) {
        Status s = db.renameConversation(id, title);
        if (s) emit conversationsChanged();
        return s;
    });
}

QFuture<Result<bool>> HistoryStore::applyAutoTitle(qint64 id, const QString& title) {
    return post<Result<bool>>([this, id, title](HistoryDatabase& db) {
        Result<bool> r = db.applyAutoTitle(id, title);
        if (r && r.value()) emit conversationsChanged();
        return r;
    });
}

QFuture<Status> HistoryStore::updateConversationSettings(qint64 id, const QString& model,
                                                         const QString& systemPrompt,
                                                         const QJsonObject& sampling) {
    return post<Status>([=, this](HistoryDatabase& db) {
        Status s = db.updateConversationSettings(id, model, systemPrompt, sampling);
        if (s) emit conversationChanged(id);
        return s;
    });
}

QFuture<Status> HistoryStore::deleteConversation(qint64 id) {
    return post<Status>([this, id](HistoryDatabase& db) {
        Status s = db.deleteConversation(id);
        if (s) emit conversationsChanged();
        return s;
    });
}

QFuture<Result<qint64>> HistoryStore::duplicateConversation(qint64 id, std::optional<qint64> upTo) {
    return post<Result<qint64>>([this, id, upTo](HistoryDatabase& db) {
        Result<qint64> r = db.duplicateConversation(id, upTo);
        if (r) emit conversationsChanged();
        return r;
    });
}

QFuture<Status> HistoryStore::setCurrentLeaf(qint64 conversationId, qint64 messageId) {
    return post<Status>([=, this](HistoryDatabase& db) {
        Status s = db.setCurrentLeaf(conversationId, messageId);
        if (s) emit conversationChanged(conversationId);
        return s;
    });
}

QFuture<Result<Message>> HistoryStore::addMessage(const NewMessage& m) {
    return post<Result<Message>>([this, m](HistoryDatabase& db) {
        Result<Message> r = db.addMessage(m);
        if (r) {
            emit conversationChanged(m.conversationId);
            emit conversationsChanged();  // it moved to the top of the list
        } else {
            emit storageError(r.error());
        }
        return r;
    });
}

QFuture<Result<Message>> HistoryStore::beginReply(qint64 conversationId, std::optional<qint64> parentId,
                                                  const QString& model) {
    return post<Result<Message>>([=, this](HistoryDatabase&) {
        Result<Message> r = worker_->beginReply(conversationId, parentId, model);
        if (r) emit conversationsChanged();
        else emit storageError(r.error());
        return r;
    });
}

void HistoryStore::appendReply(qint64 messageId, const QString& text) {
    QMetaObject::invokeMethod(worker_, [this, messageId, text] {
        if (worker_->db()) worker_->append(messageId, text);
    }, Qt::QueuedConnection);
}

QFuture<Status> HistoryStore::finishReply(qint64 messageId, MessageStatus status,
                                          const GenerationStats& stats, const QString& error) {
    return post<Status>([=, this](HistoryDatabase&) {
        Status s = worker_->finish(messageId, status, stats, error);
        if (!s) emit storageError(s.error());
        return s;
    });
}

QFuture<Result<Attachment>> HistoryStore::addAttachment(const Attachment& a) {
    return post<Result<Attachment>>([this, a](HistoryDatabase& db) {
        Result<Attachment> r = db.addAttachment(a);
        if (r) emit conversationChanged(a.conversationId);
        return r;
    });
}

QFuture<Status> HistoryStore::setToolCalls(qint64 conversationId, qint64 messageId,
                                           const QList<ToolCall>& calls) {
    return post<Status>([=, this](HistoryDatabase& db) {
        Status s = db.setToolCalls(messageId, calls);
        if (s) emit conversationChanged(conversationId);
        return s;
    });
}

QFuture<Status> HistoryStore::setToolCallDecision(qint64 conversationId, qint64 messageId,
                                                  const QString& callId, ToolDecision decision) {
    return post<Status>([=, this](HistoryDatabase& db) {
        Status s = db.setToolCallDecision(messageId, callId, decision);
        if (s) emit conversationChanged(conversationId);
        return s;
    });
}

QFuture<Status> HistoryStore::setAttachmentSummary(qint64 attachmentId, const QString& summary) {
    return post<Status>([this, attachmentId, summary](HistoryDatabase& db) {
        const Result<qint64> conversation = db.setAttachmentSummary(attachmentId, summary);
        if (!conversation) return Status::failure(conversation.error());
        emit conversationChanged(conversation.value());
        return ok();
    });
}

QFuture<Result<QList<Attachment>>> HistoryStore::attachments(qint64 conversationId) {
    return post<Result<QList<Attachment>>>([=](HistoryDatabase& db) { return db.attachments(conversationId); });
}

QFuture<Result<QList<SearchHit>>> HistoryStore::search(const QString& text, const SearchOptions& options) {
    return post<Result<QList<SearchHit>>>([=](HistoryDatabase& db) { return db.search(text, options); });
}

namespace {
Result<QList<ConversationBundle>> loadBundles(HistoryDatabase& db, QList<qint64> ids) {
    using R = Result<QList<ConversationBundle>>;
    if (ids.isEmpty()) {
        Result<QList<qint64>> all = db.allConversationIds();
        if (!all) return R::failure(all.error());
        ids = all.value();
    }
    QList<ConversationBundle> bundles;
    for (qint64 id : ids) {
        Result<ConversationBundle> b = db.bundle(id);
        if (!b) return R::failure(b.error());
        bundles << std::move(b).value();
    }
    return bundles;
}
}  // namespace

QFuture<Result<QByteArray>> HistoryStore::exportJson(const QList<qint64>& ids) {
    return post<Result<QByteArray>>([ids](HistoryDatabase& db) {
        const Result<QList<ConversationBundle>> b = loadBundles(db, ids);
        if (!b) return Result<QByteArray>::failure(b.error());
        return Result<QByteArray>(ld::history::exportJson(b.value()));
    });
}

QFuture<Result<QString>> HistoryStore::exportMarkdown(const QList<qint64>& ids) {
    return post<Result<QString>>([ids](HistoryDatabase& db) {
        const Result<QList<ConversationBundle>> b = loadBundles(db, ids);
        if (!b) return Result<QString>::failure(b.error());
        return Result<QString>(ld::history::exportMarkdown(b.value()));
    });
}

QFuture<Result<QList<qint64>>> HistoryStore::importJson(const QByteArray& json) {
    return post<Result<QList<qint64>>>([this, json](HistoryDatabase& db) {
        using R = Result<QList<qint64>>;
        const Result<QList<ConversationBundle>> parsed = parseExportJson(json);
        if (!parsed) return R::failure(parsed.error());
        // One transaction: a file whose second conversation fails imports nothing.
        const Result<QList<qint64>> ids = db.importBundles(parsed.value());
        if (!ids) return R::failure(ids.error());
        emit conversationsChanged();
        return ids;
    });
}

}  // namespace ld::history
