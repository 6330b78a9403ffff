#include "app/chat/prompt_builder.h"

namespace ld::chat {

namespace {

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
    for (;;) {
        out.tokens = encode(tmpl, tok, system, turns, from, prefix);
        if (int(out.tokens.size()) <= budget) break;
        if (from + 1 >= turns.size()) {  // only the newest turn is left and it does not fit
            out.tokens.clear();
            break;
        }
        // Drop the oldest turn, then anything up to the next user turn.
        ++from;
        while (from + 1 < turns.size() && turns[from].role != "user") ++from;
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
