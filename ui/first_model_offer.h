#pragma once
// The welcome page's one-click first model: the catalog entry models::recommendModel() picks
// for this machine, its download (through the CatalogModel, so the catalog dialog shows the
// same download and a FILE.part left by an earlier run resumes) with progress, errors and a
// retry, and the model loaded once it is on disk.
#include <QObject>
#include <QPointer>

#include "app/models/model_recommend.h"

namespace ld::ui {

class CatalogModel;
class Workspace;

class FirstModelOffer : public QObject {
    Q_OBJECT
    // False until this machine has been looked at (prepare()).
    Q_PROPERTY(bool ready READ ready NOTIFY changed)
    // A catalog entry fits this machine.
    Q_PROPERTY(bool available READ available NOTIFY changed)
    Q_PROPERTY(QString entryId READ entryId NOTIFY changed)
    Q_PROPERTY(QString name READ name NOTIFY changed)          // "Llama 3.2 3B Instruct"
    Q_PROPERTY(QString quant READ quant NOTIFY changed)        // "Q4_K_M"
    Q_PROPERTY(QString size READ size NOTIFY changed)          // "2.0 GB"
    Q_PROPERTY(QString description READ description NOTIFY changed)
    Q_PROPERTY(QString license READ license NOTIFY changed)
    Q_PROPERTY(QString licenseUrl READ licenseUrl NOTIFY changed)
    // Why this model, or why none fits.
    Q_PROPERTY(QString reason READ reason NOTIFY changed)
    // "available" | "downloading" | "verifying" | "paused" | "failed" | "cancelled" | "downloaded"
    // ("" while nothing is offered).
    Q_PROPERTY(QString state READ state NOTIFY changed)
    // The main button: "Download Llama 3.2 3B Instruct (2.0 GB)", "Resume…", "Retry", "Load…".
    Q_PROPERTY(QString actionText READ actionText NOTIFY changed)
    Q_PROPERTY(double progress READ progress NOTIFY changed)   // 0..1, -1 unknown
    // "37% · 740 MB of 2.0 GB · 12.0 MB/s · 2 min left"
    Q_PROPERTY(QString progressText READ progressText NOTIFY changed)
    Q_PROPERTY(QString error READ error NOTIFY changed)
public:
    // `workspace` loads the finished file (null in tests that only watch loadRequested()).
    FirstModelOffer(CatalogModel* catalog, Workspace* workspace, QObject* parent = nullptr);

    bool ready() const { return ready_; }
    bool available() const;
    QString entryId() const;
    QString name() const;
    QString quant() const;
    QString size() const;
    QString description() const;
    QString license() const;
    QString licenseUrl() const;
    QString reason() const;
    QString state() const;
    QString actionText() const;
    double progress() const;
    QString progressText() const;
    QString error() const;
    const models::Recommendation& recommendation() const { return rec_; }

    // Looks at this machine (RAM, GPUs) on a pool thread, once; the page calls it when shown,
    // so a start that loads a saved model creates no Vulkan instance for nothing.
    Q_INVOKABLE void prepare();
    // Downloads (or resumes, or retries) the offered model and loads it when it is on disk;
    // when it already is, loads it.
    Q_INVOKABLE void start();
    // Stops the download and deletes its FILE.part.
    Q_INVOKABLE void cancel();

    // Tests: a given machine instead of this one (a probe still running is then ignored), and
    // another catalog (with loopback URLs).
    void setMachine(const models::MachineInfo& machine);
    void setCatalog(CatalogModel* catalog);

signals:
    void changed();
    // The offered file is on disk after start(): it is being loaded.
    void loadRequested(const QString& path);

private:
    void recompute();
    void onDownloaded(const QString& path);
    QString finalPath() const;

    QPointer<CatalogModel> catalog_;
    QPointer<Workspace> workspace_;
    QList<QMetaObject::Connection> catalogConnections_;
    models::MachineInfo machine_;
    models::Recommendation rec_;
    bool ready_ = false;
    bool probing_ = false;
    bool machineGiven_ = false;
    bool loadWhenDone_ = false;
};

}  // namespace ld::ui
