#include "app/chat/prompt_builder.h"

#include <algorithm>

namespace ld::chat {

namespace {

// Tokens a turn's markers add to its content (Llama 3's header and end of turn: 5; a rough
// count is enough, it only places the marks where older turns are dropped).
constexpr int64_t kTurnMarkup = 5;

std::vector<int32_t> encode(ChatTemplate tmpl, const Tokenizer& tok, const std::vector<ChatMessage>& system,
                            const std::vector<ChatMessage>& turns, size_t from, const std::string& prefix) {
    std::vector<ChatMessage> msgs = system;
    msgs.insert(msgs.end(), turns.begin() + std::ptrdiff_t(from), turns.end());
    std::vector<int32_t> ids = apply_chat_template(tmpl, tok, msgs, true);
    if (!prefix.empty()) {
        const std::vector<int32_t> more = tok.encode(prefix, false);
        ids.insert(ids.end(), more.begin(), more.end());
    }
    return ids;
}

}  // namespace

BuiltPrompt buildPrompt(ChatTemplate tmpl, const Tokenizer& tok, const QList<PromptMessage>& messages,
                        const QString& replyPrefix, int budget) {
    std::vector<ChatMessage> system, turns;
    for (const PromptMessage& m : messages) {
        ChatMessage c{m.role.toStdString(), m.content.toStdString()};
        (m.role == QLatin1String("system") ? system : turns).push_back(std::move(c));
    }
    const std::string prefix = replyPrefix.toStdString();
    BuiltPrompt out;
    size_t from = 0;
    out.tokens = encode(tmpl, tok, system, turns, from, prefix);
    if (int(out.tokens.size()) > budget && turns.size() <= 1) {
        out.tokens.clear();  // only the newest turn, and it does not fit
    } else if (int(out.tokens.size()) > budget) {
        // The kept turns start at the first user turn at or after a multiple of a quarter of
        // the budget, counted in tokens from the chat's first turn: that count depends only on
        // the turns before it, so while the chat grows the start stays where it is until the
        // window is full again. Consecutive prompts then share their beginning and the engine's
        // prefix cache reuses it (dropping as little as possible would move the start, and
        // recompute the whole window, on every turn of a long chat). The price: the model sees
        // between 3/4 of the budget and all of it, not always all of it.
        std::vector<int64_t> at(turns.size() + 1, 0);  // about the tokens of turns [0, i)
        for (size_t i = 0; i < turns.size(); ++i)
            at[i + 1] = at[i] + int64_t(tok.encode(turns[i].content, false).size()) + kTurnMarkup;
        const int64_t stride = std::max(1, budget / 4);
        size_t start = 1;  // only moves on as the mark does
        for (int64_t mark = stride;; mark += stride) {
            while (start + 1 < turns.size() && (at[start] < mark || turns[start].role != "user")) ++start;
            start = std::min(start, turns.size() - 1);
            if (start <= from) continue;  // this mark keeps the same turns
            from = start;
            out.tokens = encode(tmpl, tok, system, turns, from, prefix);
            if (int(out.tokens.size()) <= budget) break;
            if (from + 1 >= turns.size()) {  // only the newest turn is left and it does not fit
                out.tokens.clear();
                break;
            }
        }
    }
    // Only the newest turn is left and still too long: the system message is the rest. The
    // documents' passages for the question sit at its end, least relevant last, so shorten it
    // from the end (in quarters) before refusing the turn.
    if (out.tokens.empty() && !system.empty() && !turns.empty()) {
        from = turns.size() - 1;
        QString text = QString::fromStdString(system.back().content);
        while (!text.isEmpty()) {
            text.truncate(text.size() * 3 / 4);
            if (text.size() < 16) text.clear();
            system.back().content = text.toStdString();
            out.tokens = encode(tmpl, tok, system, turns, from, prefix);
            if (int(out.tokens.size()) <= budget) break;
            out.tokens.clear();
        }
        if (out.tokens.empty()) {  // without any system message
            system.pop_back();
            out.tokens = encode(tmpl, tok, system, turns, from, prefix);
            if (int(out.tokens.size()) > budget) out.tokens.clear();
        }
    }
    out.droppedMessages = int(from);
    return out;
}

}  // namespace ld::chat
