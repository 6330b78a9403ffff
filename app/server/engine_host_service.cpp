#include "app/server/engine_host_service.h"

#include <QFileInfo>
#include <QMetaObject>

#include "app/chat/engine_host.h"
#include "inference/session/session.h"

namespace ld::server {

namespace {

// Worker stop names (engine_worker.cpp) back to the engine's reasons.
StopReason stopReason(const QString& name) {
    if (name == QLatin1String("end")) return StopReason::EndOfGeneration;
    if (name == QLatin1String("stop_string")) return StopReason::StopString;
    if (name == QLatin1String("cancelled")) return StopReason::Cancelled;
    if (name == QLatin1String("context_full")) return StopReason::ContextFull;
    return StopReason::MaxTokens;
}

// The app's engine draws a fresh seed for seed 0; the API's seed 0 is a seed like any other.
constexpr quint64 kSeedForZero = 0x9E3779B97F4A7C15ull;

}  // namespace

// A job in the engine: the request's stop strings are applied here, on the text, since a
// GenerationRequest carries only the chat format's own.
struct EngineHostService::Run {
    std::shared_ptr<GenJob> job;
    std::string pending;           // text that may begin a stop string
    bool stoppedByString = false;  // the engine was stopped because a stop string appeared
};

EngineHostService::EngineHostService(chat::EngineHost* engine, size_t capacity, QObject* parent)
    : QObject(parent), engine_(engine), capacity_(std::max<size_t>(1, capacity)) {
    updateModel(engine_->modelInfo());
    connect(engine_, &chat::EngineHost::modelLoaded, this, &EngineHostService::updateModel);
    // Also a failed switch that left no model (modelInfo() is empty then).
    connect(engine_, &chat::EngineHost::stateChanged, this, [this] { updateModel(engine_->modelInfo()); });
    connect(engine_, &chat::EngineHost::text, this, &EngineHostService::onText);
    connect(engine_, &chat::EngineHost::finished, this, &EngineHostService::onFinished);
    connect(engine_, &chat::EngineHost::failed, this, &EngineHostService::onFailed);
}

EngineHostService::~EngineHostService() { shutdown(); }

std::string EngineHostService::modelId(const chat::ModelInfo& info) {
    QString name = QFileInfo(info.path).fileName();
    if (name.endsWith(QLatin1String(".gguf"), Qt::CaseInsensitive)) name.chop(5);
    return name.toStdString();
}

void EngineHostService::updateModel(const chat::ModelInfo& info) {
    ServedModel m;
    if (!info.path.isEmpty() && info.tokenizer) {
        m.id = modelId(info);
        m.n_ctx = info.contextSize;
        m.tokenizer = info.tokenizer;
        parse_chat_template_name(info.chatTemplate.toStdString(), &m.chat_template);
        // The engine keeps at least 16 tokens for a reply and drops old turns to make room
        // (engine_worker.cpp); a request that would need that is refused instead.
        m.reply_reserve = 16;
    } else if (!info.path.isEmpty()) {  // a remote engine's model: no tokenizer here to render chats with
        m.unavailable = "the app's model " + info.name.toStdString() +
                        " runs on a remote engine: send requests to that engine, or load a local model in LlamaDesk";
    }
    std::lock_guard<std::mutex> lock(mu_);
    served_ = std::move(m);
}

ServedModel EngineHostService::model() const {
    std::lock_guard<std::mutex> lock(mu_);
    return served_;
}

bool EngineHostService::submit(const std::shared_ptr<GenJob>& job) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_ || admitted_ >= capacity_) return false;
        ++admitted_;
        waiting_.push_back(job);
    }
    QMetaObject::invokeMethod(this, &EngineHostService::startWaiting, Qt::QueuedConnection);
    return true;
}

void EngineHostService::cancel(const std::shared_ptr<GenJob>& job) {
    job->cancel.store(true);
    {
        std::lock_guard<std::mutex> lock(mu_);
        const auto it = std::find(waiting_.begin(), waiting_.end(), job);
        if (it != waiting_.end()) {
            waiting_.erase(it);
            --admitted_;
            job->end_cancelled();
            return;
        }
    }
    // Handed to the engine: stopped on the UI thread, where the request ids live, and ended at
    // once (a request still queued behind the GUI's reply would otherwise end only when reached).
    QMetaObject::invokeMethod(this, [this, job] {
        for (auto it = runs_.begin(); it != runs_.end(); ++it) {
            if (it.value()->job != job) continue;
            engine_->stop(it.key());
            runs_.erase(it);
            release();
            job->end_cancelled();
            return;
        }
    }, Qt::QueuedConnection);
}

void EngineHostService::startWaiting() {
    for (;;) {
        std::shared_ptr<GenJob> job;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (waiting_.empty()) return;
            job = waiting_.front();
            waiting_.pop_front();
        }
        chat::GenerationRequest request;
        request.priority = chat::GenerationPriority::Api;
        // "Speed up replies" applies as far as the engine lets API requests draft (prompt lookup:
        // EngineWorker); the outcome says whether it did, and usage reports it (job_usage).
        request.speculate = true;
        if (job->messages.empty()) {
            // A completion or a chat with tools: the prompt the HTTP layer rendered, as is.
            request.promptTokens = job->prompt;
            request.rawText = !job->options.trim_leading_space;
        } else {
            for (const ChatMessage& m : job->messages)
                request.messages.push_back({QString::fromStdString(m.role), QString::fromStdString(m.content)});
        }
        const GenerateOptions& o = job->options;
        chat::SamplingConfig& s = request.sampling;
        s.temperature = o.sampling.temperature;
        s.topK = 0;
        s.topP = o.sampling.top_p;
        s.minP = 0;
        s.repeatPenalty = 1.0;
        s.maxTokens = o.max_tokens;
        s.seed = o.sampling.seed ? o.sampling.seed : kSeedForZero;
        auto run = std::make_shared<Run>();
        run->job = job;
        const quint64 id = engine_->generate(request);
        if (id == 0) {  // refused at once (nothing will follow for it)
            release();
            job->end({}, "no model is loaded");
            continue;
        }
        runs_.insert(id, run);
        if (job->cancel.load()) engine_->stop(id);
    }
}

void EngineHostService::onText(quint64 id, const QString& piece) {
    const auto it = runs_.constFind(id);
    if (it == runs_.constEnd()) return;  // the GUI's own request
    Run& run = **it;
    if (run.stoppedByString) return;
    run.pending += piece.toStdString();
    const std::vector<std::string>& stops = run.job->options.stop_strings;
    size_t cut = std::string::npos;
    for (const std::string& s : stops) {
        const size_t at = s.empty() ? std::string::npos : run.pending.find(s);
        if (at < cut) cut = at;
    }
    if (cut != std::string::npos) {
        run.job->add_piece(run.pending.substr(0, cut));
        run.pending.clear();
        run.stoppedByString = true;
        engine_->stop(id);
        return;
    }
    const size_t hold = stop_string_hold(run.pending, stops);
    if (run.pending.size() > hold) {
        run.job->add_piece(run.pending.substr(0, run.pending.size() - hold));
        run.pending.erase(0, run.pending.size() - hold);
    }
    if (run.job->cancel.load()) engine_->stop(id);
}

void EngineHostService::onFinished(const chat::GenerationOutcome& out) {
    const std::shared_ptr<Run> run = runs_.take(out.id);
    if (!run) return;
    GenerateResult r;
    r.stop = run->stoppedByString ? StopReason::StopString : stopReason(out.stopReason);
    if (r.stop != StopReason::StopString && r.stop != StopReason::Cancelled && !run->pending.empty())
        run->job->add_piece(std::move(run->pending));  // held for a stop string that never came
    r.prompt_tokens = out.promptTokens;
    r.tokens.resize(size_t(std::max(0, out.genTokens)));
    r.ttft_ms = out.ttftMs;
    r.drafted = out.drafted;
    r.accepted = out.accepted;
    run->job->speculative = out.speculated;
    release();
    run->job->end(std::move(r));
}

void EngineHostService::onFailed(quint64 id, const QString& error) {
    const std::shared_ptr<Run> run = runs_.take(id);
    if (!run) return;
    release();
    run->job->end({}, error.toStdString());
}

void EngineHostService::release() {
    std::lock_guard<std::mutex> lock(mu_);
    if (admitted_ > 0) --admitted_;
}

void EngineHostService::shutdown() {
    std::deque<std::shared_ptr<GenJob>> waiting;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopped_ = true;
        waiting.swap(waiting_);
        admitted_ -= std::min(admitted_, waiting.size());
    }
    for (const auto& job : waiting) job->end_cancelled();
    // The engine's requests are stopped; their jobs end now, so no HTTP thread waits for the
    // engine (its finished() is then ignored).
    const auto runs = std::exchange(runs_, {});
    for (auto it = runs.cbegin(); it != runs.cend(); ++it) {
        engine_->stop(it.key());
        release();
        it.value()->job->end_cancelled();
    }
}

void EngineHostService::resume() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = false;
}

}  // namespace ld::server
