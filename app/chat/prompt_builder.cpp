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

// Shorter passages than this say nothing useful: the block goes.
constexpr qsizetype kMinContextChars = 16;

}  // namespace

QString promptText(const PromptMessage& m) {
    if (m.context.isEmpty()) return m.content;
    // The passages first and the question last, where the model reads on from; the tags keep
    // the documents apart from the user's words however they are cut.
    return QStringLiteral("<documents>\n%1\n</documents>\n\n%2").arg(m.context.trimmed(), m.content);
}

bool shortenContext(PromptMessage& m) {
    if (m.context.isEmpty()) return false;
    m.context.truncate(m.context.size() * 3 / 4);
    if (m.context.trimmed().size() < kMinContextChars) m.context.clear();
    return true;
}

BuiltPrompt buildPrompt(ChatTemplate tmpl, const Tokenizer& tok, const QList<PromptMessage>& messages,
                        const QString& replyPrefix, int budget) {
    std::vector<ChatMessage> system, turns;
    PromptMessage newest;  // the newest turn, whose passages may be shortened
    for (const PromptMessage& m : messages) {
        ChatMessage c{m.role.toStdString(), promptText(m).toStdString()};
        if (m.role != QLatin1String("system")) newest = m;
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
    // Only the newest turn is left and still too long. Its documents' passages go first, from
    // their end (least relevant last), then the system message from its end, then all of it,
    // before the turn is refused: the user's own words are never cut.
    if (out.tokens.empty() && !turns.empty()) {
        from = turns.size() - 1;
        auto fits = [&] {
            out.tokens = encode(tmpl, tok, system, turns, from, prefix);
            if (int(out.tokens.size()) <= budget) return true;
            out.tokens.clear();
            return false;
        };
        bool done = false;
        while (!done && shortenContext(newest)) {
            turns.back().content = promptText(newest).toStdString();
            done = fits();
        }
        if (!done && !system.empty()) {
            QString text = QString::fromStdString(system.back().content);
            while (!done && !text.isEmpty()) {
                text.truncate(text.size() * 3 / 4);
                if (text.size() < kMinContextChars) text.clear();
                system.back().content = text.toStdString();
                done = fits();
            }
            if (!done) {  // without any system message
                system.pop_back();
                done = fits();
            }
        }
    }
    out.droppedMessages = int(from);
    return out;
}

}  // namespace ld::chat
