#include "app/chat/prompt_builder.h"

#include <QStringList>

#include <algorithm>
#include <functional>

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

bool cutQuarter(QString& text) {
    if (text.isEmpty()) return false;
    text.truncate(text.size() * 3 / 4);
    if (text.trimmed().size() < kMinContextChars) text.clear();
    return true;
}

namespace {

// The same step on a message's UTF-8 content.
bool cutQuarter(std::string& text) {
    QString s = QString::fromStdString(text);
    if (!chat::cutQuarter(s)) return false;
    text = s.toStdString();
    return true;
}

}  // namespace

bool shortenContext(PromptMessage& m) { return cutQuarter(m.context); }

int replyReserve(int maxTokens, int contextSize) { return std::clamp(maxTokens, 16, std::max(16, contextSize / 2)); }

namespace {

// The rule both prompt builders share: the prompt of the turns from `from` on (`render`), the
// oldest left out until it fits `budget`, never past turns[keep] (the current turn's start).
// `fixed`: the tokens every prompt has whatever its turns (the system message, the tool
// definitions: the prompt with one empty user turn). Returns `from`; *tokens is empty when even
// the turns from `keep` on do not fit.
size_t dropOldest(const Tokenizer& tok, const std::vector<ChatMessage>& turns, size_t keep, int budget, int fixed,
                  const std::function<std::vector<int32_t>(size_t)>& render, std::vector<int32_t>* tokens) {
    size_t from = 0;
    *tokens = render(from);
    if (int(tokens->size()) <= budget) return from;
    if (keep == 0) {  // only the current turn, and it does not fit
        tokens->clear();
        return from;
    }
    // The kept turns start at the first user turn at or after a multiple of a quarter of the
    // room the turns have (the budget less `fixed`), counted in tokens from the chat's first turn: that count depends only on the
    // turns before it, so while the chat grows the start stays where it is until the window is
    // full again. Consecutive prompts then share their beginning and the engine's prefix cache
    // reuses it (dropping as little as possible would move the start, and recompute the whole
    // window, on every turn of a long chat). The price: the model sees between 3/4 of the budget
    // and all of it, not always all of it.
    std::vector<int64_t> at(keep + 1, 0);  // about the tokens of turns [0, i)
    for (size_t i = 0; i < keep; ++i)
        at[i + 1] = at[i] + int64_t(tok.encode(turns[i].content, false).size()) + kTurnMarkup;
    // Of the room, not the budget: hundreds of tokens of tool definitions would otherwise make
    // a quarter step most of what the turns have, and the start move nearly every turn.
    const int64_t stride = std::max(1, (budget > fixed ? budget - fixed : budget) / 4);
    size_t start = 1;  // only moves on as the mark does
    for (int64_t mark = stride;; mark += stride) {
        while (start < keep && (at[start] < mark || turns[start].role != "user")) ++start;
        if (start <= from) continue;  // this mark keeps the same turns
        from = start;
        *tokens = render(from);
        if (int(tokens->size()) <= budget) return from;
        if (from >= keep) {  // only the current turn is left and it does not fit
            tokens->clear();
            return from;
        }
    }
}

}  // namespace

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
    const int fixed = int(encode(tmpl, tok, system, {{"user", ""}}, 0, {}).size());
    size_t from = dropOldest(tok, turns, turns.empty() ? 0 : turns.size() - 1, budget, fixed,
                             [&](size_t f) { return encode(tmpl, tok, system, turns, f, prefix); }, &out.tokens);
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
            out.passagesShortened = true;
            done = fits();
        }
        if (!done && !system.empty()) {
            out.systemShortened = true;
            while (!done && cutQuarter(system.back().content)) done = fits();
            if (!done) {  // without any system message
                system.pop_back();
                done = fits();
            }
        }
    }
    out.droppedMessages = int(from);
    return out;
}

namespace {

// Where the current turn starts in `turns`: its newest user message (the whole list has none:
// only the newest message stays).
size_t currentTurnStart(const std::vector<ChatMessage>& turns) {
    for (size_t i = turns.size(); i-- > 0;)
        if (turns[i].role == "user") return i;
    return turns.empty() ? 0 : turns.size() - 1;
}

bool isToolResult(const ChatMessage& m) { return m.role == "ipython" || m.role == "tool"; }

// `text`'s first `bytes` bytes, not ending inside a UTF-8 sequence.
std::string utf8Prefix(const std::string& text, size_t bytes) {
    bytes = std::min(bytes, text.size());
    while (bytes > 0 && bytes < text.size() && (uint8_t(text[bytes]) & 0xC0) == 0x80) --bytes;
    return text.substr(0, bytes);
}

}  // namespace

std::vector<ChatMessage> leastOfTurn(const std::vector<ChatMessage>& messages) {
    std::vector<ChatMessage> system, turns;
    for (const ChatMessage& m : messages) (m.role == "system" ? system : turns).push_back(m);
    for (size_t start = currentTurnStart(turns), i = start; i < turns.size(); ++i) {
        system.push_back(turns[i]);
        if (i > start && isToolResult(turns[i])) system.back().content = std::string(kCutToFitMarker + 1);
    }
    return system;
}

FittedToolPrompt fitToolPrompt(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                               const ToolPromptOptions& options, int budget, const QString& passages) {
    std::vector<ChatMessage> system, turns;
    for (const ChatMessage& m : messages) (m.role == "system" ? system : turns).push_back(m);
    const size_t keep = currentTurnStart(turns);
    // A document chat's question carries its passages as a plain turn's does (promptText), kept
    // apart until here so that they can be cut like a plain turn's.
    PromptMessage question;
    const bool hasPassages = !passages.isEmpty() && keep < turns.size() && turns[keep].role == "user";
    if (hasPassages) {
        question = {QStringLiteral("user"), QString::fromStdString(turns[keep].content), passages};
        turns[keep].content = promptText(question).toStdString();
    }
    auto render = [&](size_t from) {
        std::vector<ChatMessage> msgs = system;
        msgs.insert(msgs.end(), turns.begin() + std::ptrdiff_t(from), turns.end());
        return apply_tool_chat_template(tok, msgs, options, true);
    };
    FittedToolPrompt out;
    std::vector<ChatMessage> empty = system;
    empty.push_back({"user", ""});
    const int fixed = int(apply_tool_chat_template(tok, empty, options, true).size());
    const size_t from = dropOldest(tok, turns, keep, budget, fixed, render, &out.tokens);
    out.droppedMessages = int(from);
    auto fits = [&] {
        std::vector<int32_t> ids = render(from);
        if (int(ids.size()) <= budget) out.tokens = std::move(ids);
        return !out.tokens.empty();
    };
    // The current turn alone is too long. As in buildPrompt, its documents' passages go first, a
    // quarter at a time from their end (the least relevant), always counted from all of them: the
    // replies of the turn that need the same cut send the same question and share the prefix cache.
    while (out.tokens.empty() && hasPassages && shortenContext(question)) {
        turns[keep].content = promptText(question).toStdString();
        out.passagesShortened = true;
        fits();
    }
    // Then its tool results, which pile up (each was cut on arrival to what the turn left then,
    // counting the passages as gone and the system message whole: mcp::ToolLoop::resultBudget).
    // The oldest give way first, each to what the overflow asks (in proportion to its characters,
    // then again while the tokens merge differently at the cut), down to the marker alone, before
    // the next one is touched.
    const std::string marker = kCutToFitMarker;
    const int64_t markerTokens = int64_t(tok.encode(marker, false).size());
    for (size_t i = keep + 1; out.tokens.empty() && i < turns.size(); ++i) {
        if (!isToolResult(turns[i])) continue;
        const std::string original = turns[i].content;
        size_t kept = original.size();
        bool cut = false;
        while (kept > 0) {
            const std::vector<int32_t> ids = render(from);
            if (int(ids.size()) <= budget) {
                out.tokens = ids;
                break;
            }
            const int64_t over = int64_t(ids.size()) - budget;
            const int64_t has = std::max<int64_t>(1, int64_t(tok.encode(utf8Prefix(original, kept), false).size()));
            const int64_t want = has - over - (cut ? 0 : markerTokens);
            // At least an eighth each step, so a stubborn overflow cannot take many renders.
            size_t next = want <= 0 ? 0 : std::min(kept * 7 / 8, size_t(double(kept) * double(want) / double(has)));
            const std::string head = utf8Prefix(original, next);
            kept = head.size();
            turns[i].content = kept > 0 ? head + marker : marker.substr(1);
            cut = true;
        }
        if (cut) ++out.shortenedResults;
        if (out.tokens.empty()) fits();
    }
    // Last, as in buildPrompt, the system message from its end (a document chat's overview ends
    // it), down to nothing but not left out: the tool template would write its default one.
    for (size_t i = system.size(); out.tokens.empty() && i-- > 0;)
        while (out.tokens.empty() && cutQuarter(system[i].content)) {
            out.systemShortened = true;
            fits();
        }
    if (out.tokens.empty()) return out;
    out.messages = system;
    out.messages.insert(out.messages.end(), turns.begin() + std::ptrdiff_t(from), turns.end());
    return out;
}

QString fittedNotice(const PromptFit& fit) {
    QStringList s;
    if (fit.droppedMessages > 0)
        s << QStringLiteral("This chat is longer than the model's context window: the %1 oldest messages were left out "
                            "of the prompt (%2 recent turns were kept).")
                 .arg(fit.droppedMessages)
                 .arg(fit.systemShortened ? QStringLiteral("the") : QStringLiteral("the system prompt and"));
    if (fit.passagesShortened)
        s << QStringLiteral("The documents' passages for this question were shortened to fit the context window "
                            "(the least relevant left out).");
    if (fit.shortenedResults > 0)
        s << (fit.shortenedResults == 1
                  ? QStringLiteral("A tool result of this turn was cut to fit the context window.")
                  : QStringLiteral("%1 tool results of this turn were cut to fit the context window, the oldest most.")
                        .arg(fit.shortenedResults));
    if (fit.systemShortened) s << QStringLiteral("The end of the system prompt was left out to fit the context window.");
    return s.join(u' ');
}

}  // namespace ld::chat
