#include "app/chat/remote_engine.h"

#include <QElapsedTimer>
#include <algorithm>

#include "app/chat/prompt_builder.h"
#include "app/remote/remote_client.h"
#include "app/remote/remote_completion.h"

namespace ld::chat {

namespace {

// Role and separator markers a chat template puts around each message (Llama 3's header is
// 4-5 tokens, ChatML's 3-4): a server does not say, so this is on the high side.
constexpr int kPerMessageTokens = 8;
// Checking a model must not hold the app's shutdown for the two-minute first-byte timeout a
// generation may need: a model list or token count answers at once when the server is up.
constexpr int kProbeTimeoutMs = 15000;

QString withoutLeadingSpace(const QString& s) {
    qsizetype i = 0;
    while (i < s.size() && s[i].isSpace()) ++i;
    return s.mid(i);
}

QString stopName(const QString& finishReason) {
    if (finishReason == QLatin1String("length")) return QStringLiteral("max_tokens");
    return QStringLiteral("end");  // "stop", "eos", "content_filter", or none said
}

QString keyOf(const ModelInfo& m) { return remoteModelKey(m.remoteEngineId, m.remoteModel); }

}  // namespace

FittedMessages fitMessages(const QList<PromptMessage>& messages, const std::function<int(const PromptMessage&)>& count,
                           int budget) {
    QList<PromptMessage> system, turns;
    for (const PromptMessage& m : messages) (m.role == QLatin1String("system") ? system : turns).append(m);
    std::vector<int> turnTokens;
    for (const PromptMessage& m : turns) turnTokens.push_back(count(m));
    int systemTokens = 0;
    for (const PromptMessage& m : system) systemTokens += count(m);
    auto tokensFrom = [&](qsizetype from) {
        int n = systemTokens;
        for (qsizetype i = from; i < turns.size(); ++i) n += turnTokens[size_t(i)];
        return n;
    };
    PromptFit cuts;  // passages and the system message shortened on the way
    auto result = [&](qsizetype from, int tokens) {
        FittedMessages out;
        static_cast<PromptFit&>(out) = cuts;
        out.messages = system + turns.mid(from);
        out.tokens = tokens;
        out.droppedMessages = int(from);
        return out;
    };
    qsizetype from = 0;
    for (;;) {
        if (const int n = tokensFrom(from); n <= budget) return result(from, n);
        if (from + 1 >= turns.size()) break;  // only the newest turn is left and it does not fit
        ++from;
        while (from + 1 < turns.size() && turns[from].role != QLatin1String("user")) ++from;
    }
    if (turns.isEmpty()) return {};
    from = turns.size() - 1;
    // As chat::buildPrompt does: the newest turn's documents' passages are shortened first,
    // from their end (least relevant last), never the user's words; then the system message
    // from its end, in quarters, before the turn is refused; then it is tried without it.
    while (shortenContext(turns.last())) {
        cuts.passagesShortened = true;
        turnTokens.back() = count(turns.last());
        if (const int n = tokensFrom(from); n <= budget) return result(from, n);
    }
    while (!system.isEmpty()) {
        cuts.systemShortened = true;
        systemTokens -= count(system.last());
        if (cutQuarter(system.last().content) && !system.last().content.isEmpty())
            systemTokens += count(system.last());
        else
            system.removeLast();
        if (const int n = tokensFrom(from); n <= budget) return result(from, n);
    }
    return {};
}

RemoteEngine::RemoteEngine(QObject* parent) : QObject(parent) {
    thread_.reset(QThread::create([this] { run(); }));
    thread_->setObjectName(QStringLiteral("llamadesk-remote"));
    thread_->start();
}

RemoteEngine::~RemoteEngine() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        quit_.store(true);
        // Queued requests are dropped: whoever waits for them is going away too.
        for (Job& j : jobs_)
            if (j.request.cancel) j.request.cancel->store(true);
        jobs_.clear();
        if (running_) running_->store(true);
    }
    wake_.notify_all();
    thread_->wait();
}

void RemoteEngine::load(const EngineConfig& config) { enqueue(Job{config, {}, {}}); }

void RemoteEngine::generate(const GenerationRequest& request, const ModelInfo& model) {
    enqueue(Job{std::nullopt, request, model});
}

void RemoteEngine::enqueue(Job job) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
}

void RemoteEngine::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return quit_.load() || !jobs_.empty(); });
            if (quit_.load()) break;
            job = std::move(jobs_.front());
            jobs_.pop_front();
            running_ = job.request.cancel;
        }
        if (job.load) runLoad(*job.load);
        else runGenerate(job.request, job.model);
        std::lock_guard<std::mutex> lock(mutex_);
        running_.reset();
    }
    opened_.reset();  // its client belongs to this thread's last use
}

remote::RemoteCompletion* RemoteEngine::modelFor(const ModelInfo& info, QString* error) {
    const QString key = keyOf(info);
    const QString url = info.remoteEndpoint.baseUrl.toString();
    if (opened_ && openedKey_ == key && openedUrl_ == url) return opened_.get();
    remote::RemoteEndpoint probe = info.remoteEndpoint;
    probe.firstByteTimeoutMs = std::min(probe.firstByteTimeoutMs, kProbeTimeoutMs);
    probe.idleTimeoutMs = std::min(probe.idleTimeoutMs, kProbeTimeoutMs);
    opened_ = remote::RemoteCompletion::open(probe, info.remoteModel, {}, error);
    openedKey_ = opened_ ? key : QString();
    openedUrl_ = opened_ ? url : QString();
    return opened_.get();
}

void RemoteEngine::runLoad(const EngineConfig& config) {
    ModelInfo info;
    info.path = remoteModelKey(config.remoteEngineId, config.remoteModel);
    info.name = QStringLiteral("%1 / %2").arg(config.remoteEngineName, config.remoteModel);
    info.remoteEngineId = config.remoteEngineId;
    info.remoteEngineName = config.remoteEngineName;
    info.remoteModel = config.remoteModel;
    info.remoteEndpoint = config.remoteEndpoint;
    opened_.reset();  // a load checks the server again (the user may have just started it)
    QString error;
    const remote::RemoteCompletion* c = modelFor(info, &error);
    if (!c) {
        emit modelLoadFailed(info.path, QStringLiteral("%1: %2").arg(config.remoteEngineName, error));
        return;
    }
    info.contextLength = c->contextSize();
    info.contextSize = c->contextSize();
    info.chatTemplate = QStringLiteral("server");
    info.backend = QStringLiteral("remote at %1%2")
                       .arg(config.remoteEndpoint.baseUrl.toDisplayString(),
                            c->usesServerTokenizer() ? QString() : QStringLiteral(", tokens estimated"));
    emit modelLoaded(info);
}

void RemoteEngine::runGenerate(const GenerationRequest& request, const ModelInfo& model) {
    const quint64 id = request.id;
    const std::atomic<bool>* cancel = request.cancel ? request.cancel.get() : &quit_;
    const QString& engineName = model.remoteEngineName;
    GenerationOutcome out;
    out.id = id;
    if (cancel->load()) {
        out.stopReason = QStringLiteral("cancelled");
        out.cancelled = true;
        emit finished(out);
        return;
    }
    // A prompt rendered to local tokens (the tool format) means nothing to a remote server.
    if (!request.promptTokens.empty()) {
        emit failed(id, QStringLiteral("%1 is a remote model: chats with tools need a local model.").arg(model.name));
        return;
    }
    QString error;
    remote::RemoteCompletion* c = modelFor(model, &error);
    if (!c) {
        emit failed(id, QStringLiteral("%1: %2").arg(engineName, error));
        return;
    }
    const int nCtx = c->contextSize();
    // Room for the reply as locally: the asked length, never more than half the window.
    const int reserve = std::clamp(request.sampling.maxTokens, 16, std::max(16, nCtx / 2));
    const int prefixTokens = request.replyPrefix.isEmpty() ? 0 : c->countTokens(request.replyPrefix) + kPerMessageTokens;
    const int overhead = c->templateOverhead() + prefixTokens;
    const FittedMessages fit = fitMessages(request.messages, [c](const PromptMessage& m) {
        return c->countTokens(promptText(m)) + kPerMessageTokens;
    }, nCtx - reserve - overhead);
    if (fit.messages.isEmpty()) {
        emit failed(id, QStringLiteral("The message is too long for %1's context window (%2 tokens).").arg(model.name).arg(nCtx));
        return;
    }

    remote::GenerationRequest g;
    g.kind = remote::GenerationRequest::Kind::Chat;
    g.model = model.remoteModel;
    for (const PromptMessage& m : fit.messages) g.messages.append({m.role, promptText(m)});
    // Continuing a reply: its start goes as the last assistant message. Servers that prefill
    // it (llama.cpp's) continue it; others answer after it, which still completes the reply.
    if (!request.replyPrefix.isEmpty()) g.messages.append({QStringLiteral("assistant"), request.replyPrefix});
    const int promptEstimate = fit.tokens + overhead;
    g.maxTokens = std::max(1, std::min(request.sampling.maxTokens, nCtx - promptEstimate));
    // The OpenAI API has temperature, top_p and seed; top-k, min-p and the repeat penalty
    // are not part of it (servers that take them use differing names), so the server's own apply.
    g.temperature = request.sampling.temperature;
    g.topP = std::clamp(request.sampling.topP, 0.01, 1.0);
    if (request.sampling.seed) g.seed = qint64(request.sampling.seed & 0x1fffffffffffffULL);  // exact in JSON

    QElapsedTimer clock;
    clock.start();
    double firstMs = -1;
    // A new reply is shown without leading whitespace, as local ones; a continued one keeps it.
    bool leading = request.replyPrefix.isEmpty();
    const remote::RemoteClient client(model.remoteEndpoint);
    const remote::GenerationReply r = client.generate(g, [&](const QString& piece) {
        QString shown = piece;
        if (leading) {
            shown = withoutLeadingSpace(shown);
            if (shown.isEmpty()) return;
            leading = false;
        }
        if (firstMs < 0) firstMs = double(clock.nsecsElapsed()) / 1e6;
        emit text(id, shown);
    }, cancel);
    const double totalMs = double(clock.nsecsElapsed()) / 1e6;

    out.text = request.replyPrefix.isEmpty() ? withoutLeadingSpace(r.text) : r.text;
    out.promptTokens = r.promptTokens >= 0 ? r.promptTokens : promptEstimate;
    out.genTokens = std::max(0, r.completionTokens);
    out.ttftMs = firstMs >= 0 ? firstMs : 0;
    if (firstMs >= 0 && totalMs > firstMs && out.genTokens > 1) out.genTps = (out.genTokens - 1) * 1000.0 / (totalMs - firstMs);
    out.fit = fit;
    switch (r.end) {
    case remote::ReplyEnd::Complete:
        out.stopReason = stopName(r.finishReason);
        emit finished(out);
        return;
    case remote::ReplyEnd::Cancelled:
        out.stopReason = QStringLiteral("cancelled");
        out.cancelled = true;
        emit finished(out);
        return;
    case remote::ReplyEnd::Interrupted:
        // Kept and continuable, as a reply the user stopped; the reason goes with it.
        out.stopReason = QStringLiteral("interrupted");
        out.cancelled = true;
        out.error = QStringLiteral("%1: %2").arg(engineName, r.error);
        emit finished(out);
        return;
    case remote::ReplyEnd::Failed:
        // The text streamed before the error is already in the reply (text() signals).
        emit failed(id, QStringLiteral("%1: %2").arg(engineName, r.error));
        return;
    }
}

}  // namespace ld::chat
