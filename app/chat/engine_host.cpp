#include "app/chat/engine_host.h"

#include "app/chat/engine_worker.h"
#include "app/chat/model_info.h"
#include "app/chat/remote_engine.h"

namespace ld::chat {

EngineHost::EngineHost(QObject* parent) : QObject(parent) {
    qRegisterMetaType<EngineConfig>();
    qRegisterMetaType<GenerationRequest>();
    qRegisterMetaType<ModelInfo>();
    qRegisterMetaType<GenerationOutcome>();
    qRegisterMetaType<SpeculationConfig>();
    thread_.setObjectName(QStringLiteral("llamadesk-engine"));
    worker_ = new EngineWorker(&shutdown_);
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(this, &EngineHost::requestLoad, worker_, &EngineWorker::loadModel, Qt::QueuedConnection);
    connect(this, &EngineHost::requestGenerate, worker_, &EngineWorker::generate, Qt::QueuedConnection);

    connect(this, &EngineHost::requestUnload, worker_, &EngineWorker::unloadModel, Qt::QueuedConnection);
    connect(this, &EngineHost::requestSpeculation, worker_, &EngineWorker::setSpeculation, Qt::QueuedConnection);
    connect(worker_, &EngineWorker::speculationChanged, this, [this](const QString& description) {
        speculation_ = description;
        emit stateChanged();
    });
    connect(worker_, &EngineWorker::speculationFailed, this, &EngineHost::speculationFailed);

    connect(worker_, &EngineWorker::loadProgress, this, [this](double f) {
        progress_ = f;
        emit loadProgressChanged();
    });
    connect(worker_, &EngineWorker::modelLoaded, this, &EngineHost::onLoaded);
    connect(worker_, &EngineWorker::modelLoadFailed, this, &EngineHost::onLoadFailed);
    connect(worker_, &EngineWorker::modelUnloaded, this, [this] {
        if (info_.isRemote()) return;  // the local model had been let go for this one anyway
        info_ = {};
        emit stateChanged();
    });
    connect(worker_, &EngineWorker::promptProgress, this, &EngineHost::promptProgress);
    connect(worker_, &EngineWorker::text, this, &EngineHost::text);
    connect(worker_, &EngineWorker::finished, this, &EngineHost::onFinished);
    connect(worker_, &EngineWorker::failed, this, &EngineHost::onFailed);

    remote_ = std::make_unique<RemoteEngine>();
    connect(remote_.get(), &RemoteEngine::modelLoaded, this, [this](const ModelInfo& info) {
        // A local model was current: free its memory (queued behind whatever it still runs).
        if (!info_.path.isEmpty() && !info_.isRemote()) emit requestUnload();
        onLoaded(info);
    });
    connect(remote_.get(), &RemoteEngine::modelLoadFailed, this, &EngineHost::onLoadFailed);
    connect(remote_.get(), &RemoteEngine::text, this, &EngineHost::text);
    connect(remote_.get(), &RemoteEngine::finished, this, &EngineHost::onFinished);
    connect(remote_.get(), &RemoteEngine::failed, this, &EngineHost::onFailed);
    thread_.start();
}

EngineHost::~EngineHost() {
    shutdown_.store(true);
    stop();
    remote_.reset();  // its thread ends within its requests' 20 ms cancel poll
    thread_.quit();
    thread_.wait();
}

void EngineHost::load(const EngineConfig& config) {
    ++loading_;
    loadingPath_ = config.isRemote() ? remoteModelKey(config.remoteEngineId, config.remoteModel) : config.modelPath;
    progress_ = 0;
    emit loadProgressChanged();
    emit stateChanged();
    if (config.isRemote()) {
        remote_->load(config);
    } else {
        speculationWanted_ = config.speculation;
        emit requestLoad(config);
    }
}

void EngineHost::setSpeculation(const SpeculationConfig& config) {
    if (config == speculationWanted_) return;
    speculationWanted_ = config;
    emit requestSpeculation(config);
}

quint64 EngineHost::generate(GenerationRequest request) {
    request.id = nextId_++;
    request.cancel = std::make_shared<std::atomic<bool>>(false);
    pending_.insert(request.id, request.cancel);
    emit stateChanged();
    if (info_.isRemote()) remote_->generate(request, info_);
    else emit requestGenerate(request);
    return request.id;
}

void EngineHost::onLoaded(const ModelInfo& info) {
    info_ = info;
    if (--loading_ == 0) loadingPath_.clear();
    emit stateChanged();
    emit modelLoaded(info);
}

void EngineHost::onLoadFailed(const QString& path, const QString& error) {
    if (--loading_ == 0) loadingPath_.clear();
    emit stateChanged();
    emit modelLoadFailed(path, error);
}

void EngineHost::onFinished(const GenerationOutcome& out) {
    pending_.remove(out.id);
    emit stateChanged();
    emit finished(out);
}

void EngineHost::onFailed(quint64 id, const QString& error) {
    pending_.remove(id);
    emit stateChanged();
    emit failed(id, error);
}

void EngineHost::stop(quint64 requestId) {
    if (const auto it = pending_.constFind(requestId); it != pending_.constEnd()) (*it)->store(true);
}

void EngineHost::stop() {
    for (const auto& flag : std::as_const(pending_)) flag->store(true);
}

QString EngineHost::modelDescription() const {
    if (info_.path.isEmpty()) return {};
    if (info_.isRemote()) return QStringLiteral("%1 · ctx %2 · %3").arg(info_.name).arg(info_.contextSize).arg(info_.backend);
    return QStringLiteral("%1 · %2 · %3 · ctx %4 · %5")
        .arg(info_.name, formatParameters(info_.parameters), info_.quantType)
        .arg(info_.contextSize)
        .arg(info_.backend);
}

}  // namespace ld::chat
