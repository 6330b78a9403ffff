#pragma once
// Turning a conversation into prompt tokens that fit the context window.
#include <QList>
#include <cstdint>
#include <vector>

#include "app/chat/chat_types.h"
#include "inference/chat/chat_format.h"

namespace ld::chat {

struct BuiltPrompt {
    std::vector<int32_t> tokens;  // empty: even the last message alone does not fit
    int droppedMessages = 0;      // oldest turns left out
};

// Applies the chat template with a generation prompt (plus `replyPrefix`, the start of the
// reply being continued). When the result exceeds `budget` tokens, the oldest turns go first
// (whole user/assistant exchanges, so the prompt still starts with a user turn), in steps of
// about a quarter of the budget at fixed places of the chat, so that the next turns' prompts
// start the same way and reuse the engine's prefix cache; the newest turn always stays. When it
// alone (with the system message) is still too long, its documents' passages are shortened
// from their end (least relevant first), then the system message from its end, rather than the
// turn refused; the user's own words are never cut.
BuiltPrompt buildPrompt(ChatTemplate tmpl, const Tokenizer& tok, const QList<PromptMessage>& messages,
                        const QString& replyPrefix, int budget);

// The text a turn is sent with (local and remote engines alike): its documents' passages in a
// marked block, then its content.
QString promptText(const PromptMessage& m);

// One step of making a prompt fit: cuts the last quarter of `m`'s passages (the least relevant,
// relevantContext puts them last), or all of them once little is left. false: none were left.
bool shortenContext(PromptMessage& m);

}  // namespace ld::chat
