#include "app/models/model_library.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QStorageInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "app/chat/model_info.h"

namespace ld::models {

ModelLibrary::ModelLibrary(QString folder, QObject* parent)
    : QObject(parent), folder_(QDir(folder).absolutePath()), memory_(readMemoryInfo()) {
    // Downloads grow FILE.part for minutes and copies write for seconds: wait for the folder
    // to settle instead of rescanning on every change notification.
    pool_.setMaxThreadCount(2);
    debounce_.setSingleShot(true);
    debounce_.setInterval(300);
    connect(&debounce_, &QTimer::timeout, this, &ModelLibrary::rescan);
    connect(&watcher_, &QFileSystemWatcher::directoryChanged, this, &ModelLibrary::scheduleScan);
    connect(&watcher_, &QFileSystemWatcher::fileChanged, this, &ModelLibrary::scheduleScan);
    watchFolder();
    rescan();
}

void ModelLibrary::watchFolder() {
    QDir().mkpath(folder_);
    if (!watcher_.directories().contains(folder_)) watcher_.addPath(folder_);
}

void ModelLibrary::scheduleScan() { debounce_.start(); }

void ModelLibrary::setReferences(const QStringList& files) {
    QStringList abs;
    for (const QString& f : files) abs << QFileInfo(f).absoluteFilePath();
    if (abs == references_) return;
    references_ = abs;
    emit referencesChanged(references_);
    rescan();
}

void ModelLibrary::rescan() {
    watchFolder();
    if (scanning_) {
        rescanPending_ = true;
        return;
    }
    scanning_ = true;
    auto* watcher = new QFutureWatcher<QList<LocalModel>>(this);
    connect(watcher, &QFutureWatcher<QList<LocalModel>>::finished, this, [this, watcher] {
        watcher->deleteLater();
        models_ = watcher->result();
        scanning_ = false;
        // Files referenced outside the folder are watched one by one.
        const QStringList files = watcher_.files();
        if (!files.isEmpty()) watcher_.removePaths(files);
        for (const QString& r : references_)
            if (QFileInfo::exists(r)) watcher_.addPath(r);
        emit modelsChanged();
        if (rescanPending_) {
            rescanPending_ = false;
            rescan();
        }
    });
    watcher->setFuture(QtConcurrent::run(&pool_, [folder = folder_, refs = references_, mem = memory_] {
        return scanModels(folder, refs, mem);
    }));
}

void ModelLibrary::addReference(const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    if (abs.startsWith(folder_ + QLatin1Char('/')) || references_.contains(abs)) return rescan();
    references_ << abs;
    emit referencesChanged(references_);
    rescan();
}

void ModelLibrary::addCopy(const QString& path) {
    const QFileInfo src(path);
    const QString dest = QDir(folder_).filePath(src.fileName());
    QString error;
    if (!src.isFile()) error = QStringLiteral("%1 is not a file.").arg(path);
    else if (QFileInfo::exists(dest)) error = QStringLiteral("%1 is already in the models folder.").arg(src.fileName());
    else if (const qint64 free = QStorageInfo(folder_).bytesAvailable(); free >= 0 && free < src.size())
        error = QStringLiteral("Not enough disk space to copy %1 (%2 needed, %3 free).")
                    .arg(src.fileName(), chat::formatBytes(src.size()), chat::formatBytes(free));
    if (!error.isEmpty()) {
        emit addFinished(path, error);
        return;
    }
    // Copied under a temporary name so a half-copied file never looks like a model.
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher, dest] {
        watcher->deleteLater();
        const QString err = watcher->result();
        emit addFinished(dest, err);
        rescan();
    });
    watcher->setFuture(QtConcurrent::run(&pool_, [src = src.absoluteFilePath(), dest] {
        const QString tmp = dest + QStringLiteral(".copying");
        QFile::remove(tmp);
        QFile in(src);
        if (!in.copy(tmp)) {
            QFile::remove(tmp);
            return QStringLiteral("Copying %1 failed: %2").arg(src, in.errorString());
        }
        if (!QFile::rename(tmp, dest)) {
            QFile::remove(tmp);
            return QStringLiteral("Cannot move the copy into place as %1.").arg(dest);
        }
        return QString();
    }));
}

bool ModelLibrary::remove(const QString& path, QString* error) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    if (references_.contains(abs)) {
        references_.removeAll(abs);
        emit referencesChanged(references_);
        rescan();
        return true;
    }
    if (!abs.startsWith(folder_ + QLatin1Char('/'))) {
        if (error) *error = QStringLiteral("%1 is not in the models folder.").arg(abs);
        return false;
    }
    QFile f(abs);
    if (!f.remove()) {
        if (error) *error = QStringLiteral("Cannot delete %1: %2").arg(abs, f.errorString());
        return false;
    }
    // The download's checksum record (ModelDownload's FILE.download.json) describes this file only.
    QFile::remove(abs + QStringLiteral(".download.json"));
    rescan();
    return true;
}

}  // namespace ld::models
