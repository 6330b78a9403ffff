// Going back to a long chat must reuse the engine's prefix cache (issue 17). The app rebuilds
// every prompt from the stored text of the messages (chat::buildPrompt), so the earlier replies
// are re-tokenized from text: the prompt for turn n+1 must start with the exact tokens the cache
// holds after turn n (turn n's prompt and the reply's tokens as generated), or the cache is lost
// from where they differ. With the real Llama 3 tokenizer (tiny-llama31) and template:
//  - replies whose tokens are their text's own tokenization (what a trained model mostly writes)
//    come back token for token; a reply that ends in whitespace loses its end (the template trims
//    the content), nothing else;
//  - replies sampled from the random-weight model (tokens a trained model would rarely pick) come
//    back the same up to the first token that is not its text's own tokenization, and the batch
//    scheduler reuses exactly the cached blocks before that point, after another chat ran in
//    between: the fraction of a 4,000-token chat reused on reopening is logged;
//  - a chat longer than the window drops its oldest turns at fixed places, so most turns still
//    extend the previous prompt (dropping the fewest turns moved the start every turn).
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/prompt_builder.h"
#include "inference/backend/backend.h"
#include "inference/model/llama.h"
#include "inference/session/batch_scheduler.h"
#include "inference/tokenizer/tokenizer.h"

using namespace ld;
using ld::chat::buildPrompt;
using ld::chat::PromptMessage;

namespace {

QString sharedModel(const char* name) { return QStringLiteral(LLAMADESK_SHARED_DIR "/models/") + QLatin1String(name); }

using ld::test::commonPrefix;

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A reply as the chat stores it: the streamed text without its leading whitespace
// (EngineWorker's withoutLeadingSpace).
QString stored(const std::string& text) {
    const QString s = QString::fromStdString(text);
    qsizetype i = 0;
    while (i < s.size() && s[i].isSpace()) ++i;
    return s.mid(i);
}

// Deterministic English-like user text of about `tokens` tokens.
QString userText(const Tokenizer& tok, int seed, int tokens) {
    static const char* const kWords[] = {"please", "review", "the", "budget", "for", "March", "and", "list", "risks",
                                         "customers", "asked", "about", "delivery", "times", "in", "our", "northern",
                                         "region", "while", "a", "new", "supplier", "offered", "better", "terms"};
    QString s;
    uint32_t x = uint32_t(seed) * 2654435761u + 1;
    while (int(tok.encode(s.toStdString(), false).size()) < tokens) {
        x = x * 1664525u + 1013904223u;
        s += QLatin1String(s.isEmpty() ? "" : " ") + QLatin1String(kWords[(x >> 8) % 25]);
        if ((x >> 20) % 9 == 0) s += QLatin1Char((x >> 4) % 2 ? '.' : ',');
    }
    return s + QLatin1Char('?');
}

const QString kSystem = QStringLiteral("You are a helpful assistant.");

}  // namespace

class TestChatPrefixReuse : public QObject {
    Q_OBJECT

    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tok_;

    bool load() {
        if (tok_) return true;
        model_ = load_model(sharedModel("tiny-llama31-random-f16.gguf").toStdString());
        tok_ = Tokenizer::create(model_->vocab);
        return true;
    }

private slots:
    void initTestCase() {
        LD_QREQUIRE_FILE(sharedModel("tiny-llama31-random-f16.gguf"));
        QVERIFY(load());
        QCOMPARE(detect_chat_template(model_->vocab, "llama"), ChatTemplate::Llama3);
    }

    // Replies that are their text's own tokens: turn n+1's prompt starts with turn n's prompt
    // and the reply's tokens; only trailing whitespace (trimmed by the template) is lost.
    void textRepliesComeBackTokenForToken() {
        const Tokenizer& tok = *tok_;
        const std::vector<std::pair<QString, bool>> replies = {  // text, ends without whitespace
            {QStringLiteral("Sure! Here are three ideas:\n\n1. Walk.\n2. Read a book.\n3. Cook something new."), true},
            {QStringLiteral("```python\ndef double(x):\n    return x * 2\n```\n\nThat doubles it; `double(21)` is 42."), true},
            {QStringLiteral("Café, naïve, 日本語, emoji 🎉 — and 3.14159 (π) in §2.1."), true},
            {QStringLiteral("Line one.\n\n\nLine two after blank lines.\tTabbed, then  two spaces."), true},
            {QStringLiteral("- **Bold** item\n- *Italic* item\n\n> A quote."), true},
            {QStringLiteral("It ends with a newline.\n"), false},
            {QStringLiteral("And with spaces.  "), false},
        };
        QList<PromptMessage> msgs{{QStringLiteral("system"), kSystem}};
        int turn = 0;
        for (const auto& [reply, clean] : replies) {
            msgs.append({QStringLiteral("user"), userText(tok, ++turn, 40)});
            const std::vector<int32_t> prompt = buildPrompt(ChatTemplate::Llama3, tok, msgs, {}, 1 << 20).tokens;
            const std::vector<int32_t> generated = tok.encode(reply.toStdString(), false);
            msgs.append({QStringLiteral("assistant"), stored(tok.decode(generated))});
            msgs.append({QStringLiteral("user"), userText(tok, 100 + turn, 40)});
            const std::vector<int32_t> next = buildPrompt(ChatTemplate::Llama3, tok, msgs, {}, 1 << 20).tokens;
            msgs.removeLast();
            const size_t same = commonPrefix(concat(prompt, generated), next);
            if (clean) {
                QVERIFY2(same == prompt.size() + generated.size(),
                         qPrintable(QStringLiteral("reply %1 differs at its token %2 of %3")
                                        .arg(turn).arg(qint64(same) - qint64(prompt.size())).arg(generated.size())));
            } else {
                // Exactly where the trimmed text's tokens leave the generated ones, never before.
                const std::vector<int32_t> trimmed = tok.encode(reply.trimmed().toStdString(), false);
                QCOMPARE(same, prompt.size() + commonPrefix(generated, trimmed));
                QVERIFY(commonPrefix(generated, trimmed) + 1 >= generated.size() - 1);
            }
        }
    }

    // Replies sampled from the model through the batch scheduler (the app's engine path), a
    // chat growing to about 4,000 tokens, another chat run between every two turns: each turn
    // reuses exactly the cached whole blocks of what its prompt shares with the cache.
    void sampledRepliesReuseTheCachedBlocks() {
        const Tokenizer& tok = *tok_;
        BackendOptions o;
        o.kind = "cpu";
        o.n_threads = 2;
        o.n_ctx = 8192;
        o.kv_positions = 3 * 8192;
        auto backend = create_backend(*model_, o);
        QVERIFY(backend->supports_sequences());
        BatchScheduler sched(*backend, tok);
        const int B = sched.pool().block_size();
        const int budget = 8192 - 1024;  // EngineWorker::prepare: the window less the reply's room

        auto run = [&](const std::vector<int32_t>& prompt, int maxTokens, uint64_t seed) {
            BatchRequest r;
            r.prompt = prompt;
            r.options.max_tokens = maxTokens;
            r.options.sampling.seed = seed;  // the app's sampling defaults otherwise
            r.options.stop_strings = chat_stop_strings(ChatTemplate::Llama3);
            BatchOutcome out;
            r.on_finished = [&](const BatchOutcome& o) { out = o; };
            sched.submit(std::move(r));
            sched.run_until_idle();
            return out;
        };

        QList<PromptMessage> msgs{{QStringLiteral("system"), kSystem}};
        QList<PromptMessage> other{{QStringLiteral("system"), kSystem}};
        std::vector<int32_t> cached;  // the last turn's prompt and reply as the cache holds them
        size_t lastPromptSize = 0;
        int turns = 0, replyTokens = 0, replySame = 0;
        double lastFraction = 0;
        for (int turn = 1;; ++turn) {
            msgs.append({QStringLiteral("user"), userText(tok, turn, 300)});
            const chat::BuiltPrompt built = buildPrompt(ChatTemplate::Llama3, tok, msgs, {}, budget);
            QCOMPARE(built.droppedMessages, 0);
            const std::vector<int32_t>& prompt = built.tokens;
            // Another chat in between: the turn finds its blocks in the prefix cache, not in a
            // live sequence.
            other.append({QStringLiteral("user"), userText(tok, 1000 + turn, 300)});
            run(buildPrompt(ChatTemplate::Llama3, tok, other, {}, budget).tokens, 1, 7);
            other.removeLast();

            const int64_t reusedBefore = sched.stats().prompt_reused;
            const BatchOutcome out = run(prompt, 64, uint64_t(turn));
            QVERIFY2(out.error.empty(), out.error.c_str());
            const int64_t reused = sched.stats().prompt_reused - reusedBefore;
            if (!cached.empty()) {
                const size_t same = commonPrefix(cached, prompt);
                // Everything before the last reply comes back token for token...
                QVERIFY(same >= lastPromptSize);
                // ... and the scheduler reuses exactly the whole blocks of the shared part.
                const int64_t expect = int64_t(std::min(same, prompt.size() - 1) / size_t(B)) * B;
                QCOMPARE(reused, expect);
                QCOMPARE(out.result.evaluated_tokens, int(prompt.size()) - int(expect));
                replySame += int(same - lastPromptSize);
                if (same < cached.size())
                    qInfo("  differs at token %zu: generated '%s', from the text '%s'", same - lastPromptSize,
                          tok.token_bytes(cached[same]).c_str(), tok.token_bytes(prompt[same]).c_str());
                lastFraction = double(reused) / double(prompt.size());
                qInfo("turn %d: prompt %zu tokens, %lld reused (%.1f%%); the last reply's first %zu of %zu tokens "
                      "re-tokenized the same",
                      turn, prompt.size(), (long long)reused, 100.0 * lastFraction, same - lastPromptSize,
                      cached.size() - lastPromptSize);
            }
            // What the cache holds now: the prompt and the reply's tokens as generated (all of
            // them run after an end of generation; the last one not, after the token limit).
            std::vector<int32_t> ran = out.result.tokens;
            if (out.result.stop != StopReason::EndOfGeneration && !ran.empty()) ran.pop_back();
            cached = concat(prompt, ran);
            lastPromptSize = prompt.size();
            replyTokens += int(out.result.tokens.size());
            msgs.append({QStringLiteral("assistant"), stored(out.result.text)});
            other.append({QStringLiteral("user"), userText(tok, 2000 + turn, 300)});
            other.append({QStringLiteral("assistant"), stored(out.result.text)});
            turns = turn;
            if (prompt.size() >= 4000) break;
        }
        sched.pool().check();
        QVERIFY(turns >= 8);
        // Most of the chat is reused: at least everything before the last reply.
        QVERIFY(lastFraction > 0.85);
        qInfo("%d turns, last prompt %zu tokens: %.1f%% of it reused on reopening; of the %d sampled reply "
              "tokens, %d came back the same from the text",
              turns, lastPromptSize, 100.0 * lastFraction, replyTokens, replySame);
    }

    // A chat longer than the window: the oldest turns go at fixed places, so between two such
    // drops every turn's prompt extends the previous one (a cache hit), and the window is at
    // least 3/4 full after a drop.
    void overflowingChatKeepsItsStartForSeveralTurns() {
        const Tokenizer& tok = *tok_;
        const int budget = 4096 - 1024;  // the app's default context and reply length
        QList<PromptMessage> msgs{{QStringLiteral("system"), kSystem}};
        std::vector<int32_t> previous;
        int dropped = 0, moves = 0, extends = 0, turnsOver = 0;
        for (int turn = 1; turn <= 40; ++turn) {
            msgs.append({QStringLiteral("user"), userText(tok, turn, 150)});
            const chat::BuiltPrompt p = buildPrompt(ChatTemplate::Llama3, tok, msgs, {}, budget);
            QVERIFY(!p.tokens.empty() && int(p.tokens.size()) <= budget);
            QVERIFY(p.droppedMessages % 2 == 0);  // whole exchanges
            QVERIFY(p.droppedMessages >= dropped);
            if (p.droppedMessages > 0) {
                ++turnsOver;
                // The system prompt stays; the kept turns fill at least 3/4 of the budget less
                // one exchange (the drops step by about a quarter).
                QVERIFY(tok.decode(p.tokens).find(kSystem.toStdString()) != std::string::npos);
                QVERIFY(int(p.tokens.size()) >= budget * 3 / 4 - 400);
            }
            if (!previous.empty()) {
                if (p.droppedMessages != dropped) ++moves;
                else if (commonPrefix(previous, p.tokens) == previous.size()) extends += p.droppedMessages > 0;
                else QFAIL(qPrintable(QStringLiteral("turn %1 keeps the same turns but changes the prompt").arg(turn)));
            }
            dropped = p.droppedMessages;
            const QString reply = QStringLiteral("Noted, turn %1: the budget and the risks are listed.").arg(turn);
            previous = concat(p.tokens, tok.encode(reply.toStdString(), false));
            msgs.append({QStringLiteral("assistant"), reply});
        }
        QVERIFY(turnsOver >= 20);
        // ~170 tokens a turn and drops of ~770: a move at most every 4th turn over the window.
        QVERIFY2(moves * 3 <= turnsOver, qPrintable(QStringLiteral("%1 moves in %2 turns").arg(moves).arg(turnsOver)));
        qInfo("over the window: %d of %d turns extend the previous prompt, %d move its start", extends, turnsOver, moves);
    }
};

QTEST_GUILESS_MAIN(TestChatPrefixReuse)
#include "test_chat_prefix_reuse.moc"
