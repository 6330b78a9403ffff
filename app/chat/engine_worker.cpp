#include "app/chat/engine_worker.h"

#include <QFileInfo>
#include <algorithm>
#include <chrono>
#include <random>

#include "app/chat/model_info.h"
#include "app/chat/prompt_builder.h"
#include "inference/backend/backend.h"
#include "inference/chat/chat_format.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::chat {

namespace {

QString errorText(const std::exception& e) {
    if (dynamic_cast<const Error*>(&e)) return QString::fromUtf8(e.what());
    if (dynamic_cast<const std::bad_alloc*>(&e)) return QStringLiteral("Not enough memory.");
    return QStringLiteral("Internal error: %1").arg(QString::fromUtf8(e.what()));
}

QString withoutLeadingSpace(const QString& s) {
    qsizetype i = 0;
    while (i < s.size() && s[i].isSpace()) ++i;
    return s.mid(i);
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

}  // namespace

EngineWorker::EngineWorker(std::atomic<bool>* shutdown, QObject* parent) : QObject(parent), shutdown_(shutdown) {}

EngineWorker::~EngineWorker() = default;

void EngineWorker::loadModel(const EngineConfig& config) {
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
        const std::optional<EngineConfig> previous = session_ ? current_ : std::nullopt;
        unloadModel();
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
    } catch (const std::exception& e) {
        emit modelLoadFailed(config.modelPath, errorText(e));
    }
}

void EngineWorker::install(const EngineConfig& config, std::unique_ptr<Model> model,
                           std::unique_ptr<Tokenizer> tokenizer, bool reportProgress) {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the LLAMADESK_* developer switches (benchmarks/README.md)
    o.kind = config.backend.toStdString();
    o.device = config.device.toStdString();
    o.n_threads = std::max(0, config.threads);
    if (config.batchSize > 0) o.n_batch = config.batchSize;
    o.n_ctx = std::clamp(config.contextLength > 0 ? config.contextLength : 4096, 256, std::max(256, model->params.ctx_train));
    if (reportProgress)
        o.progress = [this](float f) {
            emit loadProgress(0.1 + 0.9 * double(f));
            return true;
        };
    auto backend = create_backend(*model, o);
    auto session = std::make_unique<Session>(*model, *backend, *tokenizer);
    backend_ = std::move(backend);
    tokenizer_ = std::move(tokenizer);
    model_ = std::move(model);
    session_ = std::move(session);
    batch_ = std::max(1, backend_->batch_size());
    info_ = describeModel(*model_, config.modelPath);
    info_.tokenizer = tokenizer_;
    info_.backend = QString::fromStdString(backend_->name());
    info_.contextSize = backend_->context_size();
    current_ = config;
}

void EngineWorker::unloadModel() {
    session_.reset();
    backend_.reset();
    tokenizer_.reset();
    model_.reset();
    info_ = {};
    current_.reset();
}

void EngineWorker::generate(const GenerationRequest& request) {
    if (!session_) {
        emit failed(request.id, QStringLiteral("No model is loaded. Choose one in Settings."));
        return;
    }
    try {
        const ChatTemplate tmpl = detect_chat_template(model_->vocab, "llama");
        const int nCtx = backend_->context_size();
        // Leave room for the reply: the asked length, but never more than half the window.
        const int reserve = std::clamp(request.sampling.maxTokens, 16, std::max(16, nCtx / 2));
        BuiltPrompt prompt;
        if (request.promptTokens.empty())
            prompt = buildPrompt(tmpl, *tokenizer_, request.messages, request.replyPrefix, nCtx - reserve);
        else if (int(request.promptTokens.size()) <= nCtx - reserve)
            prompt.tokens = request.promptTokens;  // rendered by the caller (tools); not shortened here
        if (prompt.tokens.empty())
            fail("The message is too long for the model's context window (", nCtx, " tokens). Shorten it or raise the context length in Settings.");

        GenerateOptions opt;
        opt.max_tokens = std::max(1, std::min(request.sampling.maxTokens, nCtx - int(prompt.tokens.size())));
        SamplerParams& sp = opt.sampling;
        sp.temperature = float(request.sampling.temperature);
        sp.top_k = request.sampling.topK;
        sp.top_p = float(std::clamp(request.sampling.topP, 0.01, 1.0));
        sp.min_p = float(std::clamp(request.sampling.minP, 0.0, 0.99));
        sp.repeat_penalty = float(std::max(0.01, request.sampling.repeatPenalty));
        sp.seed = request.sampling.seed ? request.sampling.seed : uint64_t(std::random_device{}());
        opt.stop_strings = chat_stop_strings(tmpl);
        // The session polls one flag: the request's own, or the host's for requests made
        // without one (tests that drive the worker directly). Shutdown sets every request's.
        const std::atomic<bool>* cancel = request.cancel ? request.cancel.get() : shutdown_;
        opt.cancel = cancel;

        const quint64 id = request.id;
        const PromptRun pre = evaluatePrompt(id, prompt.tokens, cancel);
        if (pre.cancelled) {
            GenerationOutcome out;
            out.id = id;
            out.stopReason = stopName(StopReason::Cancelled);
            out.cancelled = true;
            out.promptTokens = int(prompt.tokens.size());
            out.droppedMessages = prompt.droppedMessages;
            emit finished(out);
            return;
        }
        // A new reply is shown without its leading whitespace: a SentencePiece model starts it
        // with the space that follows "[/INST]" in the text, which the engine streams as it is.
        // A continued reply keeps it, since it joins the reply's prefix.
        bool leading = request.replyPrefix.isEmpty();
        const GenerateResult res = session_->generate(prompt.tokens, opt, [this, id, &leading](std::string_view piece) {
            QString shown = QString::fromUtf8(piece.data(), qsizetype(piece.size()));
            if (leading) {
                shown = withoutLeadingSpace(shown);
                if (shown.isEmpty()) return true;
                leading = false;
            }
            emit text(id, shown);
            return true;
        });
        GenerationOutcome out;
        out.id = id;
        out.text = QString::fromStdString(res.text);
        if (request.replyPrefix.isEmpty()) out.text = withoutLeadingSpace(out.text);
        out.stopReason = stopName(res.stop);
        out.cancelled = res.stop == StopReason::Cancelled;
        out.promptTokens = res.prompt_tokens;
        out.genTokens = int(res.tokens.size());
        const double promptMs = pre.ms + res.prompt_ms;
        out.promptTps = promptMs > 0 ? (pre.evaluated + res.evaluated_tokens) * 1000.0 / promptMs : 0;
        out.genTps = res.gen_tps();
        out.ttftMs = res.ttft_ms > 0 ? pre.ms + res.ttft_ms : 0;
        out.droppedMessages = prompt.droppedMessages;
        emit finished(out);
    } catch (const std::exception& e) {
        // The cache may hold a half-evaluated prompt: start from scratch next time.
        session_->clear();
        emit failed(request.id, errorText(e));
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
