#include "app/documents/engine_completion.h"

#include "app/chat/engine_call.h"
#include "app/chat/engine_host.h"
#include "inference/chat/chat_format.h"
#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::documents {

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

    chat::EngineHost* engine = engine_.data();
    if (!engine) return CompletionResult{{}, false, QStringLiteral("the engine was closed"), 0, 0};
    const chat::EngineCallResult res = chat::runOnEngine(engine, r, onText, cancel);
    if (!res.failure.isEmpty()) return CompletionResult{{}, false, res.failure, 0, 0};
    const chat::GenerationOutcome& out = res.outcome;
    return CompletionResult{out.text, out.cancelled, {}, out.promptTokens, out.genTokens};
}

}  // namespace ld::documents
