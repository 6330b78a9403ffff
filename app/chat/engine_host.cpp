#include "app/chat/engine_host.h"

#include "app/chat/engine_worker.h"
#include "app/chat/model_info.h"

namespace ld::chat {

EngineHost::EngineHost(QObject* parent) : QObject(parent) {
    qRegisterMetaType<EngineConfig>();
    qRegisterMetaType<GenerationRequest>();
    qRegisterMetaType<ModelInfo>();
    qRegisterMetaType<GenerationOutcome>();
    thread_.setObjectName(QStringLiteral("llamadesk-engine"));
    worker_ = new EngineWorker(&shutdown_);
    worker_->moveToThread(&thread_);
    connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
    connect(this, &EngineHost::requestLoad, worker_, &EngineWorker::loadModel, Qt::QueuedConnection);
    connect(this, &EngineHost::requestGenerate, worker_, &EngineWorker::generate, Qt::QueuedConnection);

    connect(worker_, &EngineWorker::loadProgress, this, [this](double f) {
        progress_ = f;
        emit loadProgressChanged();
    });
    connect(worker_, &EngineWorker::modelLoaded, this, [this](const ModelInfo& info) {
        info_ = info;
        if (--loading_ == 0) loadingPath_.clear();
        emit stateChanged();
        emit modelLoaded(info);
    });
    connect(worker_, &EngineWorker::modelLoadFailed, this, [this](const QString& path, const QString& error) {
        if (--loading_ == 0) loadingPath_.clear();
        emit stateChanged();
        emit modelLoadFailed(path, error);
    });
    connect(worker_, &EngineWorker::modelUnloaded, this, [this] {
        info_ = {};
        emit stateChanged();
    });
    connect(worker_, &EngineWorker::promptProgress, this, &EngineHost::promptProgress);
    connect(worker_, &EngineWorker::text, this, &EngineHost::text);
    connect(worker_, &EngineWorker::finished, this, [this](const GenerationOutcome& out) {
        pending_.remove(out.id);
        emit stateChanged();
        emit finished(out);
    });
    connect(worker_, &EngineWorker::failed, this, [this](quint64 id, const QString& error) {
        pending_.remove(id);
        emit stateChanged();
        emit failed(id, error);
    });
    thread_.start();
}

EngineHost::~EngineHost() {
    shutdown_.store(true);
    stop();
    thread_.quit();
    thread_.wait();
}

void EngineHost::load(const EngineConfig& config) {
    ++loading_;
    loadingPath_ = config.modelPath;
    progress_ = 0;
    emit loadProgressChanged();
    emit stateChanged();
    emit requestLoad(config);
}

quint64 EngineHost::generate(GenerationRequest request) {
    request.id = nextId_++;
    request.cancel = std::make_shared<std::atomic<bool>>(false);
    pending_.insert(request.id, request.cancel);
    emit stateChanged();
    emit requestGenerate(request);
    return request.id;
}

void EngineHost::stop(quint64 requestId) {
    if (const auto it = pending_.constFind(requestId); it != pending_.constEnd()) (*it)->store(true);
}

void EngineHost::stop() {
    for (const auto& flag : std::as_const(pending_)) flag->store(true);
}

QString EngineHost::modelDescription() const {
    if (info_.path.isEmpty()) return {};
    return QStringLiteral("%1 · %2 · %3 · ctx %4 · %5")
        .arg(info_.name, formatParameters(info_.parameters), info_.quantType)
        .arg(info_.contextSize)
        .arg(info_.backend);
}

}  // namespace ld::chat
