#include "app/documents/session_completion.h"

#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::documents {

namespace {

QString withoutLeadingSpace(const QString& s) {
    qsizetype i = 0;
    while (i < s.size() && s[i].isSpace()) ++i;
    return s.mid(i);
}

}  // namespace

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

std::unique_ptr<SessionCompletion> SessionCompletion::open(const std::string& modelPath, BackendOptions options) {
    std::unique_ptr<SessionCompletion> c(new SessionCompletion());
    c->model_ = load_model(modelPath);
    if (c->model_->vocab.tokens.empty()) fail(modelPath, ": the model has no tokenizer, so it cannot summarize");
    c->tokenizer_ = Tokenizer::create(c->model_->vocab);
    options.n_ctx = std::min(options.n_ctx, c->model_->params.ctx_train);
    c->backend_ = create_backend(*c->model_, options);
    c->session_ = std::make_unique<Session>(*c->model_, *c->backend_, *c->tokenizer_);
    c->template_ = detect_chat_template(c->model_->vocab, "llama");
    c->sampling_ = summarySampling();
    c->overhead_ = int(apply_chat_template(c->template_, *c->tokenizer_, {{"system", ""}, {"user", ""}}, true).size());
    return c;
}

SessionCompletion::~SessionCompletion() {
    session_.reset();
    backend_.reset();
}

int SessionCompletion::contextSize() const { return backend_->context_size(); }

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
        // The reply is shown without its leading whitespace, as EngineWorker shows it: a
        // SentencePiece model starts it with the space that follows "[/INST]".
        bool leading = true;
        const GenerateResult res = session_->generate(prompt, opt, [&](std::string_view piece) {
            QString shown = QString::fromUtf8(piece.data(), qsizetype(piece.size()));
            if (leading) {
                shown = withoutLeadingSpace(shown);
                if (shown.isEmpty()) return true;
                leading = false;
            }
            if (onText) onText(shown);
            return true;
        });
        out.text = withoutLeadingSpace(QString::fromStdString(res.text));
        out.cancelled = res.stop == StopReason::Cancelled;
        out.generatedTokens = int(res.tokens.size());
    } catch (const std::exception& e) {
        session_->clear();  // a half-evaluated prompt may be in the cache
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

}  // namespace ld::documents
