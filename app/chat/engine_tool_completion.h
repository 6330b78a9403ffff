#pragma once
// The tool loop's completion over the app's engine thread: each reply is the conversation
// rendered with the tool prompt (apply_tool_chat_template, on the calling worker thread with the
// loaded model's shared tokenizer), queued on the UI thread's EngineHost as prompt tokens, and
// waited for on the calling thread (never the UI thread), its text streamed back piece by piece.
// The turn's stop flag stops the request. Local models only (a remote engine takes messages).
#include <QPointer>
#include <atomic>
#include <memory>

#include "app/chat/chat_types.h"
#include "app/mcp/tool_loop.h"

namespace ld::chat {

class EngineHost;

class EngineToolCompletion final : public mcp::ToolCompletion {
public:
    // `tokenizer`, `contextSize`: the loaded model's (EngineHost::modelInfo(), read on the UI
    // thread). Throws ld::Error without a tokenizer.
    // `onFinished` (optional) gets each reply's outcome on the UI thread, before the waiting
    // thread goes on: the numbers for the reply's stats.
    EngineToolCompletion(EngineHost* engine, std::shared_ptr<const Tokenizer> tokenizer, int contextSize,
                         SamplingConfig sampling, const std::atomic<bool>* cancel,
                         std::function<void(const GenerationOutcome&)> onFinished = {});

    std::string complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& options,
                         const std::function<void(std::string_view)>& onText) override;
    const Tokenizer& tokenizer() const override { return *tokenizer_; }
    size_t contextTokens() const override { return size_t(contextSize_); }

private:
    QPointer<EngineHost> engine_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    int contextSize_ = 0;
    SamplingConfig sampling_;
    const std::atomic<bool>* cancel_;
    std::function<void(const GenerationOutcome&)> onFinished_;
};

}  // namespace ld::chat
