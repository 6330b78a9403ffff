#include "app/documents/engine_completion.h"

#include <QMutex>
#include <QWaitCondition>
#include <deque>

#include "app/chat/engine_host.h"
#include "inference/chat/chat_format.h"
#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::documents {

namespace {

// What the UI-thread side of one request hands to the waiting worker.
struct Call {
    QMutex mutex;
    QWaitCondition wake;
    std::deque<QString> pieces;
    bool done = false;
    bool abandoned = false;   // the worker stopped waiting (cancelled): do not start it
    CompletionResult result;
    quint64 requestId = 0;
};

}  // namespace

EngineCompletion::EngineCompletion(chat::EngineHost* engine, std::shared_ptr<const Tokenizer> tokenizer, int contextSize)
    : engine_(engine), tokenizer_(std::move(tokenizer)), contextSize_(contextSize) {
    if (!tokenizer_) fail("no model is loaded");
    const ChatTemplate tmpl = detect_chat_template(tokenizer_->vocab(), "llama");
    overhead_ = int(apply_chat_template(tmpl, *tokenizer_, {{"system", ""}, {"user", ""}}, true).size());
}

EngineCompletion::~EngineCompletion() = default;

int EngineCompletion::countTokens(const QString& text) const {
    return int(tokenizer_->encode(text.toStdString(), false).size());
}

CompletionResult EngineCompletion::complete(const CompletionRequest& request,
                                            const std::function<void(const QString&)>& onText,
                                            const std::atomic<bool>* cancel) {
    auto call = std::make_shared<Call>();
    chat::GenerationRequest r;
    if (!request.system.isEmpty()) r.messages.append({QStringLiteral("system"), request.system});
    r.messages.append({QStringLiteral("user"), request.user});
    r.sampling.temperature = 0.2;
    r.sampling.topK = 40;
    r.sampling.topP = 0.9;
    r.sampling.minP = 0.05;
    r.sampling.repeatPenalty = 1.1;
    r.sampling.maxTokens = request.maxTokens;
    r.sampling.seed = 1234;
    // A summary runs behind the chat: an engine that runs requests together serves a chat reply
    // or a title first, and the summary's calls (map steps several at once) with what is left.
    r.priority = chat::GenerationPriority::Background;

    auto finish = [call](CompletionResult res) {
        QMutexLocker lock(&call->mutex);
        if (call->done) return;
        call->result = std::move(res);
        call->done = true;
        call->wake.wakeAll();
    };
    chat::EngineHost* engine = engine_.data();
    if (!engine) return CompletionResult{{}, false, QStringLiteral("the engine was closed"), 0, 0};
    // Runs on the UI thread, where EngineHost lives; connections are made before the request
    // is queued, so no signal about it can be missed.
    QMetaObject::invokeMethod(engine, [engine, call, r, finish]() mutable {
        {
            QMutexLocker lock(&call->mutex);
            if (call->abandoned) return;
        }
        auto* context = new QObject(engine);
        QObject::connect(engine, &chat::EngineHost::text, context, [call](quint64 id, const QString& piece) {
            QMutexLocker lock(&call->mutex);
            if (id != call->requestId) return;
            call->pieces.push_back(piece);
            call->wake.wakeAll();
        });
        QObject::connect(engine, &chat::EngineHost::finished, context, [call, context, finish](const chat::GenerationOutcome& out) {
            if (out.id != call->requestId) return;
            finish(CompletionResult{out.text, out.cancelled, {}, out.promptTokens, out.genTokens});
            context->deleteLater();
        });
        QObject::connect(engine, &chat::EngineHost::failed, context, [call, context, finish](quint64 id, const QString& error) {
            if (id != call->requestId) return;
            finish(CompletionResult{{}, false, error, 0, 0});
            context->deleteLater();
        });
        const quint64 id = engine->generate(r);
        {
            QMutexLocker lock(&call->mutex);
            call->requestId = id;
            // Cancelled between the check above and now: the waiting side never saw the id.
            if (call->abandoned && id) engine->stop(id);
        }
        if (!id) {  // no model: failed() with id 0 follows, but say it plainly here
            finish(CompletionResult{{}, false, QStringLiteral("No model is loaded."), 0, 0});
            context->deleteLater();
        }
    }, Qt::QueuedConnection);

    bool stopSent = false;
    QMutexLocker lock(&call->mutex);
    for (;;) {
        while (!call->pieces.empty()) {
            const QString piece = std::move(call->pieces.front());
            call->pieces.pop_front();
            lock.unlock();
            if (onText) onText(piece);
            lock.relock();
        }
        if (call->done) break;
        if (cancel && cancel->load()) {
            if (!stopSent && call->requestId) {
                stopSent = true;
                // This request only: a chat reply may be queued or running beside it.
                const quint64 id = call->requestId;
                QMetaObject::invokeMethod(engine, [engine, id] { engine->stop(id); }, Qt::QueuedConnection);
            }
            // The UI thread may be waiting for this thread (closing): do not wait for the
            // engine's answer once cancelled.
            if (!engine_ || stopSent || !call->requestId) {
                call->abandoned = true;
                CompletionResult res = call->result;
                res.cancelled = true;
                return res;
            }
        }
        call->wake.wait(&call->mutex, 50);
    }
    return call->result;
}

}  // namespace ld::documents
