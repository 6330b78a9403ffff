#pragma once
// The settings panel's catalog: the downloadable models (embedded catalog) with what fits this
// machine's memory, and per entry its download — start, pause, resume, cancel, progress with
// rate and time left. A FILE.part left by an earlier run (or by llamadesk-cli) shows as
// paused and resumes from where it stopped. Finished files land in the models folder, and the
// row says what each was checked against (the catalog's SHA-256, the one Hugging Face reported,
// or none: "Not verified").
#include <QAbstractListModel>
#include <QHash>
#include <QList>
#include <memory>

#include "app/models/model_catalog.h"
#include "app/models/model_download.h"

namespace ld::models {
class ModelDownload;
}

namespace ld::ui {

class CatalogModel : public QAbstractListModel {
    Q_OBJECT
    Q_PROPERTY(QString modelsFolder READ modelsFolder CONSTANT)
    Q_PROPERTY(QString memoryText READ memoryText CONSTANT)
    Q_PROPERTY(bool hasToken READ hasToken NOTIFY tokenChanged)
    Q_PROPERTY(QString catalogError READ catalogError CONSTANT)
public:
    enum Role {
        IdRole = Qt::UserRole + 1,
        NameRole,
        QuantRole,
        ParametersRole,
        FileNameRole,
        SizeRole,          // "4.9 GB" ("≈" when approximate)
        RamRole,           // "6.0 GB"
        VramRole,
        FitRole,           // "fits" | "tight" | "too_big" | "unknown"
        FitTextRole,       // sentence for the row
        LicenseRole,
        LicenseUrlRole,
        DescriptionRole,
        StateRole,         // "available" | "running" | "paused" | "verifying" | "downloaded" | "failed"
        ProgressRole,      // 0..1 (-1 unknown)
        ProgressTextRole,  // "1.2 GB of 4.9 GB · 12 MB/s · 5 min left"
        ErrorRole,
        LocalPathRole,     // the downloaded file ("" until then)
        VerifiedRole,      // downloaded and its SHA-256 matched a known one (catalog or server)
        VerificationRole,  // the sentence on that: "Verified: ..." / "Not verified: the server reported no checksum"
    };
    Q_ENUM(Role)

    // `folder`: the models folder; `memory`: this machine's (tests pass their own).
    CatalogModel(QString folder, const models::MemoryInfo& memory, QObject* parent = nullptr);
    // With given entries instead of the built-in catalog (tests: loopback URLs).
    CatalogModel(QString folder, const models::MemoryInfo& memory, QList<models::CatalogEntry> entries,
                 QObject* parent = nullptr);
    ~CatalogModel() override;

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    QString modelsFolder() const { return folder_; }
    QString memoryText() const;
    bool hasToken() const { return !token_.isEmpty(); }
    QString catalogError() const { return catalogError_; }

    Q_INVOKABLE void download(int row);   // also resumes
    Q_INVOKABLE void pause(int row);
    Q_INVOKABLE void cancel(int row);
    // Hugging Face token for gated repositories; `remember` stores it where the Hugging Face
    // tools keep theirs ($HF_HOME/token, mode 0600), empty clears it.
    Q_INVOKABLE void setToken(const QString& token, bool remember);
    // Re-reads which files are downloaded or partial (after the folder changed).
    Q_INVOKABLE void refreshLocalState();

    // Tests: the disk check every new download uses.
    void setFreeSpaceCheck(std::function<qint64(const QString&)> check) { freeSpace_ = std::move(check); }
    models::ModelDownload* downloadAt(int row) const;
    const QList<models::CatalogEntry>& entries() const { return entries_; }

    // One row's download as the table and the welcome page's offer both read it: the running
    // download's state (Idle: none this session) and what is on disk. The two views word it
    // differently (the table shows a failed download with a .part as paused, the offer as failed
    // with a retry), but from the same facts.
    struct RowStatus {
        models::DownloadState download = models::DownloadState::Idle;
        bool onDisk = false;  // FOLDER/FILE exists
        qint64 partial = 0;   // bytes in FOLDER/FILE.part
    };
    RowStatus status(int row) const;

signals:
    void tokenChanged();
    void downloaded(const QString& path);            // a file is now in the models folder
    void downloadFailed(const QString& message);     // for the toast

private:
    models::ModelDownload* ensureDownload(int row);
    void rowChanged(int row);
    // data() runs on the UI thread for every role of every row: it reads no files. What is on
    // disk is read here, when the model is built, on refreshLocalState() and when a row's
    // download changes state or is cancelled.
    struct LocalFiles {
        bool onDisk = false;
        qint64 partial = 0;
        models::DownloadRecord record;  // beside a finished file (valid = false: none)
    };
    void readLocal(int row);
    static QString tokenFilePath();

    QString folder_;
    models::MemoryInfo memory_;
    QList<models::CatalogEntry> entries_;
    QString catalogError_;
    QHash<int, models::ModelDownload*> downloads_;   // owned (children)
    QList<LocalFiles> local_;                        // per row
    QString token_;
    std::function<qint64(const QString&)> freeSpace_;
};

}  // namespace ld::ui
