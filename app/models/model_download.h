#pragma once
// One model file downloaded into the models folder: streamed into FILE.part (with a small
// FILE.part.json sidecar naming the URL, validators, and the SHA-256 and commit the server
// reported, so a later run — even after an app restart — resumes with an HTTP Range request
// of the same file), checked against the free disk space, verified with SHA-256 off the
// calling thread, and only then renamed to FILE (its record kept as FILE.download.json).
// Fully asynchronous on the thread that owns it (the UI thread or the CLI's event loop); the
// hash runs on a pool thread.
//
// Checksums: the catalog has none (the hub is not reachable when it is written), so the
// expected SHA-256 is learned at download time. Hugging Face reports it for LFS files in the
// X-Linked-Etag header of its resolve URL's answer — the 302 to its CDN, read before following
// it — together with the commit it resolved (X-Repo-Commit). A hash given in the request wins
// over the server's. When neither exists the download is kept but reported as not verified.
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
    QString sha256;              // hex; wins over the server's; empty: the server's X-Linked-Etag, if any
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

// Where the SHA-256 a download is checked against comes from.
enum class ChecksumSource {
    None,     // nobody knew it: the file is hashed (digest reported) but not verified
    Given,    // DownloadRequest::sha256 (the catalog, or --sha256 on the command line)
    Server,   // the server's X-Linked-Etag (Hugging Face's SHA-256 of an LFS file)
};

// What FOLDER/FILE.download.json says about a finished download ({} when there is none).
struct DownloadRecord {
    bool valid = false;
    QString sha256;               // the file's digest
    ChecksumSource checkedAgainst = ChecksumSource::None;
    QString commit;               // X-Repo-Commit, when reported
};

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
    // The SHA-256 the file is (or will be) checked against, and where it came from; the server's
    // becomes known once its first answer arrives.
    QString expectedSha256() const { return req_.sha256.isEmpty() ? serverSha_ : req_.sha256; }
    ChecksumSource checksumSource() const;
    QString serverSha256() const { return serverSha_; }     // X-Linked-Etag ("" when none)
    QString serverCommit() const { return serverCommit_; }  // X-Repo-Commit ("" when none)
    // One line on what the checksum check did or will do: "verified against ...",
    // "not verified: the server reported no checksum".
    QString verificationText() const;
    const DownloadRequest& request() const { return req_; }
    // True when the last start() resumed from an existing FILE.part (tests, CLI message).
    bool resumed() const { return resumedFrom_ > 0; }
    qint64 resumedFrom() const { return resumedFrom_; }

    // The file name a URL downloads to ("" when it has none usable).
    static QString fileNameForUrl(const QUrl& url);
    // Bytes a previous run left for FILE in FOLDER (0 when none).
    static qint64 partialBytes(const QString& folder, const QString& fileName);
    // The record a finished download left beside FOLDER/FILE.
    static DownloadRecord readRecord(const QString& folder, const QString& fileName);
    // The sentence verificationText() gives for a finished download checked this way.
    static QString verificationSentence(ChecksumSource source, const QString& commit);

signals:
    void progressChanged();
    void stateChanged(ld::models::DownloadState state);
    void finished(const QString& path);
    void failed(const QString& error);
    // Something the user should know that is not a failure: the partial file was discarded
    // because the server now serves another revision, or the server reports another SHA-256
    // than the one given.
    void notice(const QString& text);

private:
    void sendRequest(const QUrl& url, bool sameOrigin);
    void onMetaData();
    bool noteServerInfo(QNetworkReply* reply);
    void discardPart();
    void onReadyRead();
    void onReplyFinished();
    void startVerify();
    void fail(const QString& error, bool deletePart = false);
    void setState(DownloadState s);
    void stopReply();
    void updateRate(bool force);
    bool writeSidecar();
    void removeSidecar();
    void writeRecord();
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
    QUrl currentUrl_;            // the request in flight (after redirects) and whether it may
    bool currentSameOrigin_ = true;  // carry the token
    qint64 resumedFrom_ = 0;
    int redirects_ = 0;
    bool restartedOnce_ = false; // a 416 / mismatched Content-Range restarts from 0 only once
    bool headersHandled_ = false;
    bool aborting_ = false;      // our own abort (pause/cancel/failure): ignore the reply's error
    QString etag_, lastModified_;
    // What the server said the file is: from FILE.part.json until this run's first answer
    // reports it. The bytes in FILE.part belong to this revision.
    QString serverSha_, serverCommit_;
    bool serverInfoSeen_ = false; // this start() already compared them with the server's
    ChecksumSource verifiedWith_ = ChecksumSource::None;
    QElapsedTimer clock_;
    std::deque<std::pair<qint64, qint64>> samples_;  // (ms, received) for the rate
    qint64 lastEmitMs_ = -1000;
    QThreadPool hashPool_;       // hashing gigabytes must not hold a global pool thread
    QFutureWatcher<QString>* verify_ = nullptr;
    std::shared_ptr<std::atomic<bool>> verifyCancel_;
};

}  // namespace ld::models
