#include "app/chat/engine_tool_completion.h"

#include <QMutex>
#include <QWaitCondition>
#include <deque>

#include "app/chat/engine_host.h"
#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::chat {

namespace {

// What the UI-thread side of one request hands to the waiting worker.
struct Call {
    QMutex mutex;
    QWaitCondition wake;
    std::deque<QString> pieces;
    bool done = false;
    bool abandoned = false;  // the worker stopped waiting (cancelled): do not start it
    QString text;
    QString error;
    quint64 requestId = 0;
};

}  // namespace

EngineToolCompletion::EngineToolCompletion(EngineHost* engine, std::shared_ptr<const Tokenizer> tokenizer, int contextSize,
                                           SamplingConfig sampling, const std::atomic<bool>* cancel,
                                           std::function<void(const GenerationOutcome&)> onFinished)
    : engine_(engine), tokenizer_(std::move(tokenizer)), contextSize_(contextSize), sampling_(sampling), cancel_(cancel),
      onFinished_(std::move(onFinished)) {
    if (!tokenizer_) fail("no local model is loaded");
}

std::string EngineToolCompletion::complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& options,
                                           const std::function<void(std::string_view)>& onText) {
    GenerationRequest r;
    r.promptTokens = apply_tool_chat_template(*tokenizer_, messages, options, true);
    r.sampling = sampling_;
    r.speculate = true;  // a chat's reply (with tools): "Speed up replies" applies
    auto call = std::make_shared<Call>();
    EngineHost* engine = engine_.data();
    if (!engine) fail("the engine was closed");
    auto finish = [call](const QString& text, const QString& error) {
        QMutexLocker lock(&call->mutex);
        if (call->done) return;
        call->text = text;
        call->error = error;
        call->done = true;
        call->wake.wakeAll();
    };
    // Runs on the UI thread, where EngineHost lives; connections are made before the request
    // is queued, so no signal about it can be missed.
    QMetaObject::invokeMethod(engine, [engine, call, r, finish, report = onFinished_]() mutable {
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
        QObject::connect(engine, &EngineHost::finished, context, [call, context, finish, report](const GenerationOutcome& out) {
            if (out.id != call->requestId) return;
            if (report) report(out);
            finish(out.text, out.error);
            context->deleteLater();
        });
        QObject::connect(engine, &EngineHost::failed, context, [call, context, finish](quint64 id, const QString& error) {
            if (id != call->requestId) return;
            finish({}, error);
            context->deleteLater();
        });
        const quint64 id = engine->generate(r);
        {
            QMutexLocker lock(&call->mutex);
            call->requestId = id;
            if (call->abandoned && id) engine->stop(id);
        }
        if (!id) {
            finish({}, QStringLiteral("No model is loaded."));
            context->deleteLater();
        }
    }, Qt::QueuedConnection);

    std::string shown;  // what onText got, the reply so far when stopped
    QMutexLocker lock(&call->mutex);
    for (;;) {
        while (!call->pieces.empty()) {
            const QString piece = std::move(call->pieces.front());
            call->pieces.pop_front();
            lock.unlock();
            const QByteArray utf8 = piece.toUtf8();
            shown.append(utf8.constData(), size_t(utf8.size()));
            onText(std::string_view(utf8.constData(), size_t(utf8.size())));
            lock.relock();
        }
        if (call->done) break;
        if (cancel_ && cancel_->load()) {
            if (call->requestId) {
                const quint64 id = call->requestId;  // this request only
                QMetaObject::invokeMethod(engine, [engine, id] { engine->stop(id); }, Qt::QueuedConnection);
            }
            // The UI thread may be waiting for this thread (closing): do not wait for the
            // engine's answer once cancelled; the reply so far is what it is.
            call->abandoned = true;
            return shown;
        }
        call->wake.wait(&call->mutex, 50);
    }
    if (!call->error.isEmpty() && call->text.isEmpty()) fail(call->error.toStdString());
    return call->text.toStdString();
}

}  // namespace ld::chat
