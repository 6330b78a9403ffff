#include "app/chat/engine_call.h"

#include <QMutex>
#include <QWaitCondition>
#include <deque>
#include <memory>

#include "app/chat/engine_host.h"

namespace ld::chat {

namespace {

// What the UI-thread side of one request hands to the waiting worker.
struct Call {
    QMutex mutex;
    QWaitCondition wake;
    std::deque<QString> pieces;
    bool done = false;
    bool abandoned = false;  // the worker stopped waiting (cancelled): do not start it
    EngineCallResult result;
    quint64 requestId = 0;
};

}  // namespace

EngineCallResult runOnEngine(EngineHost* engine, const GenerationRequest& request,
                             const std::function<void(const QString&)>& onText, const std::atomic<bool>* cancel,
                             const std::function<void(const GenerationOutcome&)>& onFinished) {
    auto call = std::make_shared<Call>();
    auto finish = [call](EngineCallResult res) {
        QMutexLocker lock(&call->mutex);
        if (call->done) return;
        call->result = std::move(res);
        call->done = true;
        call->wake.wakeAll();
    };
    // Runs on the UI thread, where EngineHost lives; connections are made before the request
    // is queued, so no signal about it can be missed.
    QMetaObject::invokeMethod(engine, [engine, call, request, finish, onFinished]() mutable {
        {
            QMutexLocker lock(&call->mutex);
            if (call->abandoned) return;
        }
        auto* context = new QObject(engine);
        QObject::connect(engine, &EngineHost::text, context, [call](quint64 id, const QString& piece) {
            QMutexLocker lock(&call->mutex);
            if (id != call->requestId) return;
            call->pieces.push_back(piece);
            call->wake.wakeAll();
        });
        QObject::connect(engine, &EngineHost::finished, context,
                         [call, context, finish, onFinished](const GenerationOutcome& out) {
            if (out.id != call->requestId) return;
            if (onFinished) onFinished(out);
            finish(EngineCallResult{out, {}});
            context->deleteLater();
        });
        QObject::connect(engine, &EngineHost::failed, context, [call, context, finish](quint64 id, const QString& error) {
            if (id != call->requestId) return;
            finish(EngineCallResult{{}, error});
            context->deleteLater();
        });
        const quint64 id = engine->generate(std::move(request));
        {
            QMutexLocker lock(&call->mutex);
            call->requestId = id;
            // Cancelled between the check above and now: the waiting side never saw the id.
            if (call->abandoned && id) engine->stop(id);
        }
        if (!id) {  // no model: failed() with id 0 follows, but say it plainly here
            finish(EngineCallResult{{}, QStringLiteral("No model is loaded.")});
            context->deleteLater();
        }
    }, Qt::QueuedConnection);

    QString shown;  // what onText got: the reply so far when stopped
    QMutexLocker lock(&call->mutex);
    for (;;) {
        while (!call->pieces.empty()) {
            const QString piece = std::move(call->pieces.front());
            call->pieces.pop_front();
            lock.unlock();
            shown += piece;
            if (onText) onText(piece);
            lock.relock();
        }
        if (call->done) break;
        if (cancel && cancel->load()) {
            if (call->requestId) {
                const quint64 id = call->requestId;  // this request only: a chat reply may run beside it
                QMetaObject::invokeMethod(engine, [engine, id] { engine->stop(id); }, Qt::QueuedConnection);
            }
            // The UI thread may be waiting for this thread (closing): do not wait for the
            // engine's answer once cancelled; the reply so far is what it is.
            call->abandoned = true;
            EngineCallResult res;
            res.outcome.id = call->requestId;
            res.outcome.text = shown;
            res.outcome.cancelled = true;
            res.outcome.stopReason = QStringLiteral("cancelled");
            return res;
        }
        call->wake.wait(&call->mutex, 50);
    }
    return call->result;
}

}  // namespace ld::chat
