#include "app/chat/engine_worker.h"

#include <QFileInfo>
#include <QTimer>
#include <algorithm>
#include <chrono>
#include <random>

#include "app/chat/model_info.h"
#include "app/chat/prompt_builder.h"
#include "inference/backend/backend.h"
#include "inference/backend/memory_plan.h"
#include "inference/chat/chat_format.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/batch_scheduler.h"
#include "inference/session/prompt_budget.h"
#include "inference/session/prompt_lookup.h"
#include "inference/session/session.h"
#include "inference/session/speculative.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::chat {

namespace {

QString errorText(const std::exception& e) {
    if (dynamic_cast<const Error*>(&e)) return QString::fromUtf8(e.what());
    if (dynamic_cast<const std::bad_alloc*>(&e)) return QStringLiteral("Not enough memory.");
    return QStringLiteral("Internal error: %1").arg(QString::fromUtf8(e.what()));
}

QString withoutFinalStop(QString s) {
    while (s.endsWith(QLatin1Char('.'))) s.chop(1);
    return s;
}

QString stopName(StopReason r) {
    switch (r) {
    case StopReason::EndOfGeneration: return QStringLiteral("end");
    case StopReason::MaxTokens: return QStringLiteral("max_tokens");
    case StopReason::StopString: return QStringLiteral("stop_string");
    case StopReason::Cancelled: return QStringLiteral("cancelled");
    case StopReason::ContextFull: return QStringLiteral("context_full");
    }
    return {};
}

GenerationOutcome outcomeOf(quint64 id, const GenerateResult& res) {
    GenerationOutcome out;
    out.id = id;
    out.text = QString::fromStdString(res.text);
    out.stopReason = stopName(res.stop);
    out.cancelled = res.stop == StopReason::Cancelled;
    out.promptTokens = res.prompt_tokens;
    out.promptReused = std::max(0, res.prompt_tokens - res.evaluated_tokens);
    out.genTokens = int(res.tokens.size());
    out.promptTps = res.prompt_tps();
    out.genTps = res.gen_tps();
    out.ttftMs = res.ttft_ms;
    out.drafted = res.drafted;
    out.accepted = res.accepted;
    return out;
}

Priority priorityOf(GenerationPriority p) {
    switch (p) {
    case GenerationPriority::Interactive: return Priority::Interactive;
    case GenerationPriority::Api: return Priority::Api;
    case GenerationPriority::Background: return Priority::Background;
    }
    return Priority::Api;
}

}  // namespace

struct EngineWorker::Prepared {
    std::vector<int32_t> tokens;
    GenerateOptions options;
    PromptFit fit;  // what buildPrompt left out
};

struct EngineWorker::Live {
    quint64 id = 0;             // the host's request id
    uint64_t seq = 0;           // the scheduler's
    GenerationPriority priority = GenerationPriority::Interactive;
    int promptTotal = 0;
    int promptDone = 0;         // estimated (reportPromptProgress)
    bool decoding = false;      // its first token was sampled
    PromptFit fit;
    bool silenced = false;      // its answer was already sent
};

EngineWorker::EngineWorker(std::atomic<bool>* shutdown, QObject* parent) : QObject(parent), shutdown_(shutdown) {
    pump_ = new QTimer(this);
    pump_->setInterval(0);  // a step per turn of the event loop: queued calls run between steps
    connect(pump_, &QTimer::timeout, this, &EngineWorker::pumpStep);
}

EngineWorker::~EngineWorker() {
    // Requests still in the scheduler end as cancelled before the backend (and the drafter they
    // may use) go.
    scheduler_.reset();
    releaseDrafter();
}

bool EngineWorker::busy() const { return scheduler_ && !live_.empty(); }

void EngineWorker::loadModel(const EngineConfig& config) {
    if (loadWaiting_ || busy()) {
        // Requests in flight finish on the model they were made for; the ones queued after
        // this load wait for it (arrival order, as with one request at a time).
        loadWaiting_ = true;
        deferred_.push_back([this, config] { doLoad(config); });
        return;
    }
    doLoad(config);
}

void EngineWorker::unloadModel() {
    if (loadWaiting_ || busy()) {
        loadWaiting_ = true;
        deferred_.push_back([this] { doUnload(); });
        return;
    }
    doUnload();
}

void EngineWorker::runDeferred() {
    while (!deferred_.empty() && !busy()) {
        auto call = std::move(deferred_.front());
        deferred_.pop_front();
        call();
    }
    loadWaiting_ = !deferred_.empty();
}

void EngineWorker::doLoad(const EngineConfig& config) {
    emit loadProgress(0.0);
    try {
        // Everything that can be checked without building the backend is checked first, while
        // the current model still runs: a bad file never costs the user the model in use.
        if (!QFileInfo::exists(config.modelPath))
            fail(config.modelPath.toStdString(), ": no such file");
        auto model = load_model(config.modelPath.toStdString());
        if (model->vocab.tokens.empty())
            fail(config.modelPath.toStdString(), ": the model has no tokenizer, so it cannot chat");
        auto tokenizer = Tokenizer::create(model->vocab);
        emit loadProgress(0.1);
        // The old backend goes before the new one is built: two 8B models do not fit side by
        // side in a typical machine's RAM or a GPU's memory.
        const std::optional<EngineConfig> previous = backend_ ? current_ : std::nullopt;
        doUnload();
        speculation_ = config.speculation;  // the setting as it is now, for this model or the previous one
        try {
            install(config, std::move(model), std::move(tokenizer), true);
        } catch (const std::exception& e) {
            QString error = errorText(e);
            if (previous) {
                // Put the previous model back so the app stays usable, as the user expects.
                try {
                    auto old = load_model(previous->modelPath.toStdString());
                    auto oldTokenizer = Tokenizer::create(old->vocab);
                    install(*previous, std::move(old), std::move(oldTokenizer), false);
                    buildDrafter();
                } catch (const std::exception& e2) {
                    error += QStringLiteral(" (and the previous model could not be reloaded: %1)").arg(errorText(e2));
                    emit modelUnloaded();
                }
            }
            emit modelLoadFailed(config.modelPath, error);
            return;
        }
        emit loadProgress(1.0);
        emit modelLoaded(info_);
        // After modelLoaded: the model is usable as it is, and a draft model that cannot be used
        // is its own message, not a failed load.
        buildDrafter();
    } catch (const std::exception& e) {
        emit modelLoadFailed(config.modelPath, errorText(e));
    }
}

BackendOptions EngineWorker::backendOptions(const EngineConfig& config, const Model& model) const {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the LLAMADESK_* developer switches (benchmarks/README.md)
    o.kind = config.backend.toStdString();
    o.device = config.device.toStdString();
    o.n_threads = std::max(0, config.threads);
    if (config.batchSize > 0) o.n_batch = config.batchSize;
    o.n_ctx = std::clamp(config.contextLength > 0 ? config.contextLength : 4096, 256, std::max(256, model.params.ctx_train));
    return o;
}

void EngineWorker::install(const EngineConfig& config, std::unique_ptr<Model> model,
                           std::unique_ptr<Tokenizer> tokenizer, bool reportProgress) {
    BackendOptions o = backendOptions(config, *model);
    if (reportProgress)
        o.progress = [this](float f) {
            emit loadProgress(0.1 + 0.9 * double(f));
            return true;
        };
    auto backend = createBackend(config, *model, o);
    std::unique_ptr<Session> session;
    std::unique_ptr<BatchScheduler> scheduler;
    // One or the other: the scheduler owns the paged cache, which the one-sequence forward
    // of a Session would treat as its own.
    if (backend->supports_sequences()) scheduler = std::make_unique<BatchScheduler>(*backend, *tokenizer);
    else session = std::make_unique<Session>(*model, *backend, *tokenizer);
    backend_ = std::move(backend);
    tokenizer_ = std::move(tokenizer);
    model_ = std::move(model);
    session_ = std::move(session);
    scheduler_ = std::move(scheduler);
    if (scheduler_) scheduler_->set_prompt_budget(kInitialPromptBudget);  // speed unknown yet: start small and measure
    if (!scheduler_) slots_ = 1;
    batch_ = std::max(1, backend_->batch_size());
    info_ = describeModel(*model_, config.modelPath);
    info_.tokenizer = tokenizer_;
    info_.backend = QString::fromStdString(backend_->name());
    info_.contextSize = backend_->context_size();
    info_.parallelSequences = slots_;
    current_ = config;
}

std::unique_ptr<Backend> EngineWorker::createBackend(const EngineConfig& config, const Model& model, BackendOptions o) {
    // How many full contexts the paged KV cache holds: the user's choice, or at most 4 (a chat,
    // its title and a couple of summary map steps; short requests share the blocks anyway).
    // CPU: as many as fit a quarter of the memory available now (the weights are loaded, so
    // what is left is the system's). GPUs: their free memory is known only to the backend, so
    // 4 while the extra caches stay under 1 GiB (2 while one stays under), and a backend that
    // cannot be built with them is built again with one context's cache.
    const qint64 perPosition = 2LL * model.params.n_layers * model.params.kv_dim() * (o.kv_type == GgmlType::F32 ? 4 : 2);
    const qint64 perContext = std::max<qint64>(1, perPosition * o.n_ctx);
    int contexts = config.parallelSequences;
    if (contexts <= 0) {
        if (o.kind == "cpu") contexts = int(std::clamp<qint64>(qint64(system_memory_available()) / 4 / perContext, 1, 4));
        else contexts = 3 * perContext <= (1LL << 30) ? 4 : perContext <= (1LL << 30) ? 2 : 1;
    }
    contexts = std::clamp(contexts, 1, 64);
    const bool chosen = config.parallelSequences <= 0;
    o.kv_positions = contexts * o.n_ctx;
    std::unique_ptr<Backend> backend;
    try {
        backend = create_backend(model, o);
    } catch (const std::exception&) {
        if (contexts == 1 || !chosen) throw;
        contexts = 1;
        o.kv_positions = 0;
        backend = create_backend(model, o);
    }
    slots_ = backend->supports_sequences() ? std::max(1, backend->kv_blocks() * backend->kv_block_size() / std::max(1, backend->context_size())) : 1;
    return backend;
}

void EngineWorker::doUnload() {
    scheduler_.reset();  // idle here: no request is cut
    session_.reset();
    if (drafter_) emit speculationChanged(QString());
    releaseDrafter();
    backend_.reset();
    tokenizer_.reset();
    model_.reset();
    info_ = {};
    current_.reset();
}

void EngineWorker::setSpeculation(const SpeculationConfig& config) {
    if (loadWaiting_ || busy()) {
        // Running requests hold the current drafter: the new one replaces it when they end.
        loadWaiting_ = true;
        deferred_.push_back([this, config] { doSpeculation(config); });
        return;
    }
    doSpeculation(config);
}

void EngineWorker::doSpeculation(const SpeculationConfig& config) {
    if (config == speculation_) return;  // another setting changed
    speculation_ = config;
    if (backend_) buildDrafter();        // else with the next load
}

void EngineWorker::releaseDrafter() {
    drafter_.reset();
    draftBackend_.reset();
    draftModel_.reset();
}

// Prompt lookup costs nothing to build. A draft model gets a backend of the same kind as the
// model's (its own one-sequence KV cache, sized to the model's context), or the CPU's when that
// cannot be built (a GPU without room for both); it is refused before its weights are loaded
// anywhere when its vocabulary differs, and on the CPU when it would not fit the free memory.
void EngineWorker::buildDrafter() {
    releaseDrafter();
    if (!backend_ || !model_ || !current_) return;
    const QString mode = speculation_.mode;
    if (mode == QLatin1String("lookup")) {
        drafter_ = std::make_unique<PromptLookup>();
        emit speculationChanged(QStringLiteral("prompt lookup"));
        return;
    }
    const QString path = speculation_.draftModelPath;
    // A draft model not chosen yet (the settings' picker asks for one) is nothing to report.
    if (mode != QLatin1String("draft") || path.isEmpty()) {
        emit speculationChanged(QString());
        return;
    }
    try {
        if (!QFileInfo::exists(path)) fail(path.toStdString(), ": no such file");
        if (QFileInfo(path).canonicalFilePath() == QFileInfo(current_->modelPath).canonicalFilePath())
            fail("it is the model itself: choose a smaller model with the same vocabulary");
        auto draft = load_model(path.toStdString());
        check_draft_vocabulary(*model_, *draft);
        BackendOptions o = backendOptions(*current_, *draft);
        o.n_ctx = std::max(16, std::min(backend_->context_size(), draft->params.ctx_train));
        o.kv_positions = 0;  // one sequence: the draft model rewinds to each history it is given
        const qint64 bytes = QFileInfo(path).size();
        const auto onCpu = [&] {
            const qint64 available = qint64(system_memory_available());
            if (available > 0 && bytes > available)
                fail("not enough memory: it needs about ", (bytes + (1 << 20) - 1) >> 20, " MiB, ", available >> 20,
                     " MiB are free");
        };
        std::unique_ptr<Backend> backend;
        if (o.kind == "cpu") {
            onCpu();
            backend = create_backend(*draft, o);
        } else {
            try {
                backend = create_backend(*draft, o);
            } catch (const std::exception&) {
                o.kind = "cpu";
                o.device.clear();
                onCpu();
                backend = create_backend(*draft, o);
            }
        }
        auto drafter = std::make_unique<DraftModel>(*model_, *draft, *backend);
        draftModel_ = std::move(draft);
        draftBackend_ = std::move(backend);
        drafter_ = std::move(drafter);
        emit speculationChanged(QStringLiteral("draft model %1 (%2)")
                                    .arg(QFileInfo(path).fileName(), QString::fromStdString(draftBackend_->name())));
    } catch (const std::exception& e) {
        releaseDrafter();
        emit speculationChanged(QString());
        emit speculationFailed(QStringLiteral("The draft model %1 cannot be used: %2. Replies are not sped up.")
                                   .arg(QFileInfo(path).fileName(), withoutFinalStop(errorText(e))));
    }
}

void EngineWorker::generate(const GenerationRequest& request) {
    if (loadWaiting_) {
        // Made after a model switch that waits for running requests: it runs on the new model.
        deferred_.push_back([this, request] { generate(request); });
        return;
    }
    if (!backend_) {
        emit failed(request.id, QStringLiteral("No model is loaded. Choose one in Settings."));
        return;
    }
    if (scheduler_) submitBatched(request);
    else generateAlone(request);
}

EngineWorker::Prepared EngineWorker::prepare(const GenerationRequest& request) const {
    const ChatTemplate tmpl = detect_chat_template(model_->vocab, "llama");
    const int nCtx = backend_->context_size();
    // Leave room for the reply: the asked length, but never more than half the window.
    const int reserve = replyReserve(request.sampling.maxTokens, nCtx);
    BuiltPrompt prompt;
    if (request.promptTokens.empty())
        prompt = buildPrompt(tmpl, *tokenizer_, request.messages, request.replyPrefix, nCtx - reserve);
    else if (int(request.promptTokens.size()) <= nCtx - reserve)
        prompt.tokens = request.promptTokens;  // rendered by the caller (tools); not shortened here
    if (prompt.tokens.empty())
        fail("The message is too long for the model's context window (", nCtx, " tokens). Shorten it or raise the context length in Settings.");

    Prepared p;
    p.fit = static_cast<const PromptFit&>(prompt);
    GenerateOptions& opt = p.options;
    opt.max_tokens = std::max(1, std::min(request.sampling.maxTokens, nCtx - int(prompt.tokens.size())));
    SamplerParams& sp = opt.sampling;
    sp.temperature = float(request.sampling.temperature);
    sp.top_k = request.sampling.topK;
    sp.top_p = float(std::clamp(request.sampling.topP, 0.01, 1.0));
    sp.min_p = float(std::clamp(request.sampling.minP, 0.0, 0.99));
    sp.repeat_penalty = float(std::max(0.01, request.sampling.repeatPenalty));
    sp.seed = request.sampling.seed ? request.sampling.seed : uint64_t(std::random_device{}());
    opt.stop_strings = chat_stop_strings(tmpl);
    // A new reply is shown without its leading whitespace: a SentencePiece model starts it with
    // the space that follows "[/INST]" in the text. A continued reply keeps it (it joins the
    // reply's prefix), and so does a raw completion. ReplyStream applies it, streamed and final.
    opt.trim_leading_space = request.replyPrefix.isEmpty() && !request.rawText;
    // The engine polls one flag: the request's own, or the host's for requests made without
    // one (tests that drive the worker directly). Shutdown sets every request's.
    opt.cancel = request.cancel ? request.cancel.get() : shutdown_;
    // Only replies the user waits for speculate: a title is a few tokens, a summary's map steps
    // run many at once (one draft model's cache would rewind between them every step). API
    // requests (speculate set by the app's API server) run beside the chat's reply and each
    // other, so they draft only by prompt lookup, which keeps nothing between calls: sharing one
    // draft model would make it re-read each one's whole history every step.
    const bool shareable = dynamic_cast<const PromptLookup*>(drafter_.get()) != nullptr;
    if (request.speculate && drafter_ && (request.priority != GenerationPriority::Api || shareable))
        opt.drafter = drafter_.get();
    p.tokens = std::move(prompt.tokens);
    return p;
}

void EngineWorker::generateAlone(const GenerationRequest& request) {
    try {
        const Prepared p = prepare(request);
        const std::atomic<bool>* cancel = p.options.cancel;
        const quint64 id = request.id;
        const PromptRun pre = evaluatePrompt(id, p.tokens, cancel);
        if (pre.cancelled) {
            GenerationOutcome out;
            out.id = id;
            out.stopReason = stopName(StopReason::Cancelled);
            out.cancelled = true;
            out.promptTokens = int(p.tokens.size());
            out.fit = p.fit;
            emit finished(out);
            return;
        }
        const GenerateResult res = session_->generate(p.tokens, p.options, [this, id](std::string_view piece) {
            emit text(id, QString::fromUtf8(piece.data(), qsizetype(piece.size())));
            return true;
        });
        GenerationOutcome out = outcomeOf(id, res);
        out.speculated = p.options.drafter != nullptr;
        const double promptMs = pre.ms + res.prompt_ms;
        out.promptTps = promptMs > 0 ? (pre.evaluated + res.evaluated_tokens) * 1000.0 / promptMs : 0;
        out.promptReused = std::max(0, res.prompt_tokens - pre.evaluated - res.evaluated_tokens);
        out.ttftMs = res.ttft_ms > 0 ? pre.ms + res.ttft_ms : 0;
        out.fit = p.fit;
        emit finished(out);
    } catch (const std::exception& e) {
        // The cache may hold a half-evaluated prompt: start from scratch next time.
        session_->clear();
        emit failed(request.id, errorText(e));
    }
}

void EngineWorker::submitBatched(const GenerationRequest& request) {
    try {
        Prepared p = prepare(request);
        auto live = std::make_shared<Live>();
        live->id = request.id;
        live->priority = request.priority;
        live->promptTotal = int(p.tokens.size());
        live->fit = p.fit;
        BatchRequest b;
        b.prompt = std::move(p.tokens);
        b.options = std::move(p.options);
        b.priority = priorityOf(request.priority);
        // Callbacks run inside scheduler steps, on this thread.
        b.options.on_token = [live](int32_t, const float*, int) { live->decoding = true; };
        b.on_text = [this, live](std::string_view piece) {
            emit text(live->id, QString::fromUtf8(piece.data(), qsizetype(piece.size())));
            return true;
        };
        b.on_finished = [this, live, speculated = b.options.drafter != nullptr](const BatchOutcome& o) {
            if (live->silenced) return;  // already answered (pumpStep's failure path)
            live_.erase(live->seq);
            if (!o.error.empty()) {
                emit failed(live->id, QString::fromStdString(o.error));
                return;
            }
            GenerationOutcome out = outcomeOf(live->id, o.result);
            out.speculated = speculated;
            out.fit = live->fit;
            emit finished(out);
        };
        live->seq = scheduler_->submit(std::move(b));
        live_[live->seq] = live;
        if (!pump_->isActive()) pump_->start();
    } catch (const std::exception& e) {
        emit failed(request.id, errorText(e));
    }
}

void EngineWorker::pumpStep() {
    if (!scheduler_) {
        pump_->stop();
        runDeferred();
        return;
    }
    // The requests still reading their prompts, in the order the scheduler gives them chunks.
    std::vector<std::shared_ptr<Live>> reading;
    int decoding = 0;
    for (const auto& [seq, live] : live_) {
        if (live->decoding) ++decoding;
        else reading.push_back(live);
    }
    std::sort(reading.begin(), reading.end(), [](const auto& a, const auto& b) {
        return a->priority != b->priority ? a->priority < b->priority : a->seq < b->seq;
    });
    const SchedulerStats before = scheduler_->stats();
    const auto t0 = std::chrono::steady_clock::now();
    bool more = false;
    try {
        more = scheduler_->step();
        sizePromptBudget(scheduler_->stats().tokens_run - before.tokens_run,
                         std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    } catch (const std::exception& e) {
        // A forward step's failure ends its own sequences inside the scheduler; anything else
        // (its bookkeeping out of memory) fails every request rather than leave them hanging.
        const QString why = errorText(e);
        std::vector<quint64> ids;
        for (const auto& [seq, live] : live_) {
            live->silenced = true;
            ids.push_back(live->id);
        }
        live_.clear();
        scheduler_ = std::make_unique<BatchScheduler>(*backend_, *tokenizer_);  // the old one goes
        scheduler_->set_prompt_budget(kInitialPromptBudget);
        for (quint64 id : ids) emit failed(id, why);
        more = false;
    }
    const SchedulerStats& after = scheduler_->stats();
    reportPromptProgress(reading, after.tokens_run - before.tokens_run, after.prompt_reused - before.prompt_reused, decoding);
    if (!more) {
        pump_->stop();
        runDeferred();
    }
}

// A stop, a new request and the decoding sequences wait for the step that runs, so prompt chunks
// are sized to keep a step near 50 ms (paced_prompt_budget, shared with `serve`): the speed is
// measured on each step that read a prompt (decode tokens included, which only makes the
// estimate cautious).
void EngineWorker::sizePromptBudget(int64_t tokens, double ms) {
    if (scheduler_) scheduler_->set_prompt_budget(paced_prompt_budget(scheduler_->prompt_budget(), tokens, ms));
}

// The scheduler does not say how far each prompt has been read, so this follows its plan: a
// step runs one decode token of each decoding sequence, then prompt chunks in priority and
// arrival order with the rest. Positions adopted from the prefix cache count at once. Exact for
// one prompt at a time (the common case: a chat's prompt while others decode); otherwise an
// estimate, never past the prompt's last token.
void EngineWorker::reportPromptProgress(const std::vector<std::shared_ptr<Live>>& reading, int64_t tokensRun,
                                        int64_t reused, int decodingBefore) {
    int64_t left = std::max<int64_t>(0, tokensRun - decodingBefore);
    for (const auto& l : reading) {
        if (l->silenced) continue;
        if (l->decoding) {  // read the rest of its prompt in this step
            left -= std::max(0, l->promptTotal - l->promptDone);
            continue;
        }
        if (!live_.count(l->seq)) continue;  // ended without reading all of it
        const int before = l->promptDone;
        if (l->promptDone == 0 && reused > 0) {
            const int adopted = int(std::min<int64_t>(reused, std::max(0, l->promptTotal - 1)));
            l->promptDone += adopted;
            reused -= adopted;
        }
        const int take = int(std::clamp<int64_t>(left, 0, std::max(0, l->promptTotal - 1 - l->promptDone)));
        l->promptDone += take;
        left -= take;
        if (l->promptDone > before) emit promptProgress(l->id, l->promptDone, l->promptTotal);
    }
}

EngineWorker::PromptRun EngineWorker::evaluatePrompt(quint64 requestId, const std::vector<int32_t>& prompt,
                                                     const std::atomic<bool>* cancel) {
    using Clock = std::chrono::steady_clock;
    PromptRun run;
    const std::vector<int32_t>& cached = session_->cached_tokens();
    size_t done = 0;
    while (done < cached.size() && done < prompt.size() && cached[done] == prompt[done]) ++done;
    // generate() runs the last token (it needs its logits) and whatever is left before it.
    const size_t target = prompt.empty() ? 0 : prompt.size() - 1;
    constexpr double kChunkMs = 50;  // half the 100 ms a stop may take
    size_t chunk = size_t(std::min(batch_, 8));  // speed unknown yet: start small and measure
    std::vector<int32_t> prefix;
    while (done < target) {
        if (cancel->load()) {
            run.cancelled = true;
            return run;
        }
        const size_t next = std::min(target, done + chunk);
        prefix.assign(prompt.begin(), prompt.begin() + std::ptrdiff_t(next));
        const auto t0 = Clock::now();
        session_->evaluate(prefix);  // reuses the cached prefix, runs [done, next)
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        run.ms += ms;
        run.evaluated += int(next - done);
        const double msPerToken = std::max(1e-3, ms / double(next - done));
        // Grow at most 4x a step: the first timings include warm-up and are noisy.
        chunk = std::clamp(size_t(kChunkMs / msPerToken), size_t(1), std::min(size_t(batch_), chunk * 4));
        done = next;
        emit promptProgress(requestId, int(done), int(prompt.size()));
    }
    run.cancelled = cancel->load();
    return run;
}

}  // namespace ld::chat
