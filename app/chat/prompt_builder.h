#pragma once
// Turning a conversation into prompt tokens that fit the context window.
#include <QList>
#include <cstdint>
#include <vector>

#include "app/chat/chat_types.h"
#include "inference/chat/chat_format.h"
#include "inference/chat/tool_format.h"

namespace ld::chat {

struct BuiltPrompt : PromptFit {  // what was left out: oldest turns, passages, the system message's end
    std::vector<int32_t> tokens;  // empty: even the last message alone does not fit
};

// Applies the chat template with a generation prompt (plus `replyPrefix`, the start of the
// reply being continued). When the result exceeds `budget` tokens, the oldest turns go first
// (whole user/assistant exchanges, so the prompt still starts with a user turn), in steps of
// about a quarter of the turns' room (the budget less the system message) at fixed places of
// the chat, so that the next turns' prompts
// start the same way and reuse the engine's prefix cache; the newest turn always stays. When it
// alone (with the system message) is still too long, its documents' passages are shortened
// from their end (least relevant first), then the system message from its end, rather than the
// turn refused; the user's own words are never cut.
BuiltPrompt buildPrompt(ChatTemplate tmpl, const Tokenizer& tok, const QList<PromptMessage>& messages,
                        const QString& replyPrefix, int budget);

// The text a turn is sent with (local and remote engines alike): its documents' passages in a
// marked block, then its content.
QString promptText(const PromptMessage& m);

// The room EngineWorker keeps free for the reply: the asked length, but never more than half
// the window (and at least 16 tokens). A prompt rendered by the caller (tools) must fit the rest.
int replyReserve(int maxTokens, int contextSize);

// A turn with tools (mcp::ToolLoop, each reply of it), fitted by buildPrompt's rule: the tool
// definitions stay; the oldest whole exchanges go at the same fixed places
// (so consecutive tool turns reuse the prefix cache); the current turn (from the newest user
// message on: the user's words, the assistant's calls, this turn's tool results) always stays.
// `passages`: a document chat's passages for the newest user message, which `messages` holds
// without them; they are rendered into it as promptText does. When the current turn alone is too
// long, its passages are shortened first, as buildPrompt does (shortenContext, from all of them
// each time, so the same cut gives the same prompt); then this turn's results, the oldest first,
// each ending with kCutToFitMarker where the model reads it (the marker alone once nothing is
// left); then the system message from its end (results go before it: each result was cut on
// arrival to what the turn leaves with the system message whole, mcp::ToolLoop::resultBudget).
// The user's words and the calls are never cut.
struct FittedToolPrompt : PromptFit {
    std::vector<ChatMessage> messages;  // what the model is sent (the passages rendered in)
    std::vector<int32_t> tokens;        // those rendered; empty: even so the turn does not fit
};
FittedToolPrompt fitToolPrompt(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                               const ToolPromptOptions& options, int budget, const QString& passages = {});
// The end of a tool result cut by fitToolPrompt (what the model sees of the cut).
inline constexpr char kCutToFitMarker[] = "\n[... cut to fit the context]";

// What fitToolPrompt makes of `messages` before it cuts the system message: the system messages
// and the current turn (from the newest user message on, its passages gone), its tool results
// cut to the marker. A new result may take what this leaves (mcp::ToolLoop::resultBudget): the
// passages and the older results of the turn then give way.
std::vector<ChatMessage> leastOfTurn(const std::vector<ChatMessage>& messages);

// What the chat says when older messages (this turn's passages, tool results, the system
// message's end) were left out.
QString fittedNotice(const PromptFit& fit);

// One step of making a prompt fit: cuts the last quarter of `m`'s passages (the least relevant,
// relevantContext puts them last), or all of them once little is left. false: none were left.
bool shortenContext(PromptMessage& m);
// The step every cut from the end shares (passages, a system message): the last quarter of
// `text` goes, or all of it once little is left. false: nothing was left to cut.
bool cutQuarter(QString& text);

}  // namespace ld::chat
