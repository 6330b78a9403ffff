#include "ui/first_model_offer.h"

#include <QDir>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>
#include <cmath>

#include "app/chat/model_info.h"
#include "app/models/model_download.h"
#include "ui/catalog_model.h"
#include "ui/workspace.h"

namespace ld::ui {

using models::DownloadState;
using models::ModelDownload;

FirstModelOffer::FirstModelOffer(CatalogModel* catalog, Workspace* workspace, QObject* parent)
    : QObject(parent), workspace_(workspace) {
    setCatalog(catalog);
}

void FirstModelOffer::setCatalog(CatalogModel* catalog) {
    for (const QMetaObject::Connection& c : catalogConnections_) disconnect(c);
    catalogConnections_.clear();
    catalog_ = catalog;
    loadWhenDone_ = false;
    if (catalog_) {
        // Every property is read from the catalog's row, so any change of it is a change here.
        catalogConnections_ << connect(catalog_, &CatalogModel::dataChanged, this,
                                       [this](const QModelIndex& from, const QModelIndex& to) {
                                           if (rec_.index >= from.row() && rec_.index <= to.row()) emit changed();
                                       })
                            << connect(catalog_, &CatalogModel::modelReset, this, &FirstModelOffer::recompute)
                            << connect(catalog_, &CatalogModel::downloaded, this, &FirstModelOffer::onDownloaded);
    }
    recompute();
}

void FirstModelOffer::setMachine(const models::MachineInfo& machine) {
    machineGiven_ = true;
    machine_ = machine;
    ready_ = true;
    recompute();
}

void FirstModelOffer::prepare() {
    if (ready_ || probing_) return;
    probing_ = true;
    auto* watcher = new QFutureWatcher<models::MachineInfo>(this);
    connect(watcher, &QFutureWatcher<models::MachineInfo>::finished, this, [this, watcher] {
        watcher->deleteLater();
        probing_ = false;
        if (machineGiven_) return;
        machine_ = watcher->result();
        ready_ = true;
        recompute();
    });
    watcher->setFuture(QtConcurrent::run(&models::probeMachine));
}

void FirstModelOffer::recompute() {
    rec_ = {};
    if (catalog_ && ready_) rec_ = models::recommendModel(catalog_->entries(), machine_);
    emit changed();
}

bool FirstModelOffer::available() const {
    return ready_ && catalog_ && rec_.found() && rec_.index < catalog_->entries().size();
}

QString FirstModelOffer::entryId() const { return available() ? catalog_->entries()[rec_.index].id : QString(); }
QString FirstModelOffer::name() const { return available() ? catalog_->entries()[rec_.index].name : QString(); }
QString FirstModelOffer::quant() const { return available() ? catalog_->entries()[rec_.index].quant : QString(); }
QString FirstModelOffer::description() const { return available() ? catalog_->entries()[rec_.index].description : QString(); }
QString FirstModelOffer::license() const { return available() ? catalog_->entries()[rec_.index].license : QString(); }
QString FirstModelOffer::licenseUrl() const {
    return available() ? catalog_->entries()[rec_.index].licenseUrl.toString() : QString();
}

QString FirstModelOffer::size() const {
    if (!available()) return {};
    // The catalog's sizes are within a percent of the files': no "≈" on a button, and GB with
    // one decimal down to 0.1 GB ("0.8 GB" reads better than "808.0 MB").
    const qint64 bytes = catalog_->entries()[rec_.index].sizeBytes;
    return bytes >= 100'000'000 ? QString::number(double(bytes) / 1e9, 'f', 1) + QStringLiteral(" GB") : chat::formatBytes(bytes);
}

QString FirstModelOffer::reason() const {
    if (!ready_ || !catalog_) return {};
    if (!catalog_->catalogError().isEmpty()) return tr("The model catalog could not be read: %1").arg(catalog_->catalogError());
    return rec_.reason;
}

QString FirstModelOffer::finalPath() const {
    if (!available()) return {};
    return QDir(catalog_->modelsFolder()).filePath(catalog_->entries()[rec_.index].fileName);
}

QString FirstModelOffer::state() const {
    if (!available()) return {};
    const CatalogModel::RowStatus st = catalog_->status(rec_.index);
    switch (st.download) {
    case DownloadState::Running: return QStringLiteral("downloading");
    case DownloadState::Verifying: return QStringLiteral("verifying");
    case DownloadState::Failed: return QStringLiteral("failed");
    case DownloadState::Cancelled: return QStringLiteral("cancelled");
    default: break;
    }
    if (st.onDisk) return QStringLiteral("downloaded");
    if (st.partial > 0) return QStringLiteral("paused");
    return QStringLiteral("available");
}

QString FirstModelOffer::actionText() const {
    const QString s = state();
    if (s.isEmpty()) return {};
    if (s == QLatin1String("downloaded")) return tr("Load %1").arg(name());
    if (s == QLatin1String("failed") || s == QLatin1String("cancelled")) return tr("Retry");
    if (s == QLatin1String("paused")) {
        const double p = progress();
        return p > 0 ? tr("Resume downloading %1 (%2% done)").arg(name()).arg(int(std::floor(p * 100)))
                     : tr("Resume downloading %1").arg(name());
    }
    return tr("Download %1 (%2)").arg(name(), size());
}

double FirstModelOffer::progress() const {
    if (!available()) return -1;
    return catalog_->data(catalog_->index(rec_.index), CatalogModel::ProgressRole).toDouble();
}

QString FirstModelOffer::progressText() const {
    if (!available()) return {};
    const QString text = catalog_->data(catalog_->index(rec_.index), CatalogModel::ProgressTextRole).toString();
    if (state() == QLatin1String("verifying")) return text;
    const double p = progress();
    return p >= 0 ? QStringLiteral("%1% · %2").arg(int(std::floor(std::min(p, 1.0) * 100))).arg(text) : text;
}

QString FirstModelOffer::error() const {
    if (!available()) return {};
    const ModelDownload* d = catalog_->downloadAt(rec_.index);
    if (!d) return {};
    if (d->state() == DownloadState::Failed) return tr("The download failed: %1").arg(d->errorString());
    if (d->state() == DownloadState::Cancelled) return tr("The download was cancelled.");
    return {};
}

void FirstModelOffer::start() {
    if (!available()) return;
    if (state() == QLatin1String("downloaded")) {
        // Nothing to fetch (an earlier download, or the catalog dialog's): load it.
        loadWhenDone_ = false;
        emit loadRequested(finalPath());
        if (workspace_) workspace_->selectModel(finalPath());
        return;
    }
    loadWhenDone_ = true;
    catalog_->download(rec_.index);  // also resumes a FILE.part; emits dataChanged
}

void FirstModelOffer::cancel() {
    if (!available()) return;
    loadWhenDone_ = false;
    catalog_->cancel(rec_.index);
    emit changed();
}

void FirstModelOffer::onDownloaded(const QString& path) {
    if (!loadWhenDone_ || !available() || QFileInfo(path) != QFileInfo(finalPath())) return;
    loadWhenDone_ = false;
    emit loadRequested(path);
    if (workspace_) workspace_->selectModel(path);
}

}  // namespace ld::ui
