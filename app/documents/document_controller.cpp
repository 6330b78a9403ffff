#include "app/documents/document_controller.h"

#include <QFileInfo>
#include <QtConcurrent>
#include <utility>

#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/documents/document_attachment.h"
#include "app/documents/engine_completion.h"
#include "app/history/history_store.h"
#include "app/remote/remote_completion.h"
#include "inference/core/error.h"

namespace ld::documents {

using history::Attachment;
using history::Message;
using history::MessageStatus;
using history::Result;

namespace {

QString timeLeft(double seconds) {
    if (seconds < 0) return {};
    const int s = int(seconds + 0.5);
    if (s < 60) return QStringLiteral(" · about %1 s left").arg(s);
    return QStringLiteral(" · about %1:%2 left").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

// What the summary thread hands back to the UI thread.
struct Outcome {
    SummaryResult result;
};

}  // namespace

DocumentController::DocumentController(history::HistoryStore* store, chat::EngineHost* engine,
                                       chat::ChatController* chat, QObject* parent)
    : QObject(parent), store_(store), engine_(engine), chat_(chat) {
    chat_->setContextProvider([this](qint64 id, const QString& question) {
        const DocumentContext c = contextFor(id, question);
        return chat::ChatController::DocumentContext{c.overview, c.passages};
    });
    connect(chat_, &chat::ChatController::conversationChanged, this, [this] {
        opening_ = 0;
        // Rows added while it was being opened may be missing from what it loaded.
        for (const Message& m : std::exchange(toShow_, {}))
            if (m.conversationId == chat_->conversationId()) chat_->showAddedMessage(m);
        loadAttachments(chat_->conversationId());
    });
}

DocumentController::~DocumentController() {
    queue_.clear();
    if (cancel_) cancel_->store(true);
    // The worker never waits for this thread once cancelled (EngineCompletion polls the flag).
    work_.waitForFinished();
    chat_->setContextProvider({});
}

QStringList DocumentController::nameFilters() const {
    return {QStringLiteral("Documents (%1)").arg(supportedPatterns().join(QLatin1Char(' '))), QStringLiteral("All files (*)")};
}

void DocumentController::addFiles(const QVariantList& urls) {
    QStringList paths;
    for (const QVariant& v : urls) {
        QUrl url = v.toUrl();
        if (!url.isValid() || url.scheme().isEmpty()) url = QUrl::fromLocalFile(v.toString());
        if (url.isLocalFile()) {
            paths << url.toLocalFile();
            continue;
        }
        const QString message = QStringLiteral("%1: only files on this computer can be summarized").arg(url.toDisplayString());
        emit errorOccurred(message);
        // Into the open chat only: creating one here could race a dropped file that creates one.
        if (const qint64 conversation = targetConversation()) addNotice(conversation, message, {});
    }
    addPaths(paths);
}

void DocumentController::addPaths(const QStringList& paths) {
    if (paths.isEmpty()) return;
    queue_ += paths;
    emit stateChanged();
    if (!busy_) startNext();
}

void DocumentController::cancel() {
    queue_.clear();
    if (cancel_) cancel_->store(true);
    emit stateChanged();
}

void DocumentController::setProgress(double value, const QString& text) {
    progress_ = value;
    progressText_ = text;
    emit progressChanged();
}

qint64 DocumentController::targetConversation() const {
    return chat_->conversationId() ? chat_->conversationId() : opening_;
}

void DocumentController::showMessages(qint64 conversation, const QList<Message>& added) {
    if (chat_->conversationId() == conversation) {
        for (const Message& m : added) chat_->showAddedMessage(m);  // skips rows already shown
        return;
    }
    if (chat_->conversationId() != 0) return;  // the user has another chat open: leave it
    toShow_ += added;
    if (opening_ == conversation) return;
    opening_ = conversation;
    chat_->openConversation(conversation);
}

void DocumentController::startNext() {
    if (queue_.isEmpty()) {
        busy_ = false;
        currentFile_.clear();
        setProgress(0, {});
        emit stateChanged();
        return;
    }
    const QString path = queue_.takeFirst();
    busy_ = true;
    currentFile_ = QFileInfo(path).fileName();
    emit stateChanged();
    setProgress(-1, QStringLiteral("%1 — reading the file").arg(currentFile_));
    const ReadOptions options = readOptions_;
    QtConcurrent::run([path, options] { return readDocument(path, options); })
        .then(this, [this, path](const Result<Document>& doc) { onRead(path, doc); });
}

void DocumentController::finishJob(const QString& fileName, bool ok) {
    emit summaryFinished(fileName, ok);
    startNext();
}

void DocumentController::reportFailure(const QString& fileName, const QString& message) {
    emit errorOccurred(message);
    if (const qint64 conversation = targetConversation()) {
        addNotice(conversation, message, [this, fileName] { finishJob(fileName, false); });
        return;
    }
    // A new chat: the notice starts it, as a summary would have. The next file waits for this,
    // so files dropped together land in one conversation.
    const history::NewConversation nc = chat_->newConversation(fileName);
    store_->createConversation(nc).then(this, [this, fileName, message](const Result<history::Conversation>& c) {
        if (!c) {  // the toast told it; nothing to write the notice into
            finishJob(fileName, false);
            return;
        }
        addNotice(c->id, message, [this, fileName] { finishJob(fileName, false); });
    });
}

void DocumentController::addNotice(qint64 conversation, const QString& message, std::function<void()> then) {
    history::NewMessage notice;
    notice.conversationId = conversation;
    notice.role = QString::fromLatin1(chat::kNoticeRole);
    notice.content = message;
    store_->addMessage(notice).then(this, [this, conversation, then = std::move(then)](const Result<Message>& m) {
        if (m) showMessages(conversation, {m.value()});
        else emit errorOccurred(QStringLiteral("The notice was not saved in the conversation: %1").arg(m.error()));
        if (then) then();
    });
}

void DocumentController::onRead(const QString& path, const Result<Document>& doc) {
    const QString name = QFileInfo(path).fileName();
    if (!doc) {
        reportFailure(name, doc.error());
        return;
    }
    if (!engine_->modelReady()) {
        reportFailure(name, QStringLiteral("%1: no model is loaded to summarize it; choose one in Settings").arg(name));
        return;
    }
    const qint64 conversation = targetConversation();
    if (conversation) {
        beginSummary(doc.value(), conversation);
        return;
    }
    // A new chat has no conversation yet: the document starts one.
    // With the new chat's system prompt and sampling, as a first message would have started it.
    const history::NewConversation nc = chat_->newConversation(QStringLiteral("Summary of %1").arg(name));
    store_->createConversation(nc).then(this, [this, d = doc.value()](const Result<history::Conversation>& c) {
        if (!c) {
            emit errorOccurred(QStringLiteral("%1: the conversation could not be created: %2").arg(d.fileName, c.error()));
            finishJob(d.fileName, false);
            return;
        }
        beginSummary(d, c->id);
    });
}

void DocumentController::beginSummary(const Document& doc, qint64 conversation) {
    history::NewMessage user;
    user.conversationId = conversation;
    user.role = QStringLiteral("user");
    user.content = summaryRequestText(doc);
    store_->addMessage(user).then(this, [this, doc, conversation](const Result<Message>& m) {
        if (!m) {
            emit errorOccurred(QStringLiteral("%1: not added to the conversation: %2").arg(doc.fileName, m.error()));
            finishJob(doc.fileName, false);
            return;
        }
        chat_->showAddedMessage(m.value());
        const qint64 userId = m->id;
        // The text is stored before the summary starts, so a cancelled or failed summary still
        // leaves the document for follow-up questions; the summary is added when it is done.
        store_->addAttachment(toAttachment(doc, {}, conversation, userId)).then(this, [this, doc, conversation, userMessage = m.value()](const Result<Attachment>& a) {
            qint64 attachmentId = 0;
            if (a) {
                attachmentId = a->id;
                QtConcurrent::run([att = a.value()] { return passagesOf({att}); })
                    .then(this, [this, conversation, att = a.value()](const QList<Passage>& passages) { addToLibrary(conversation, att, passages); });
            } else {
                emit errorOccurred(QStringLiteral("%1: the document was not saved for follow-up questions: %2").arg(doc.fileName, a.error()));
            }
            store_->beginReply(conversation, userMessage.id, engine_->modelName()).then(this, [this, doc, conversation, attachmentId, userMessage](const Result<Message>& reply) {
                if (!reply) {
                    emit errorOccurred(QStringLiteral("%1: the summary could not be started: %2").arg(doc.fileName, reply.error()));
                    finishJob(doc.fileName, false);
                    return;
                }
                showMessages(conversation, {userMessage, reply.value()});
                runSummary(doc, conversation, attachmentId, reply.value());
            });
        });
    });
}

void DocumentController::addToLibrary(qint64 conversation, const Attachment& attachment, const QList<Passage>& passages) {
    auto it = libraries_.find(conversation);
    if (it == libraries_.end()) {
        libraries_.insert(conversation, Library{{attachment}, passages});
        return;
    }
    // loadAttachments may have read it from the store already.
    for (const Attachment& known : it->attachments)
        if (known.id == attachment.id) return;
    it->attachments.append(attachment);
    it->passages += passages;
}

int DocumentController::effectiveLocalMapConcurrency() const {
    if (localMapConcurrency_ > 0) return localMapConcurrency_;
    // One at a time is all an engine without sequences runs; more would only wait in its queue.
    return std::max(1, engine_->modelInfo().parallelSequences);
}

void DocumentController::runSummary(const Document& doc, qint64 conversation, qint64 attachmentId, const Message& reply) {
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<const Tokenizer> tokenizer = engine_->modelInfo().tokenizer;
    const int contextSize = engine_->contextSize();
    const qint64 replyId = reply.id;
    setProgress(0, QStringLiteral("%1 — starting").arg(doc.fileName));
    chat::EngineHost* engine = engine_;
    // A remote model is asked directly from this worker, map steps several at once (the server
    // batches them); a local one through the engine thread, several at once too when its
    // backend runs sequences together (they run there at the Background priority, behind chat).
    const chat::ModelInfo model = engine_->modelInfo();
    SummaryOptions options;
    options.mapConcurrency = model.isRemote() ? remoteMapConcurrency_ : effectiveLocalMapConcurrency();
    work_ = QtConcurrent::run([this, doc, tokenizer, contextSize, replyId, engine, conversation, attachmentId, reply,
                               model, options, cancel = cancel_]() {
        Outcome out;
        std::unique_ptr<Completion> completion;
        if (model.isRemote()) {
            QString error;
            remote::RemoteCompletionOptions ro;
            ro.contextSize = model.contextSize;
            completion = remote::RemoteCompletion::open(model.remoteEndpoint, model.remoteModel, ro, &error);
            if (!completion)
                out.result.error = QStringLiteral("the summary could not start: %1: %2").arg(model.remoteEngineName, error);
        } else {
            try {
                completion = std::make_unique<EngineCompletion>(engine, tokenizer, contextSize);
            } catch (const std::exception& e) {
                out.result.error = QStringLiteral("the summary could not start: %1").arg(QString::fromUtf8(e.what()));
            }
        }
        if (completion) {
            SummaryCallbacks cb;
            cb.progress = [this, name = doc.fileName](const SummaryProgress& p) {
                const double value = p.total > 0 ? double(p.done) / p.total : 0;
                const QString text = QStringLiteral("%1 — %2 (%3/%4)%5").arg(name, p.stage).arg(p.done).arg(p.total).arg(timeLeft(p.secondsLeft));
                QMetaObject::invokeMethod(this, [this, value, text] { setProgress(value, text); }, Qt::QueuedConnection);
            };
            cb.text = [this, replyId](const QString& piece) {
                QMetaObject::invokeMethod(this, [this, replyId, piece] {
                    store_->appendReply(replyId, piece);
                    chat_->showReplyText(replyId, piece);
                }, Qt::QueuedConnection);
            };
            Summarizer summarizer(*completion, options);
            out.result = summarizer.summarize(doc, cb, cancel.get());
        }
        QMetaObject::invokeMethod(this, [this, out, doc, conversation, attachmentId, reply] {
            const SummaryResult& r = out.result;
            const MessageStatus status = r.ok() ? MessageStatus::Complete
                                                : (r.cancelled ? MessageStatus::Interrupted : MessageStatus::Error);
            store_->finishReply(reply.id, status, {}, r.error).then(this, [this, name = doc.fileName](const history::Status& s) {
                if (!s) emit errorOccurred(QStringLiteral("%1: the summary was not saved: %2").arg(name, s.error()));
            });
            Message shown = reply;
            shown.content = r.summary;
            shown.status = status;
            shown.error = r.error;
            chat_->showMessageUpdate(shown);
            if (!r.error.isEmpty()) emit errorOccurred(QStringLiteral("%1: %2").arg(doc.fileName, r.error));
            if (r.ok() && attachmentId) {
                store_->setAttachmentSummary(attachmentId, r.summary)
                    .then(this, [this, conversation, attachmentId, summary = r.summary, name = doc.fileName](const history::Status& s) {
                        if (!s) {
                            emit errorOccurred(QStringLiteral("%1: the summary was not saved with the document: %2").arg(name, s.error()));
                            return;
                        }
                        const auto it = libraries_.find(conversation);
                        if (it == libraries_.end()) return;  // loadAttachments will read it with the summary
                        for (Attachment& a : it->attachments)
                            if (a.id == attachmentId) a.summary = summary;
                    });
            }
            finishJob(doc.fileName, r.ok());
        }, Qt::QueuedConnection);
    });
}

void DocumentController::loadAttachments(qint64 conversation) {
    if (!conversation || libraries_.contains(conversation)) return;
    store_->attachments(conversation).then(this, [this, conversation](const Result<QList<Attachment>>& list) {
        if (!list || list->isEmpty() || libraries_.contains(conversation)) return;
        // One attachment at a time: a document dropped meanwhile may be in the library already.
        QtConcurrent::run([l = list.value()] {
            QList<QList<Passage>> each;
            for (const Attachment& a : l) each.append(passagesOf({a}));
            return each;
        }).then(this, [this, conversation, l = list.value()](const QList<QList<Passage>>& each) {
            for (qsizetype i = 0; i < l.size(); ++i) addToLibrary(conversation, l[i], each[i]);
        });
    });
}

DocumentContext DocumentController::contextFor(qint64 conversation, const QString& question) const {
    const auto it = libraries_.find(conversation);
    if (it == libraries_.end() || it->attachments.isEmpty()) return {};
    // About a third of the context window (at ~4 characters per token).
    const int maxChars = std::max(2000, engine_->contextSize() * 4 / 3);
    return relevantContext(it->attachments, it->passages, question, maxChars);
}

}  // namespace ld::documents
