#include "app/models/model_download.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QStorageInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "app/chat/model_info.h"

namespace ld::models {

namespace {

// Free space kept beyond the file itself, so a download never fills the disk to the last byte.
constexpr qint64 kDiskMargin = 64ll << 20;

bool isLoopback(const QUrl& url) {
    const QString host = url.host();
    if (host.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0) return true;
    const QHostAddress a(host);
    return !a.isNull() && a.isLoopback();
}

bool allowedScheme(const QUrl& url) {
    return url.scheme() == QLatin1String("https") || (url.scheme() == QLatin1String("http") && isLoopback(url));
}

QString sidecarPath(const QString& part) { return part + QStringLiteral(".json"); }
QString recordPath(const QString& finalPath) { return finalPath + QStringLiteral(".download.json"); }

bool isSha256(const QString& hex) {
    static const QRegularExpression re(QStringLiteral("^[0-9a-f]{64}$"));
    return re.match(hex).hasMatch();
}

// X-Linked-Etag is a quoted entity tag; for an LFS file it is the file's SHA-256. Anything
// else (a git blob's SHA-1 for a small file, a CDN's opaque tag) is not a checksum we can use.
QString linkedSha256(const QByteArray& header) {
    QString v = QString::fromLatin1(header).trimmed();
    if (v.startsWith(QLatin1String("W/"))) v.remove(0, 2);
    if (v.size() >= 2 && v.startsWith(QLatin1Char('"')) && v.endsWith(QLatin1Char('"'))) v = v.mid(1, v.size() - 2);
    v = v.toLower();
    return isSha256(v) ? v : QString();
}

QString sourceName(ChecksumSource s) {
    switch (s) {
    case ChecksumSource::Given: return QStringLiteral("given");
    case ChecksumSource::Server: return QStringLiteral("server");
    case ChecksumSource::None: break;
    }
    return QStringLiteral("none");
}

// SHA-256 of a file, read in 4 MiB slices; empty when cancelled or unreadable.
QString hashFile(const QString& path, std::shared_ptr<std::atomic<bool>> cancel, QString* error) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = f.errorString();
        return {};
    }
    QCryptographicHash h(QCryptographicHash::Sha256);
    QByteArray buf(4 << 20, Qt::Uninitialized);
    for (;;) {
        if (cancel->load()) return {};
        const qint64 n = f.read(buf.data(), buf.size());
        if (n < 0) {
            *error = f.errorString();
            return {};
        }
        if (n == 0) break;
        h.addData(QByteArrayView(buf.constData(), n));
    }
    return QString::fromLatin1(h.result().toHex());
}

}  // namespace

QString stateName(DownloadState s) {
    switch (s) {
    case DownloadState::Idle: return QStringLiteral("idle");
    case DownloadState::Running: return QStringLiteral("running");
    case DownloadState::Paused: return QStringLiteral("paused");
    case DownloadState::Verifying: return QStringLiteral("verifying");
    case DownloadState::Finished: return QStringLiteral("finished");
    case DownloadState::Failed: return QStringLiteral("failed");
    case DownloadState::Cancelled: return QStringLiteral("cancelled");
    }
    return {};
}

ModelDownload::ModelDownload(DownloadRequest request, QObject* parent)
    : QObject(parent), req_(std::move(request)), nam_(new QNetworkAccessManager(this)) {
    if (req_.fileName.isEmpty()) req_.fileName = fileNameForUrl(req_.url);
    req_.sha256 = req_.sha256.trimmed().toLower();
    freeSpace_ = [](const QString& folder) { return QStorageInfo(folder).bytesAvailable(); };
    // Redirects are followed by hand so the token never leaves the original host.
    nam_->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
    hashPool_.setMaxThreadCount(1);
}

ModelDownload::~ModelDownload() {
    if (verifyCancel_) verifyCancel_->store(true);
    stopReply();
}

QString ModelDownload::fileNameForUrl(const QUrl& url) {
    QString name = url.fileName(QUrl::FullyDecoded);
    // No path tricks and no hidden files: the name lands inside the models folder.
    name.remove(QLatin1Char('/')).remove(QLatin1Char('\\'));
    while (name.startsWith(QLatin1Char('.'))) name.remove(0, 1);
    return name;
}

qint64 ModelDownload::partialBytes(const QString& folder, const QString& fileName) {
    const QFileInfo fi(QDir(folder).filePath(fileName + QStringLiteral(".part")));
    return fi.exists() ? fi.size() : 0;
}

DownloadRecord ModelDownload::readRecord(const QString& folder, const QString& fileName) {
    const QString path = QDir(folder).filePath(fileName);
    QFile f(recordPath(path));
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QJsonObject o = QJsonDocument::fromJson(f.read(64 * 1024)).object();
    // A record left by a file that was since deleted and replaced by hand says nothing about
    // the new one; the size is a cheap way to notice (hashing gigabytes here is not).
    if (o.value(QStringLiteral("size")).toDouble(-1) != double(QFileInfo(path).size())) return {};
    DownloadRecord r;
    r.sha256 = o.value(QStringLiteral("sha256")).toString();
    if (!isSha256(r.sha256)) return {};
    const QString against = o.value(QStringLiteral("checkedAgainst")).toString();
    r.checkedAgainst = against == QLatin1String("given")    ? ChecksumSource::Given
                       : against == QLatin1String("server") ? ChecksumSource::Server
                                                            : ChecksumSource::None;
    r.commit = o.value(QStringLiteral("commit")).toString();
    r.valid = true;
    return r;
}

QString ModelDownload::verificationSentence(ChecksumSource source, const QString& commit) {
    switch (source) {
    case ChecksumSource::Given: return QStringLiteral("verified: the SHA-256 matches the expected one");
    case ChecksumSource::Server:
        return commit.isEmpty() ? QStringLiteral("verified: the SHA-256 matches the one the server reported")
                                : QStringLiteral("verified: the SHA-256 matches the one the server reported (commit %1)").arg(commit.left(12));
    case ChecksumSource::None: break;
    }
    return QStringLiteral("not verified: the server reported no checksum");
}

ChecksumSource ModelDownload::checksumSource() const {
    if (!req_.sha256.isEmpty()) return ChecksumSource::Given;
    return serverSha_.isEmpty() ? ChecksumSource::None : ChecksumSource::Server;
}

QString ModelDownload::verificationText() const {
    if (state_ == DownloadState::Finished) return verificationSentence(verifiedWith_, serverCommit_);
    switch (checksumSource()) {
    case ChecksumSource::Given: return QStringLiteral("to be verified against the expected SHA-256");
    case ChecksumSource::Server: return QStringLiteral("to be verified against the SHA-256 the server reported");
    case ChecksumSource::None: break;
    }
    // Until the server answered, it may still report one.
    return serverInfoSeen_ || headersHandled_ || state_ == DownloadState::Verifying ? verificationSentence(ChecksumSource::None, {})
                                                                                    : QString();
}

QString ModelDownload::finalPath() const { return QDir(req_.folder).filePath(req_.fileName); }
QString ModelDownload::partPath() const { return finalPath() + QStringLiteral(".part"); }

void ModelDownload::setState(DownloadState s) {
    if (state_ == s) return;
    state_ = s;
    emit stateChanged(s);
}

void ModelDownload::start() {
    if (state_ == DownloadState::Running || state_ == DownloadState::Verifying) return;
    error_.clear();
    computedSha_.clear();
    redirects_ = 0;
    restartedOnce_ = false;
    resumedFrom_ = 0;
    progress_ = {};
    samples_.clear();
    lastEmitMs_ = -1000;
    serverSha_.clear();
    serverCommit_.clear();
    serverInfoSeen_ = false;
    headersHandled_ = false;
    verifiedWith_ = ChecksumSource::None;

    if (!req_.url.isValid() || req_.url.host().isEmpty()) return fail(QStringLiteral("Invalid URL: %1").arg(req_.url.toString()));
    if (!allowedScheme(req_.url))
        return fail(QStringLiteral("Refusing %1: downloads need https (plain http only from this computer).").arg(req_.url.toDisplayString()));
    if (req_.fileName.isEmpty()) return fail(QStringLiteral("The URL %1 names no file to save.").arg(req_.url.toDisplayString()));
    if (!req_.sha256.isEmpty() && !isSha256(req_.sha256))
        return fail(QStringLiteral("The expected SHA-256 must be 64 hex digits."));
    if (!QDir().mkpath(req_.folder)) return fail(QStringLiteral("Cannot create the models folder %1.").arg(req_.folder));
    if (QFileInfo::exists(finalPath()))
        return fail(QStringLiteral("%1 already exists in %2; remove it first to download it again.").arg(req_.fileName, req_.folder));

    // Two processes (the app and llamadesk-cli) appending to one .part would corrupt it.
    lock_ = std::make_unique<QLockFile>(partPath() + QStringLiteral(".lock"));
    lock_->setStaleLockTime(0);  // only a dead owner makes it stale
    if (!lock_->tryLock(0)) {
        lock_.reset();
        return fail(QStringLiteral("%1 is already being downloaded by another LlamaDesk process.").arg(req_.fileName));
    }

    // A .part from another URL is not ours to continue.
    QFile side(sidecarPath(partPath()));
    etag_.clear();
    lastModified_.clear();
    if (side.open(QIODevice::ReadOnly)) {
        const QJsonObject o = QJsonDocument::fromJson(side.readAll()).object();
        if (o.value(QStringLiteral("url")).toString() == req_.url.toString()) {
            etag_ = o.value(QStringLiteral("etag")).toString();
            lastModified_ = o.value(QStringLiteral("lastModified")).toString();
            // The revision the bytes in FILE.part came from; the server's next answer is
            // compared with it (noteServerInfo) so two revisions are never spliced.
            serverSha_ = o.value(QStringLiteral("serverSha256")).toString();
            if (!isSha256(serverSha_)) serverSha_.clear();
            serverCommit_ = o.value(QStringLiteral("commit")).toString();
        } else {
            QFile::remove(partPath());
        }
        side.close();
    }

    part_.setFileName(partPath());
    if (!part_.open(QIODevice::ReadWrite)) return fail(QStringLiteral("Cannot write %1: %2").arg(partPath(), part_.errorString()));
    offset_ = part_.size();
    resumedFrom_ = offset_;
    progress_.received = offset_;
    if (req_.expectedSize > 0) {
        progress_.total = req_.expectedSize;
        const qint64 need = req_.expectedSize - offset_;
        const qint64 free = freeSpace_(req_.folder);
        if (need > 0 && free >= 0 && free < need + kDiskMargin)
            return fail(QStringLiteral("Not enough disk space in %1: %2 needed, %3 free.")
                            .arg(req_.folder, chat::formatBytes(need + kDiskMargin), chat::formatBytes(free)),
                        offset_ == 0);
    }
    if (!writeSidecar()) return fail(QStringLiteral("Cannot write %1.").arg(sidecarPath(partPath())));

    clock_.start();
    setState(DownloadState::Running);
    emit progressChanged();
    sendRequest(req_.url, true);
}

void ModelDownload::sendRequest(const QUrl& url, bool sameOrigin) {
    headersHandled_ = false;
    aborting_ = false;
    currentUrl_ = url;
    currentSameOrigin_ = sameOrigin;
    QNetworkRequest r(url);
    r.setTransferTimeout(stallTimeoutMs_);
    r.setHeader(QNetworkRequest::UserAgentHeader, QStringLiteral("LlamaDesk/" LLAMADESK_VERSION));
    // Byte offsets must be those of the file itself, never of a compressed stream.
    r.setRawHeader("Accept-Encoding", "identity");
    if (offset_ > 0) {
        r.setRawHeader("Range", "bytes=" + QByteArray::number(offset_) + '-');
        // The server sends the whole (new) file instead when it changed since the .part began.
        if (!etag_.isEmpty()) r.setRawHeader("If-Range", etag_.toUtf8());
        else if (!lastModified_.isEmpty()) r.setRawHeader("If-Range", lastModified_.toUtf8());
    }
    if (!req_.token.isEmpty() && sameOrigin && (url.scheme() == QLatin1String("https") || isLoopback(url)))
        r.setRawHeader("Authorization", "Bearer " + req_.token.toUtf8());
    reply_ = nam_->get(r);
    connect(reply_, &QNetworkReply::metaDataChanged, this, &ModelDownload::onMetaData);
    connect(reply_, &QNetworkReply::readyRead, this, &ModelDownload::onReadyRead);
    connect(reply_, &QNetworkReply::finished, this, &ModelDownload::onReplyFinished);
}

void ModelDownload::onMetaData() {
    if (!reply_ || headersHandled_) return;
    const int status = reply_->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0) return;
    // Hugging Face puts the checksum and commit on its 302 to the CDN: read them on any answer
    // that is not an error, before the redirect is followed.
    // (A 416 waits for finished: aborting it here would report its error twice.)
    if (status < 400 && noteServerInfo(reply_)) return;  // asked again from byte 0
    if ((status >= 300 && status < 400) || status >= 400) return;  // handled in finished
    headersHandled_ = true;

    const QByteArray etag = reply_->rawHeader("ETag");
    const QByteArray lastModified = reply_->rawHeader("Last-Modified");
    // Weak validators cannot be used with If-Range.
    etag_ = etag.startsWith("W/") ? QString() : QString::fromUtf8(etag);
    lastModified_ = QString::fromUtf8(lastModified);

    qint64 total = -1;
    if (status == 206) {
        static const QRegularExpression re(QStringLiteral("^bytes (\\d+)-(\\d+)/(\\d+|\\*)$"));
        const auto m = re.match(QString::fromLatin1(reply_->rawHeader("Content-Range")).trimmed());
        if (!m.hasMatch() || m.captured(1).toLongLong() != offset_) {
            // Not the bytes we asked for: start over from zero, once.
            if (restartedOnce_) return fail(QStringLiteral("The server sent a byte range that does not continue the partial download."), true);
            restartedOnce_ = true;
            stopReply();
            part_.resize(0);
            offset_ = 0;
            progress_.received = 0;
            sendRequest(currentUrl_, currentSameOrigin_);
            return;
        }
        if (m.captured(3) != QLatin1String("*")) total = m.captured(3).toLongLong();
    } else {
        // 200: the whole file, from byte 0 — the server ignored Range or the file changed.
        if (offset_ > 0) {
            part_.resize(0);
            offset_ = 0;
            progress_.received = 0;
            samples_.clear();
        }
        const QVariant len = reply_->header(QNetworkRequest::ContentLengthHeader);
        if (len.isValid()) total = len.toLongLong();
    }
    part_.seek(offset_);
    if (total >= 0) {
        progress_.total = total;
        const qint64 need = total - offset_;
        const qint64 free = freeSpace_(req_.folder);
        if (need > 0 && free >= 0 && free < need + kDiskMargin)
            return fail(QStringLiteral("Not enough disk space in %1: %2 needed, %3 free.")
                            .arg(req_.folder, chat::formatBytes(need + kDiskMargin), chat::formatBytes(free)),
                        offset_ == 0);
    }
    writeSidecar();
    emit progressChanged();
}

void ModelDownload::onReadyRead() {
    if (!reply_ || state_ != DownloadState::Running) return;
    if (!headersHandled_) {
        onMetaData();
        if (!headersHandled_ || !reply_ || state_ != DownloadState::Running) return;  // error body or restarted
    }
    const QByteArray data = reply_->readAll();
    if (data.isEmpty()) return;
    if (part_.write(data) != data.size()) {
        const bool full = part_.error() == QFileDevice::ResourceError;
        const QString why = full ? QStringLiteral("the disk is full") : part_.errorString();
        // The bytes written so far stay: free some space and resume.
        return fail(QStringLiteral("Writing %1 failed: %2. The partial download is kept; resume once there is room.").arg(partPath(), why));
    }
    progress_.received += data.size();
    updateRate(false);
}

void ModelDownload::updateRate(bool force) {
    const qint64 now = clock_.elapsed();
    samples_.emplace_back(now, progress_.received);
    while (samples_.size() > 2 && now - samples_.front().first > 3000) samples_.pop_front();
    const qint64 dt = now - samples_.front().first;
    if (dt > 0) progress_.bytesPerSecond = double(progress_.received - samples_.front().second) * 1000.0 / double(dt);
    progress_.secondsLeft = progress_.total > 0 && progress_.bytesPerSecond > 1
                                ? qint64(double(progress_.total - progress_.received) / progress_.bytesPerSecond)
                                : -1;
    if (force || now - lastEmitMs_ >= 100) {
        lastEmitMs_ = now;
        emit progressChanged();
    }
}

void ModelDownload::onReplyFinished() {
    QNetworkReply* reply = reply_;
    if (!reply || sender() != reply) return;
    reply->deleteLater();
    reply_ = nullptr;
    if (aborting_ || state_ != DownloadState::Running) return;

    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    // A 416, or a redirect whose metaDataChanged did not come first.
    if (((status >= 200 && status < 400) || status == 416) && noteServerInfo(reply)) return;
    if (status >= 300 && status < 400 && status != 304) {
        const QUrl location = QUrl::fromEncoded(reply->rawHeader("Location").trimmed());
        if (location.isEmpty() || !location.isValid())
            return fail(QStringLiteral("The server redirected without a location (HTTP %1).").arg(status));
        const QUrl target = reply->url().resolved(location);
        if (++redirects_ > 10) return fail(QStringLiteral("Too many redirects for %1.").arg(req_.url.toDisplayString()));
        if (!allowedScheme(target))
            return fail(QStringLiteral("Refusing a redirect to %1: downloads need https.").arg(target.toDisplayString()));
        const bool sameOrigin = target.scheme() == req_.url.scheme() && target.host() == req_.url.host() &&
                                target.port(-1) == req_.url.port(-1);
        return sendRequest(target, sameOrigin);
    }
    if (status == 416 && offset_ > 0) {
        // Nothing left after our offset: either the .part is already complete or it is longer
        // than the file (it changed). Verify in the first case, start over in the second.
        static const QRegularExpression re(QStringLiteral("^bytes \\*/(\\d+)$"));
        const auto m = re.match(QString::fromLatin1(reply->rawHeader("Content-Range")).trimmed());
        if (m.hasMatch() && m.captured(1).toLongLong() == offset_) {
            progress_.total = offset_;
            return startVerify();
        }
        if (restartedOnce_) return fail(QStringLiteral("The server refused every byte range (HTTP 416)."), true);
        restartedOnce_ = true;
        part_.resize(0);
        offset_ = 0;
        progress_.received = 0;
        return sendRequest(req_.url, true);
    }
    if (status == 401 || status == 403) {
        return fail(req_.token.isEmpty()
                        ? QStringLiteral("Access denied (HTTP %1): this model needs a Hugging Face token (Settings), and its license accepted on the model page.").arg(status)
                        : QStringLiteral("Access denied (HTTP %1): the Hugging Face token was refused, or the model's license is not accepted on its page.").arg(status));
    }
    if (status == 404) return fail(QStringLiteral("Not found (HTTP 404): %1").arg(req_.url.toDisplayString()));
    if (status >= 400)
        return fail(QStringLiteral("The server answered HTTP %1 %2 for %3.")
                        .arg(status)
                        .arg(reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString(), req_.url.toDisplayString()));
    if (reply->error() != QNetworkReply::NoError) return fail(describeNetworkError(reply));
    if (status != 200 && status != 206) return fail(QStringLiteral("Unexpected answer from the server (HTTP %1).").arg(status));

    // Qt hands out the last bytes before finished(); take any that are left.
    if (reply->bytesAvailable() > 0) {
        reply_ = reply;
        onReadyRead();
        reply_ = nullptr;
        if (state_ != DownloadState::Running) return;
    }
    if (!part_.flush()) return fail(QStringLiteral("Writing %1 failed: %2").arg(partPath(), part_.errorString()));
    if (progress_.total >= 0 && progress_.received != progress_.total)
        return fail(QStringLiteral("The connection ended early (%1 of %2). The partial download is kept; resume to continue.")
                        .arg(chat::formatBytes(progress_.received), chat::formatBytes(progress_.total)));
    progress_.total = progress_.received;
    startVerify();
}

QString ModelDownload::describeNetworkError(QNetworkReply* reply) const {
    const QString where = progress_.total > 0 ? QStringLiteral(" after %1 of %2").arg(chat::formatBytes(progress_.received), chat::formatBytes(progress_.total))
                                              : QString();
    switch (reply->error()) {
    case QNetworkReply::SslHandshakeFailedError:
        return QStringLiteral("Secure connection to %1 failed: %2 (certificates are always verified).").arg(reply->url().host(), reply->errorString());
    case QNetworkReply::HostNotFoundError:
        return QStringLiteral("Cannot reach %1: host not found (offline?).").arg(reply->url().host());
    case QNetworkReply::ConnectionRefusedError:
        return QStringLiteral("Cannot reach %1: connection refused.").arg(reply->url().host());
    case QNetworkReply::OperationCanceledError:
    case QNetworkReply::TimeoutError:
        return QStringLiteral("The network connection stalled%1. The partial download is kept; resume to continue.").arg(where);
    default:
        return QStringLiteral("The network connection was lost%1 (%2). The partial download is kept; resume to continue.").arg(where, reply->errorString());
    }
}

void ModelDownload::startVerify() {
    part_.close();
    setState(DownloadState::Verifying);
    emit progressChanged();
    verifyCancel_ = std::make_shared<std::atomic<bool>>(false);
    auto cancel = verifyCancel_;
    verify_ = new QFutureWatcher<QString>(this);
    auto error = std::make_shared<QString>();
    connect(verify_, &QFutureWatcher<QString>::finished, this, [this, cancel, error] {
        const QString digest = verify_->result();
        verify_->deleteLater();
        verify_ = nullptr;
        if (cancel->load() || state_ != DownloadState::Verifying) return;
        if (digest.isEmpty()) return fail(QStringLiteral("Cannot read %1 to verify it: %2").arg(partPath(), *error));
        computedSha_ = digest;
        verifiedWith_ = checksumSource();
        const QString expected = expectedSha256();
        if (!expected.isEmpty() && digest != expected)
            return fail(verifiedWith_ == ChecksumSource::Server
                            ? QStringLiteral("Checksum mismatch for %1: the server reported SHA-256 %2, the download has %3. "
                                             "The downloaded file was deleted.").arg(req_.fileName, expected, digest)
                            : QStringLiteral("Checksum mismatch for %1: expected SHA-256 %2, got %3. The downloaded file was deleted.")
                                  .arg(req_.fileName, expected, digest),
                        true);
        if (QFileInfo::exists(finalPath()) || !QFile::rename(partPath(), finalPath()))
            return fail(QStringLiteral("Cannot move the download into place as %1.").arg(finalPath()));
        writeRecord();
        removeSidecar();
        lock_.reset();
        setState(DownloadState::Finished);
        emit finished(finalPath());
    });
    verify_->setFuture(QtConcurrent::run(&hashPool_, [path = partPath(), cancel, error] { return hashFile(path, cancel, error.get()); }));
}

void ModelDownload::stopReply() {
    if (!reply_) return;
    QNetworkReply* r = reply_;
    reply_ = nullptr;
    aborting_ = true;
    r->disconnect(this);
    r->abort();
    r->deleteLater();
}

void ModelDownload::pause() {
    if (state_ != DownloadState::Running) return;
    stopReply();
    part_.close();
    lock_.reset();
    progress_.bytesPerSecond = 0;
    progress_.secondsLeft = -1;
    setState(DownloadState::Paused);
    emit progressChanged();
}

void ModelDownload::cancel() {
    if (verifyCancel_) verifyCancel_->store(true);
    stopReply();
    part_.close();
    QFile::remove(partPath());
    removeSidecar();
    lock_.reset();
    progress_ = {};
    setState(DownloadState::Cancelled);
    emit progressChanged();
}

void ModelDownload::fail(const QString& error, bool deletePart) {
    stopReply();
    part_.close();
    if (deletePart) {
        QFile::remove(partPath());
        removeSidecar();
    }
    lock_.reset();
    error_ = error;
    progress_.bytesPerSecond = 0;
    progress_.secondsLeft = -1;
    setState(DownloadState::Failed);
    emit progressChanged();
    emit failed(error);
}

bool ModelDownload::noteServerInfo(QNetworkReply* reply) {
    if (serverInfoSeen_ || !reply) return false;
    const QString sha = linkedSha256(reply->rawHeader("X-Linked-Etag"));
    const QString commit = QString::fromLatin1(reply->rawHeader("X-Repo-Commit")).trimmed();
    if (sha.isEmpty() && commit.isEmpty()) return false;
    serverInfoSeen_ = true;

    // Has the file changed since FILE.part began? The content decides when both hashes are
    // known, so a commit that left this file alone (a README edit) costs no restart; without
    // a hash on both sides the commit is all there is to go by.
    bool changed = false;
    QString what;
    if (!serverSha_.isEmpty() && !sha.isEmpty()) {
        changed = serverSha_ != sha;
        what = QStringLiteral("SHA-256 %1, now %2").arg(serverSha_.left(12), sha.left(12));
    } else if (!serverCommit_.isEmpty() && !commit.isEmpty()) {
        changed = serverCommit_ != commit;
        what = QStringLiteral("commit %1, now %2").arg(serverCommit_.left(12), commit.left(12));
    }
    if (changed || !sha.isEmpty()) serverSha_ = sha;
    if (changed || !commit.isEmpty()) serverCommit_ = commit;
    // The given hash still decides; but a catalog entry the repository has moved past will
    // fail at the end, and the user should hear why before the whole file has arrived.
    if (!req_.sha256.isEmpty() && !sha.isEmpty() && sha != req_.sha256)
        emit notice(QStringLiteral("The server reports SHA-256 %1 for %2, not the expected %3; the file is checked against the expected one.")
                        .arg(sha, req_.fileName, req_.sha256));
    if (!changed || offset_ == 0) {
        writeSidecar();
        return false;
    }

    const qint64 dropped = offset_;
    discardPart();
    emit notice(QStringLiteral("%1 changed on the server since the partial download began (%2): the %3 already downloaded "
                               "were discarded and the download starts over.")
                    .arg(req_.fileName, what, chat::formatBytes(dropped)));
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 206 || status == 416) {
        // This answer continues (or ends) the old revision's bytes: ask again from byte 0.
        stopReply();
        sendRequest(currentUrl_, currentSameOrigin_);
        return true;
    }
    // A redirect's target is now fetched from byte 0; a 200 carries the whole file anyway.
    return false;
}

void ModelDownload::discardPart() {
    part_.resize(0);
    offset_ = 0;
    resumedFrom_ = 0;
    progress_.received = 0;
    samples_.clear();
    // The old validators would let a server answer If-Range with the old revision's range.
    etag_.clear();
    lastModified_.clear();
    writeSidecar();
    emit progressChanged();
}

void ModelDownload::writeRecord() {
    // Beside the model: what it was checked against, for the catalog view after a restart. A
    // failure to write it costs only that display, never the verified download itself.
    QJsonObject o{{QStringLiteral("url"), req_.url.toString()},
                  {QStringLiteral("size"), double(QFileInfo(finalPath()).size())},
                  {QStringLiteral("sha256"), computedSha_},
                  {QStringLiteral("checkedAgainst"), sourceName(verifiedWith_)},
                  {QStringLiteral("serverSha256"), serverSha_},
                  {QStringLiteral("commit"), serverCommit_}};
    QFile f(recordPath(finalPath()));
    if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(QJsonDocument(o).toJson(QJsonDocument::Indented));
}

bool ModelDownload::writeSidecar() {
    QJsonObject o{{QStringLiteral("url"), req_.url.toString()},
                  {QStringLiteral("etag"), etag_},
                  {QStringLiteral("lastModified"), lastModified_},
                  {QStringLiteral("total"), double(progress_.total)},
                  {QStringLiteral("expectedSha256"), req_.sha256},
                  {QStringLiteral("serverSha256"), serverSha_},
                  {QStringLiteral("commit"), serverCommit_}};
    QFile f(sidecarPath(partPath()));
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
    return f.write(QJsonDocument(o).toJson(QJsonDocument::Compact)) > 0;
}

void ModelDownload::removeSidecar() { QFile::remove(sidecarPath(partPath())); }

}  // namespace ld::models
