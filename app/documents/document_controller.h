#pragma once
// The app's side of documents: files dropped on the window (or picked) join the open
// conversation and get summarized one after another, off the UI thread. Each becomes a user
// message ("📄 report.pdf — summarize") and an assistant reply that streams in as the
// summary is written; the text is stored as an attachment once read (the summary joins it when
// done, so a cancelled summary still leaves the document), and later questions in
// that conversation get the relevant passages in their prompt (ChatController's context
// provider). A file that cannot be read is reported by name and reason, as a notice row in the
// conversation (stored, so it survives a restart) and a toast; the others proceed.
#include <QFuture>
#include <QHash>
#include <QObject>
#include <QStringList>
#include <QUrl>
#include <QVariantList>
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>

#include "app/documents/document_reader.h"
#include "app/documents/retrieval.h"
#include "app/documents/summarizer.h"

namespace ld::history {
class HistoryStore;
}
namespace ld::chat {
class EngineHost;
class ChatController;
}  // namespace ld::chat

namespace ld::documents {

class DocumentController : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool busy READ busy NOTIFY stateChanged)
    Q_PROPERTY(QString currentFile READ currentFile NOTIFY stateChanged)
    Q_PROPERTY(int pendingFiles READ pendingFiles NOTIFY stateChanged)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged)        // 0..1, -1 while reading
    Q_PROPERTY(QString progressText READ progressText NOTIFY progressChanged)
    Q_PROPERTY(QStringList nameFilters READ nameFilters CONSTANT)
public:
    DocumentController(history::HistoryStore* store, chat::EngineHost* engine, chat::ChatController* chat,
                       QObject* parent = nullptr);
    // Cancels the running summary and waits for its thread (which never waits for this one).
    ~DocumentController() override;

    bool busy() const { return busy_; }
    QString currentFile() const { return currentFile_; }
    int pendingFiles() const { return int(queue_.size()); }
    double progress() const { return progress_; }
    QString progressText() const { return progressText_; }
    QStringList nameFilters() const;
    void setReadOptions(const ReadOptions& options) { readOptions_ = options; }
    // Map steps sent at once when the model is remote (a server batches them); local models
    // generate one at a time. At least 1.
    void setRemoteMapConcurrency(int n) { remoteMapConcurrency_ = std::max(1, n); }
    int remoteMapConcurrency() const { return remoteMapConcurrency_; }
    // "Summary map steps at once" for a local model: they run together through the engine's
    // batch scheduler (a backend with sequences; others take them one at a time anyway). 0 =
    // the engine's choice, the contexts its KV cache holds (ModelInfo::parallelSequences,
    // chosen from the backend and free memory), so the steps fit without waiting for blocks.
    void setLocalMapConcurrency(int n) { localMapConcurrency_ = std::max(0, n); }
    int localMapConcurrency() const { return localMapConcurrency_; }
    // What a local summary uses now (at least 1).
    int effectiveLocalMapConcurrency() const;

    // Local files (file:// URLs or paths, from a drop or a file dialog); others are reported.
    Q_INVOKABLE void addFiles(const QVariantList& urls);
    void addPaths(const QStringList& paths);
    // Stops the running summary (what was written so far stays, marked interrupted) and drops
    // the files still waiting.
    Q_INVOKABLE void cancel();

    // Prompt context for a question in a conversation: its documents' summaries (overview) and
    // the passages the question is about.
    DocumentContext contextFor(qint64 conversationId, const QString& question) const;

signals:
    void stateChanged();
    void progressChanged();
    void errorOccurred(const QString& message);   // "report.pdf: the PDF is password-protected"
    void summaryFinished(const QString& fileName, bool ok);

private:
    struct Job;
    void startNext();
    void onRead(const QString& path, const history::Result<Document>& doc);
    void beginSummary(const Document& doc, qint64 conversationId);
    void runSummary(const Document& doc, qint64 conversationId, qint64 attachmentId, const history::Message& reply);
    void addToLibrary(qint64 conversationId, const history::Attachment& attachment, const QList<Passage>& passages);
    void finishJob(const QString& fileName, bool ok);
    // The file could not be summarized: toast, notice in the open conversation (one is created
    // for a new chat), then the next file. `message` starts with the file name.
    void reportFailure(const QString& fileName, const QString& message);
    void addNotice(qint64 conversationId, const QString& message, std::function<void()> then);
    void setProgress(double value, const QString& text);
    void loadAttachments(qint64 conversationId);
    // The open chat's conversation, or the one this controller created and asked the chat to
    // open (opening is asynchronous: the next file must not create a second one meanwhile).
    qint64 targetConversation() const;
    // Shows rows just stored in a conversation: at once when it is open; when no chat is open,
    // by opening it (and showing them once it is, should its load have missed them).
    void showMessages(qint64 conversationId, const QList<history::Message>& added);

    history::HistoryStore* store_;
    chat::EngineHost* engine_;
    chat::ChatController* chat_;
    ReadOptions readOptions_;
    int remoteMapConcurrency_ = 4;
    int localMapConcurrency_ = 0;
    QStringList queue_;
    bool busy_ = false;
    QString currentFile_;
    double progress_ = 0;
    QString progressText_;
    qint64 opening_ = 0;
    QList<history::Message> toShow_;
    std::shared_ptr<std::atomic<bool>> cancel_;
    QFuture<void> work_;
    // Documents of conversations seen this session (retrieval runs on the UI thread from this
    // cache: no SQL there).
    struct Library {
        QList<history::Attachment> attachments;
        QList<Passage> passages;
    };
    QHash<qint64, Library> libraries_;
};

}  // namespace ld::documents
