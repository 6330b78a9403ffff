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
// start the same way and reuse the engine's prefix cache; the newest turn always stays, and so
// does the system message unless even the two alone do not fit: then it is shortened from its
// end (where the documents' passages are), rather than the turn refused.
BuiltPrompt buildPrompt(ChatTemplate tmpl, const Tokenizer& tok, const QList<PromptMessage>& messages,
                        const QString& replyPrefix, int budget);

}  // namespace ld::chat
