#include "ui/catalog_model.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include "app/chat/model_info.h"
#include "app/models/model_download.h"

namespace ld::ui {

using models::DownloadState;
using models::ModelDownload;

namespace {

QString duration(qint64 s) {
    if (s < 60) return QObject::tr("%1 s left").arg(s);
    if (s < 3600) return QObject::tr("%1 min left").arg((s + 59) / 60);
    return QObject::tr("%1 h %2 min left").arg(s / 3600).arg((s % 3600) / 60);
}

}  // namespace

CatalogModel::CatalogModel(QString folder, const models::MemoryInfo& memory, QObject* parent)
    : CatalogModel(std::move(folder), memory, {}, parent) {
    entries_ = models::builtinCatalog(&catalogError_);
    local_.resize(entries_.size());
    for (int row = 0; row < entries_.size(); ++row) readLocal(row);
}

CatalogModel::CatalogModel(QString folder, const models::MemoryInfo& memory, QList<models::CatalogEntry> entries, QObject* parent)
    : QAbstractListModel(parent), folder_(std::move(folder)), memory_(memory), entries_(std::move(entries)) {
    token_ = qEnvironmentVariable("HF_TOKEN");
    if (token_.isEmpty()) {
        QFile f(tokenFilePath());
        if (f.open(QIODevice::ReadOnly)) token_ = QString::fromUtf8(f.readAll()).trimmed();
    }
    local_.resize(entries_.size());
    for (int row = 0; row < entries_.size(); ++row) readLocal(row);
}

void CatalogModel::readLocal(int row) {
    if (row < 0 || row >= entries_.size()) return;
    const models::CatalogEntry& e = entries_[row];
    LocalFiles& f = local_[row];
    f.onDisk = QFileInfo::exists(QDir(folder_).filePath(e.fileName));
    f.partial = models::ModelDownload::partialBytes(folder_, e.fileName);
    f.record = f.onDisk ? models::ModelDownload::readRecord(folder_, e.fileName) : models::DownloadRecord{};
}

CatalogModel::RowStatus CatalogModel::status(int row) const {
    RowStatus st;
    if (row < 0 || row >= entries_.size()) return st;
    if (const ModelDownload* d = downloadAt(row)) st.download = d->state();
    st.onDisk = local_[row].onDisk;
    st.partial = local_[row].partial;
    return st;
}

CatalogModel::~CatalogModel() = default;  // downloads are children: stopped, .part kept

QString CatalogModel::tokenFilePath() {
    QString home = qEnvironmentVariable("HF_HOME");
    if (home.isEmpty()) home = QStandardPaths::writableLocation(QStandardPaths::GenericCacheLocation) + QStringLiteral("/huggingface");
    return home + QStringLiteral("/token");
}

void CatalogModel::setToken(const QString& token, bool remember) {
    token_ = token.trimmed();
    // Downloads started from now on send it (ensureDownload makes a fresh request per start).
    if (remember) {
        const QString path = tokenFilePath();
        if (token_.isEmpty()) {
            QFile::remove(path);
        } else {
            QDir().mkpath(QFileInfo(path).absolutePath());
            QFile f(path);
            if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
                f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
                f.write(token_.toUtf8());
            }
        }
    }
    emit tokenChanged();
}

QString CatalogModel::memoryText() const {
    if (memory_.totalBytes <= 0) return tr("This computer's memory is unknown.");
    return tr("This computer has %1 of memory (%2 free now).")
        .arg(chat::formatBytes(memory_.totalBytes), chat::formatBytes(memory_.availableBytes));
}

int CatalogModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(entries_.size()); }

ModelDownload* CatalogModel::downloadAt(int row) const { return downloads_.value(row, nullptr); }

ModelDownload* CatalogModel::ensureDownload(int row) {
    if (row < 0 || row >= entries_.size()) return nullptr;
    ModelDownload* d = downloads_.value(row, nullptr);
    const models::CatalogEntry& e = entries_[row];
    // A fresh object per start picks up the current token; the .part carries the progress.
    if (d && (d->state() == DownloadState::Running || d->state() == DownloadState::Verifying)) return d;
    if (d) d->deleteLater();
    models::DownloadRequest r;
    r.url = e.url;
    r.folder = folder_;
    r.fileName = e.fileName;
    r.sha256 = e.sha256;
    r.expectedSize = e.sizeApproximate ? 0 : e.sizeBytes;
    r.token = token_;
    d = new ModelDownload(r, this);
    if (freeSpace_) d->setFreeSpaceCheck(freeSpace_);
    downloads_.insert(row, d);
    connect(d, &ModelDownload::progressChanged, this, [this, row] { rowChanged(row); });
    connect(d, &ModelDownload::stateChanged, this, [this, row] {
        readLocal(row);  // finished, paused or cancelled: the file or its .part changed
        rowChanged(row);
    });
    connect(d, &ModelDownload::finished, this, [this](const QString& path) { emit downloaded(path); });
    connect(d, &ModelDownload::failed, this, [this, row](const QString& error) {
        emit downloadFailed(tr("Downloading %1 failed: %2").arg(entries_.value(row).fileName, error));
    });
    return d;
}

void CatalogModel::download(int row) {
    if (row < 0 || row >= entries_.size()) return;
    // Approximate catalog sizes are not passed on as expected sizes: the disk check then runs
    // on the server's exact Content-Length instead.
    if (ModelDownload* d = ensureDownload(row)) d->start();
    rowChanged(row);
}

void CatalogModel::pause(int row) {
    if (ModelDownload* d = downloadAt(row)) d->pause();
}

void CatalogModel::cancel(int row) {
    if (row < 0 || row >= entries_.size()) return;
    if (ModelDownload* d = downloadAt(row)) {
        d->cancel();
    } else {
        // A .part from an earlier run: nothing is running, just delete it.
        const QString part = QDir(folder_).filePath(entries_[row].fileName + QStringLiteral(".part"));
        QFile::remove(part);
        QFile::remove(part + QStringLiteral(".json"));
    }
    readLocal(row);
    rowChanged(row);
}

void CatalogModel::refreshLocalState() {
    for (int row = 0; row < entries_.size(); ++row) readLocal(row);
    if (!entries_.isEmpty()) emit dataChanged(index(0), index(int(entries_.size()) - 1));
}

void CatalogModel::rowChanged(int row) { emit dataChanged(index(row), index(row)); }

QVariant CatalogModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) return {};
    const int row = index.row();
    const models::CatalogEntry& e = entries_[row];
    const ModelDownload* d = downloadAt(row);
    const RowStatus st = status(row);
    const models::Fit fit = models::fitInMemory(e.ramBytes, memory_);

    auto state = [&]() -> QString {
        switch (st.download) {
        case DownloadState::Running: return QStringLiteral("running");
        case DownloadState::Paused: return QStringLiteral("paused");
        case DownloadState::Verifying: return QStringLiteral("verifying");
        case DownloadState::Failed: return st.partial > 0 ? QStringLiteral("paused") : QStringLiteral("failed");
        default: break;
        }
        if (st.onDisk) return QStringLiteral("downloaded");
        if (st.partial > 0) return QStringLiteral("paused");
        return QStringLiteral("available");
    };
    const qint64 total = d && d->progress().total > 0 ? d->progress().total : e.sizeBytes;
    const qint64 received = d && d->state() != DownloadState::Cancelled ? std::max(d->progress().received, qint64(0)) : st.partial;

    switch (role) {
    case IdRole: return e.id;
    case Qt::DisplayRole:
    case NameRole: return e.name;
    case QuantRole: return e.quant;
    case ParametersRole: return e.parameters;
    case FileNameRole: return e.fileName;
    case SizeRole: return (e.sizeApproximate ? QStringLiteral("≈ ") : QString()) + chat::formatBytes(e.sizeBytes);
    case RamRole: return chat::formatBytes(e.ramBytes);
    case VramRole: return chat::formatBytes(e.vramBytes);
    case FitRole: return models::fitName(fit);
    case FitTextRole:
        switch (fit) {
        case models::Fit::Fits: return tr("Fits this computer (needs %1 RAM, %2 VRAM on a GPU)").arg(chat::formatBytes(e.ramBytes), chat::formatBytes(e.vramBytes));
        case models::Fit::Tight: return tr("Fits, but needs %1 — close other apps first").arg(chat::formatBytes(e.ramBytes));
        case models::Fit::TooBig: return tr("Too big for this computer (needs %1 RAM)").arg(chat::formatBytes(e.ramBytes));
        case models::Fit::Unknown: return tr("Needs %1 RAM").arg(chat::formatBytes(e.ramBytes));
        }
        return {};
    case LicenseRole: return e.license;
    case LicenseUrlRole: return e.licenseUrl;
    case DescriptionRole: return e.description;
    case StateRole: return state();
    case ProgressRole: return total > 0 ? double(received) / double(total) : -1.0;
    case ProgressTextRole: {
        if (state() == QLatin1String("verifying"))
            return d && d->expectedSha256().isEmpty() ? tr("Computing the SHA-256 (not verified: the server reported no checksum)…")
                                                      : tr("Verifying the SHA-256…");
        QString t = tr("%1 of %2").arg(chat::formatBytes(received), chat::formatBytes(total));
        if (d && d->state() == DownloadState::Running) {
            if (d->progress().bytesPerSecond > 0) t += QStringLiteral(" · %1/s").arg(chat::formatBytes(qint64(d->progress().bytesPerSecond)));
            if (d->progress().secondsLeft >= 0) t += QStringLiteral(" · ") + duration(d->progress().secondsLeft);
        }
        return t;
    }
    case ErrorRole: return d && d->state() == DownloadState::Failed ? d->errorString() : QString();
    case LocalPathRole: return st.onDisk ? QDir(folder_).filePath(e.fileName) : QString();
    case VerifiedRole:
    case VerificationRole: {
        // Only a file on disk has been checked; say against what, never more than happened.
        if (!st.onDisk) return role == VerifiedRole ? QVariant(false) : QVariant(QString());
        models::ChecksumSource source = models::ChecksumSource::None;
        QString commit;
        if (d && d->state() == DownloadState::Finished) {
            source = d->checksumSource();
            commit = d->serverCommit();
        } else {
            const models::DownloadRecord& rec = local_[row].record;
            // Put there some other way (or by an older version): nothing to say about it.
            if (!rec.valid) return role == VerifiedRole ? QVariant(false) : QVariant(QString());
            source = rec.checkedAgainst;
            commit = rec.commit;
        }
        if (role == VerifiedRole) return source != models::ChecksumSource::None;
        switch (source) {
        case models::ChecksumSource::Given: return tr("Verified: the SHA-256 matches the catalog's");
        case models::ChecksumSource::Server:
            return commit.isEmpty() ? tr("Verified: the SHA-256 matches the one Hugging Face reported")
                                    : tr("Verified: the SHA-256 matches the one Hugging Face reported (commit %1)").arg(commit.left(12));
        case models::ChecksumSource::None: break;
        }
        return tr("Not verified: the server reported no checksum");
    }
    }
    return {};
}

QHash<int, QByteArray> CatalogModel::roleNames() const {
    return {{IdRole, "entryId"},          {NameRole, "name"},           {QuantRole, "quant"},
            {ParametersRole, "parameters"}, {FileNameRole, "fileName"},   {SizeRole, "size"},
            {RamRole, "ram"},             {VramRole, "vram"},           {FitRole, "fit"},
            {FitTextRole, "fitText"},     {LicenseRole, "license"},     {LicenseUrlRole, "licenseUrl"},
            {DescriptionRole, "description"}, {StateRole, "downloadState"}, {ProgressRole, "progress"},
            {ProgressTextRole, "progressText"}, {ErrorRole, "error"},   {LocalPathRole, "localPath"},
            {VerifiedRole, "verified"},   {VerificationRole, "verification"}};
}

}  // namespace ld::ui
