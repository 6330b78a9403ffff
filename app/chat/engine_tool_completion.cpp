#include "app/chat/engine_tool_completion.h"

#include "app/chat/engine_call.h"
#include "app/chat/engine_host.h"
#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::chat {

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
    EngineHost* engine = engine_.data();
    if (!engine) fail("the engine was closed");
    const EngineCallResult res = runOnEngine(
        engine, r,
        [&onText](const QString& piece) {
            const QByteArray utf8 = piece.toUtf8();
            onText(std::string_view(utf8.constData(), size_t(utf8.size())));
        },
        cancel_, onFinished_);
    const QString& error = res.failure.isEmpty() ? res.outcome.error : res.failure;
    if (!error.isEmpty() && res.outcome.text.isEmpty()) fail(error.toStdString());
    return res.outcome.text.toStdString();
}

}  // namespace ld::chat
