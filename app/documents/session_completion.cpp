#include "app/documents/session_completion.h"

#include <deque>

#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/batch_scheduler.h"
#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::documents {

SamplerParams summarySampling() {
    SamplerParams sp;
    sp.temperature = 0.2f;
    sp.top_k = 40;
    sp.top_p = 0.9f;
    sp.min_p = 0.05f;
    sp.repeat_penalty = 1.1f;
    sp.penalty_last_n = 128;
    sp.seed = 1234;
    return sp;
}

std::unique_ptr<SessionCompletion> SessionCompletion::open(const std::string& modelPath, BackendOptions options, int parallel) {
    if (parallel < 1 || parallel > 64) fail("--parallel must be 1 to 64 (got ", parallel, ")");
    std::unique_ptr<SessionCompletion> c(new SessionCompletion());
    c->model_ = load_model(modelPath);
    if (c->model_->vocab.tokens.empty()) fail(modelPath, ": the model has no tokenizer, so it cannot summarize");
    c->tokenizer_ = Tokenizer::create(c->model_->vocab);
    options.n_ctx = std::min(options.n_ctx, c->model_->params.ctx_train);
    // Each call may fill a whole context: the cache holds `parallel` of them, so the calls run
    // side by side without preempting each other.
    if (parallel > 1) options.kv_positions = parallel * options.n_ctx;
    c->backend_ = create_backend(*c->model_, options);
    c->parallel_ = parallel;
    if (parallel > 1 && c->backend_->supports_sequences()) {
        SchedulerOptions so;
        so.max_sequences = parallel;
        c->scheduler_ = std::make_unique<BatchScheduler>(*c->backend_, *c->tokenizer_, so);
        c->thread_ = std::thread([s = c->scheduler_.get()] { s->run(); });
    } else {
        c->session_ = std::make_unique<Session>(*c->model_, *c->backend_, *c->tokenizer_);
    }
    c->template_ = detect_chat_template(c->model_->vocab, "llama");
    c->sampling_ = summarySampling();
    c->overhead_ = int(apply_chat_template(c->template_, *c->tokenizer_, {{"system", ""}, {"user", ""}}, true).size());
    return c;
}

SessionCompletion::~SessionCompletion() {
    if (scheduler_) {
        scheduler_->shutdown();  // calls still running end as cancelled
        thread_.join();
        scheduler_.reset();
    }
    session_.reset();
    backend_.reset();
}

int SessionCompletion::contextSize() const { return backend_->context_size(); }

int SessionCompletion::maxBatchSequences() const {
    // stats() is read while the scheduler thread may write it: only for tests, after the calls.
    return scheduler_ ? scheduler_->stats().max_batch_sequences : 1;
}

int SessionCompletion::countTokens(const QString& text) const {
    return int(tokenizer_->encode(text.toStdString(), false).size());
}

CompletionResult SessionCompletion::complete(const CompletionRequest& request,
                                             const std::function<void(const QString&)>& onText,
                                             const std::atomic<bool>* cancel) {
    CompletionResult out;
    std::vector<ChatMessage> msgs;
    if (!request.system.isEmpty()) msgs.push_back({"system", request.system.toStdString()});
    msgs.push_back({"user", request.user.toStdString()});
    try {
        const std::vector<int32_t> prompt = apply_chat_template(template_, *tokenizer_, msgs, true);
        const int room = contextSize() - int(prompt.size());
        out.promptTokens = int(prompt.size());
        if (room < 1) {
            out.error = QStringLiteral("the prompt (%1 tokens) does not fit the context window (%2 tokens)")
                            .arg(prompt.size()).arg(contextSize());
            return out;
        }
        GenerateOptions opt;
        opt.max_tokens = std::max(1, std::min(request.maxTokens, room));
        opt.sampling = sampling_;
        opt.stop_strings = chat_stop_strings(template_);
        opt.cancel = cancel;
        // The reply is shown without its leading whitespace, as the app's chat shows it: a
        // SentencePiece model starts it with the space that follows "[/INST]".
        opt.trim_leading_space = true;
        if (scheduler_) return completeBatched(prompt, opt, onText);
        std::lock_guard<std::mutex> lock(sessionMutex_);
        const GenerateResult res = session_->generate(prompt, opt, [&](std::string_view piece) {
            if (onText) onText(QString::fromUtf8(piece.data(), qsizetype(piece.size())));
            return true;
        });
        out.text = QString::fromStdString(res.text);
        out.cancelled = res.stop == StopReason::Cancelled;
        out.generatedTokens = int(res.tokens.size());
    } catch (const std::exception& e) {
        if (session_) session_->clear();  // a half-evaluated prompt may be in the cache
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

CompletionResult SessionCompletion::completeBatched(const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                                   const std::function<void(const QString&)>& onText) {
    // The scheduler's thread hands pieces and the end to this (the calling) thread.
    struct Call {
        std::mutex mutex;
        std::condition_variable wake;
        std::deque<std::string> pieces;
        bool done = false;
        BatchOutcome outcome;
    };
    auto call = std::make_shared<Call>();
    BatchRequest r;
    r.prompt = prompt;
    r.options = opt;
    r.priority = Priority::Background;
    r.on_text = [call](std::string_view piece) {
        std::lock_guard<std::mutex> lock(call->mutex);
        call->pieces.emplace_back(piece);
        call->wake.notify_all();
        return true;
    };
    r.on_finished = [call](const BatchOutcome& o) {
        std::lock_guard<std::mutex> lock(call->mutex);
        call->outcome = o;
        call->done = true;
        call->wake.notify_all();
    };
    scheduler_->submit(std::move(r));
    std::unique_lock<std::mutex> lock(call->mutex);
    for (;;) {
        call->wake.wait(lock, [&] { return call->done || !call->pieces.empty(); });
        while (!call->pieces.empty()) {
            const std::string piece = std::move(call->pieces.front());
            call->pieces.pop_front();
            lock.unlock();
            if (onText) onText(QString::fromStdString(piece));
            lock.lock();
        }
        if (call->done && call->pieces.empty()) break;
    }
    CompletionResult out;
    const GenerateResult& res = call->outcome.result;
    out.promptTokens = int(prompt.size());
    out.text = QString::fromStdString(res.text);
    out.cancelled = res.stop == StopReason::Cancelled;
    out.generatedTokens = int(res.tokens.size());
    if (!call->outcome.error.empty()) out.error = QString::fromStdString(call->outcome.error);
    return out;
}

}  // namespace ld::documents
