#include "app/remote/remote_completion.h"

namespace ld::remote {

namespace {
// Chat templates put markers around the system and user messages (Llama 3.1's adds a dated
// preamble, ~30 tokens); a remote server does not say how many, so this is an upper bound.
constexpr int kTemplateOverhead = 64;
constexpr int kDefaultContext = 4096;
constexpr qsizetype kCacheLimit = 50000;

QString withoutLeadingSpace(const QString& s) {
    qsizetype i = 0;
    while (i < s.size() && s[i].isSpace()) ++i;
    return s.mid(i);
}
}  // namespace

int estimateTokensConservatively(const QString& text) {
    qint64 ascii = 0, other = 0;
    for (const QChar c : text) (c.unicode() < 128 ? ascii : other) += 1;
    return int((ascii + 2) / 3 + other);
}

RemoteCompletion::RemoteCompletion(const RemoteEndpoint& endpoint, QString model, RemoteCompletionOptions options)
    : client_(endpoint), model_(std::move(model)), options_(options) {}

std::unique_ptr<RemoteCompletion> RemoteCompletion::open(const RemoteEndpoint& endpoint, const QString& model,
                                                         RemoteCompletionOptions options, QString* error) {
    std::unique_ptr<RemoteCompletion> c(new RemoteCompletion(endpoint, model, options));
    const ModelList list = c->client_.models();
    if (!list.error.isEmpty()) {
        if (error) *error = list.error;
        return nullptr;
    }
    const RemoteModel* found = nullptr;
    QStringList ids;
    for (const RemoteModel& m : list.models) {
        ids << m.id;
        if (m.id == model) found = &m;
    }
    if (!found) {
        if (error)
            *error = QStringLiteral("the server has no model '%1'; it offers: %2")
                         .arg(model, ids.isEmpty() ? QStringLiteral("(none)") : ids.join(QStringLiteral(", ")));
        return nullptr;
    }
    c->contextSize_ = options.contextSize > 0 ? options.contextSize
                      : found->maxModelLen > 0 ? found->maxModelLen : kDefaultContext;
    if (found->maxModelLen > 0) c->contextSize_ = std::min(c->contextSize_, found->maxModelLen);
    if (options.useServerTokenizer) c->serverTokenizer_ = c->client_.tokenCount(QStringLiteral("probe"), nullptr).has_value();
    return c;
}

int RemoteCompletion::countTokens(const QString& text) const {
    if (text.isEmpty()) return 0;
    if (!serverTokenizer_) return estimateTokensConservatively(text);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto it = cache_.constFind(text); it != cache_.constEnd()) return *it;
    }
    const std::optional<int> n = client_.tokenCount(text, nullptr);
    // A server that stops answering mid-way: the estimate is on the safe side.
    if (!n) return estimateTokensConservatively(text);
    std::lock_guard<std::mutex> lock(mutex_);
    if (cache_.size() > kCacheLimit) cache_.clear();
    cache_.insert(text, *n);
    return *n;
}

int RemoteCompletion::templateOverhead() const { return kTemplateOverhead; }

documents::CompletionResult RemoteCompletion::complete(const documents::CompletionRequest& request,
                                                       const std::function<void(const QString&)>& onText,
                                                       const std::atomic<bool>* cancel) {
    GenerationRequest g;
    g.kind = GenerationRequest::Kind::Chat;
    g.model = model_;
    if (!request.system.isEmpty()) g.messages.append({QStringLiteral("system"), request.system});
    g.messages.append({QStringLiteral("user"), request.user});
    g.maxTokens = request.maxTokens;
    g.temperature = options_.temperature;
    g.seed = options_.seed;
    // The reply is shown without its leading whitespace, as local completions show it.
    bool leading = true;
    const GenerationReply r = client_.generate(g, [&](const QString& piece) {
        const QString p = leading ? withoutLeadingSpace(piece) : piece;
        if (p.isEmpty()) return;
        leading = false;
        if (onText) onText(p);
    }, cancel);
    documents::CompletionResult out;
    out.text = withoutLeadingSpace(r.text);
    out.cancelled = r.end == ReplyEnd::Cancelled;
    if (r.end == ReplyEnd::Failed || r.end == ReplyEnd::Interrupted) out.error = r.error;
    out.promptTokens = std::max(0, r.promptTokens);
    out.generatedTokens = std::max(0, r.completionTokens);
    return out;
}

}  // namespace ld::remote
