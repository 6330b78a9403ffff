#pragma once
// One model file downloaded into the models folder: streamed into FILE.part (with a small
// FILE.part.json sidecar naming the URL and validators, so a later run — even after an app
// restart — resumes with an HTTP Range request), checked against the free disk space,
// verified with SHA-256 off the calling thread, and only then renamed to FILE. Fully
// asynchronous on the thread that owns it (the UI thread or the CLI's event loop); the hash
// runs on a pool thread.
//
// TLS: certificate errors are never ignored (there is no code path that calls
// ignoreSslErrors). Plain http is refused except for loopback hosts (local mirrors, tests),
// and the Hugging Face token is never sent over plain http or to another host after a redirect.
#include <QElapsedTimer>
#include <QFile>
#include <QFutureWatcher>
#include <QLockFile>
#include <QObject>
#include <QPointer>
#include <QThreadPool>
#include <QUrl>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;

namespace ld::models {

struct DownloadRequest {
    QUrl url;
    QString folder;              // where FILE lands (created when missing)
    QString fileName;            // empty: the URL's last path segment
    QString sha256;              // hex; empty: not verified (the computed digest is still reported)
    qint64 expectedSize = 0;     // 0 = unknown; lets the disk check run before the server answers
    QString token;               // Hugging Face token for gated repositories (Authorization: Bearer)
};

struct DownloadProgress {
    qint64 received = 0;         // bytes on disk, including what a previous run left in FILE.part
    qint64 total = -1;           // -1 until the server says
    double bytesPerSecond = 0;   // over the last few seconds
    qint64 secondsLeft = -1;     // -1 when unknown
};

enum class DownloadState { Idle, Running, Paused, Verifying, Finished, Failed, Cancelled };
QString stateName(DownloadState s);  // "idle", "running", ...

class ModelDownload : public QObject {
    Q_OBJECT
public:
    // Free bytes at a folder; the default asks QStorageInfo. Tests inject a small number.
    using FreeSpaceCheck = std::function<qint64(const QString& folder)>;

    explicit ModelDownload(DownloadRequest request, QObject* parent = nullptr);
    ~ModelDownload() override;  // stops the transfer, keeps FILE.part for a later resume

    void setFreeSpaceCheck(FreeSpaceCheck check) { freeSpace_ = std::move(check); }
    // A transfer that receives nothing for this long fails as a network loss (default 60 s).
    void setStallTimeoutMs(int ms) { stallTimeoutMs_ = ms; }

    // Starts, or resumes from FILE.part. Failures arrive as failed(), never as exceptions.
    void start();
    // Stops the transfer and keeps FILE.part; start() continues from it.
    void pause();
    // Stops and deletes FILE.part.
    void cancel();

    DownloadState state() const { return state_; }
    const DownloadProgress& progress() const { return progress_; }
    QString errorString() const { return error_; }
    QString finalPath() const;   // FOLDER/FILE
    QString partPath() const;    // FOLDER/FILE.part
    QString computedSha256() const { return computedSha_; }
    const DownloadRequest& request() const { return req_; }
    // True when the last start() resumed from an existing FILE.part (tests, CLI message).
    bool resumed() const { return resumedFrom_ > 0; }
    qint64 resumedFrom() const { return resumedFrom_; }

    // The file name a URL downloads to ("" when it has none usable).
    static QString fileNameForUrl(const QUrl& url);
    // Bytes a previous run left for FILE in FOLDER (0 when none).
    static qint64 partialBytes(const QString& folder, const QString& fileName);

signals:
    void progressChanged();
    void stateChanged(ld::models::DownloadState state);
    void finished(const QString& path);
    void failed(const QString& error);

private:
    void sendRequest(const QUrl& url, bool sameOrigin);
    void onMetaData();
    void onReadyRead();
    void onReplyFinished();
    void startVerify();
    void fail(const QString& error, bool deletePart = false);
    void setState(DownloadState s);
    void stopReply();
    void updateRate(bool force);
    bool writeSidecar();
    void removeSidecar();
    QString describeNetworkError(QNetworkReply* reply) const;

    DownloadRequest req_;
    FreeSpaceCheck freeSpace_;
    int stallTimeoutMs_ = 60000;
    QNetworkAccessManager* nam_ = nullptr;
    QPointer<QNetworkReply> reply_;
    QFile part_;
    std::unique_ptr<QLockFile> lock_;
    DownloadState state_ = DownloadState::Idle;
    DownloadProgress progress_;
    QString error_;
    QString computedSha_;
    qint64 offset_ = 0;          // bytes of FILE.part when the current request was sent
    qint64 resumedFrom_ = 0;
    int redirects_ = 0;
    bool restartedOnce_ = false; // a 416 / mismatched Content-Range restarts from 0 only once
    bool headersHandled_ = false;
    bool aborting_ = false;      // our own abort (pause/cancel/failure): ignore the reply's error
    QString etag_, lastModified_;
    QElapsedTimer clock_;
    std::deque<std::pair<qint64, qint64>> samples_;  // (ms, received) for the rate
    qint64 lastEmitMs_ = -1000;
    QThreadPool hashPool_;       // hashing gigabytes must not hold a global pool thread
    QFutureWatcher<QString>* verify_ = nullptr;
    std::shared_ptr<std::atomic<bool>> verifyCancel_;
};

}  // namespace ld::models
