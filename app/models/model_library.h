#pragma once
// The local models: the models folder (watched, so a file copied in by hand or finished by a
// download shows up by itself) plus files the user referenced where they lie. Scans run on a
// pool thread; the list arrives with modelsChanged(). Adding copies a file into the folder
// (off the calling thread) or references it; removing deletes a file in the folder or drops a
// reference (a referenced file itself is never deleted).
#include <QFileSystemWatcher>
#include <QObject>
#include <QThreadPool>
#include <QTimer>

#include "app/models/local_models.h"

namespace ld::models {

class ModelLibrary : public QObject {
    Q_OBJECT
public:
    explicit ModelLibrary(QString folder, QObject* parent = nullptr);

    QString folder() const { return folder_; }
    const QList<LocalModel>& models() const { return models_; }
    QStringList references() const { return references_; }
    void setReferences(const QStringList& files);
    // Memory the fit checks use (tests shrink it).
    void setMemoryInfo(const MemoryInfo& m) { memory_ = m; }
    bool scanning() const { return scanning_; }

    // Rescans now (coalesced with any scan in flight).
    void rescan();
    // Copy: into the folder, reported by addFinished(); reference: listed where it lies.
    void addCopy(const QString& path);
    void addReference(const QString& path);
    // Deletes a file in the models folder, or drops a reference. false + *error when it fails.
    bool remove(const QString& path, QString* error);

signals:
    void modelsChanged();
    void referencesChanged(const QStringList& files);
    void addFinished(const QString& path, const QString& error);   // error empty on success

private:
    void scheduleScan();
    void watchFolder();

    QString folder_;
    QStringList references_;
    MemoryInfo memory_;
    QList<LocalModel> models_;
    // Scans and copies run here, not on the global pool, so a slow disk never delays other
    // parts of the app. Waited for on destruction.
    QThreadPool pool_;
    QFileSystemWatcher watcher_;
    QTimer debounce_;
    bool scanning_ = false;
    bool rescanPending_ = false;
};

}  // namespace ld::models
