#pragma once
// The UI thread's handle on the engine: starts the engine thread, forwards requests to the
// EngineWorker as queued calls and mirrors its state in properties (for QML). Never blocks.
// A remote model (EngineConfig::isRemote) goes to a RemoteEngine instead, on its own thread,
// with the same signals: callers do not tell the two apart. A request goes to the model that
// is current when it is made, the one its reply is recorded with.
#include <QHash>
#include <QObject>
#include <QThread>
#include <atomic>
#include <memory>

#include "app/chat/chat_types.h"

namespace ld::chat {

class EngineWorker;
class RemoteEngine;

class EngineHost : public QObject {
    Q_OBJECT
    Q_PROPERTY(bool loading READ loading NOTIFY stateChanged)
    Q_PROPERTY(bool modelReady READ modelReady NOTIFY stateChanged)
    Q_PROPERTY(bool generating READ generating NOTIFY stateChanged)
    Q_PROPERTY(double loadProgress READ loadProgress NOTIFY loadProgressChanged)
    Q_PROPERTY(QString loadingPath READ loadingPath NOTIFY stateChanged)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY stateChanged)
    Q_PROPERTY(QString modelName READ modelName NOTIFY stateChanged)
    Q_PROPERTY(QString modelDescription READ modelDescription NOTIFY stateChanged)
    Q_PROPERTY(int contextSize READ contextSize NOTIFY stateChanged)
    Q_PROPERTY(bool modelRemote READ modelRemote NOTIFY stateChanged)
    // What speeds the local model's replies up ("prompt lookup", "draft model …"; empty: nothing).
    Q_PROPERTY(QString speculation READ speculation NOTIFY stateChanged)
public:
    explicit EngineHost(QObject* parent = nullptr);
    ~EngineHost() override;  // cancels generation and joins the engine thread

    // Loads in the background; the current model stays until the new one is ready. Once a
    // remote model is ready, the local one is unloaded: its memory is what a machine that
    // needs a remote engine lacks, and switching back reloads it from the file.
    void load(const EngineConfig& config);
    // "Speed up replies" changed: the local engine builds the new drafter once its running
    // requests end (a load brings its own, EngineConfig::speculation). The same setting again
    // does nothing, so a draft model is not reloaded when other settings change.
    void setSpeculation(const SpeculationConfig& config);
    // Queues a request; returns its id (0 when no model is loaded: failed() follows).
    quint64 generate(GenerationRequest request);
    // Stops one request before its next token (or prompt chunk): within ~100 ms once it runs;
    // a queued one ends, cancelled, as soon as it is reached. Other requests go on.
    void stop(quint64 requestId);
    // Stops every request queued or running (for shutdown and model switches).
    Q_INVOKABLE void stop();

    bool loading() const { return loading_ > 0; }
    bool modelReady() const { return !info_.path.isEmpty(); }
    bool modelRemote() const { return info_.isRemote(); }
    bool generating() const { return !pending_.isEmpty(); }
    double loadProgress() const { return progress_; }
    QString loadingPath() const { return loadingPath_; }
    QString modelPath() const { return info_.path; }
    QString modelName() const { return info_.name; }
    QString modelDescription() const;
    int contextSize() const { return info_.contextSize; }
    QString speculation() const { return speculation_; }
    const ModelInfo& modelInfo() const { return info_; }

signals:
    void stateChanged();
    void loadProgressChanged();
    void modelLoaded(const ld::chat::ModelInfo& info);
    void modelLoadFailed(const QString& path, const QString& error);
    void promptProgress(quint64 requestId, int done, int total);
    void text(quint64 requestId, const QString& piece);
    void finished(const ld::chat::GenerationOutcome& outcome);
    void failed(quint64 requestId, const QString& error);
    // The draft model cannot be used (EngineWorker::speculationFailed); replies go on without it.
    void speculationFailed(const QString& error);

    // To the worker (queued).
    void requestLoad(const ld::chat::EngineConfig& config);
    void requestGenerate(const ld::chat::GenerationRequest& request);
    void requestUnload();
    void requestSpeculation(const ld::chat::SpeculationConfig& config);

private:
    // The worker's and the remote engine's signals, handled alike.
    void onLoaded(const ModelInfo& info);
    void onLoadFailed(const QString& path, const QString& error);
    void onFinished(const GenerationOutcome& out);
    void onFailed(quint64 id, const QString& error);

    QThread thread_;
    EngineWorker* worker_ = nullptr;
    std::unique_ptr<RemoteEngine> remote_;
    std::atomic<bool> shutdown_{false};  // stops whatever runs when the host goes away
    ModelInfo info_;
    SpeculationConfig speculationWanted_;  // as last sent to the worker
    QString speculation_;                  // what the worker has built
    int loading_ = 0;           // loads queued or running
    QString loadingPath_;
    double progress_ = 0;
    quint64 nextId_ = 1;
    // Requests queued or running, with their stop flags; removed on finished/failed.
    QHash<quint64, std::shared_ptr<std::atomic<bool>>> pending_;
};

}  // namespace ld::chat
