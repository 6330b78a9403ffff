#pragma once
// Titles for conversations: a heuristic one at once (the first line of the first message) and
// one the model writes after the first exchange.
#include <QString>

#include "app/chat/chat_types.h"

namespace ld::chat {

// The first line of `text`, shortened: the title until the model's arrives, and the fallback.
QString heuristicTitle(const QString& text);
// Asks for a title as one more user turn after the first exchange, so the engine reuses the
// conversation's cached prompt. Greedy and short.
GenerationRequest titleRequest(const QString& systemPrompt, const QString& user, const QString& reply);
// The model's answer made into a title (first line, no quotes, "Title:" or trailing period);
// empty when nothing usable is left.
QString cleanTitle(const QString& generated);

}  // namespace ld::chat
