// A chat with documents reuses the engine's prefix cache (issue 17). The passages retrieved for
// a question travel in that question's user turn (PromptMessage::context, sent ahead of the
// question by chat::promptText), and the documents' summaries, the same for every question, at
// the end of the system message; both were at the end of the system message, where the passages
// changed the prompt from the first excerpt on every turn. Checked here:
//  - the prompt builders (local buildPrompt, remote fitMessages) cut the newest turn's passages
//    from their end, least relevant first, before the system message, and never the question;
//  - the real ChatController, DocumentController and EngineHost with tiny-llama31 (Llama 3
//    template and tokenizer) on the CPU backend, whose batch scheduler keeps finished prompts
//    in its prefix cache: a text document is attached (the summary is generated), then several
//    questions about it with another chat's turns between them. Each turn reuses exactly the
//    whole blocks before the previous question (which is then re-read without its passages), a
//    regenerated reply all of its prompt (the passages are the same for the same question), and
//    the stored messages are what the user typed. Measured: turns 2-6 reuse 64, 68, 73, 76 and
//    75% of their 1,301-1,699-token prompts; with the old placement each turn reused only the
//    320 tokens before the first excerpt, 23% falling to 18%. Every earlier turn keeping its own
//    passages would share 75-89% of each prompt but make it 1.8x as long by the sixth turn.
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../qt_test_util.h"
#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/chat/prompt_builder.h"
#include "app/chat/remote_engine.h"
#include "app/documents/document_controller.h"
#include "app/history/history_store.h"
#include "app/settings/app_settings.h"
#include "inference/model/llama.h"
#include "inference/tokenizer/tokenizer.h"

using namespace ld;
using namespace ld::chat;

namespace {

const QString kModel = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
constexpr int kBlock = 64;  // the CPU backend's KV block: the prefix cache reuses whole blocks

using ld::test::await;

using ld::test::commonPrefix;

// Six parts, each about one thing no other part names: a question about it retrieves that part.
struct Topic {
    const char* subject;
    const char* sentence;
    const char* question;
};
const Topic kTopics[] = {
    {"kite", "the red kite flew over the windmill near Ashford", "What did the kite fly over?"},
    {"boat", "the blue sailboat drifted past the lighthouse at dusk", "Where did the sailboat drift?"},
    {"baker", "the baker pulled rye loaves from the brick oven", "What did the baker pull from the oven?"},
    {"violin", "the violinist tuned her violin before the concert", "What did the violinist tune?"},
    {"glacier", "the glacier carved a valley through granite slowly", "What did the glacier carve?"},
    {"robot", "the robot welded steel frames in the factory", "What did the robot weld?"},
};

QString documentText() {
    QString s;
    for (int t = 0; t < 6; ++t) {
        s += QStringLiteral("Part %1\n\n").arg(t + 1);
        for (int i = 0; i < 16; ++i) s += QStringLiteral("On day %1 %2. ").arg(t * 20 + i).arg(QLatin1String(kTopics[t].sentence));
        s += QStringLiteral("\n\n");
    }
    return s;
}

// A context as relevantContext writes it: the most relevant passage first.
const QString kContext = QStringLiteral(
    "The user attached these documents to the conversation. Answer from them when the question is about them.\n"
    "\nExcerpt from a.txt:\nALPHA the most relevant passage, about the kite and the windmill, long enough to matter.\n"
    "\nExcerpt from a.txt:\nBETA a middling passage about sailboats drifting past the lighthouse at dusk again.\n"
    "\nExcerpt from a.txt:\nOMEGA the least relevant passage, about robots welding frames in a steel factory.\n");
const QString kQuestion = QStringLiteral("What did the kite fly over, and why? Answer in one sentence please.");

QList<PromptMessage> promptWithPassages() {
    return {{QStringLiteral("system"), QStringLiteral("Be brief and cite the document.")},
            {QStringLiteral("user"), QStringLiteral("Hello there, a first question.")},
            {QStringLiteral("assistant"), QStringLiteral("Hello! A first answer.")},
            {QStringLiteral("user"), kQuestion, kContext}};
}

}  // namespace

class TestChatDocumentReuse : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Tokenizer> tok_;

private slots:
    void initTestCase() {
        LD_QREQUIRE_FILE(kModel);
        model_ = load_model(kModel.toStdString());
        tok_ = Tokenizer::create(model_->vocab);
        QCOMPARE(detect_chat_template(model_->vocab, "llama"), ChatTemplate::Llama3);
    }

    // The sent text: the passages in a marked block, the question last and whole.
    void promptTextPutsThePassagesBeforeTheQuestion() {
        const QString sent = promptText({QStringLiteral("user"), kQuestion, kContext});
        QVERIFY(sent.startsWith(QStringLiteral("<documents>\nThe user attached")));
        QVERIFY(sent.endsWith(QStringLiteral("</documents>\n\n") + kQuestion));
        QCOMPARE(promptText({QStringLiteral("user"), kQuestion}), kQuestion);
    }

    // Local prompts: as the budget shrinks, the older turns go first, then the passages from the
    // least relevant, then the system message; the question is never cut (refused instead).
    void buildPromptCutsThePassagesNeverTheQuestion() {
        const QList<PromptMessage> msgs = promptWithPassages();
        // What was left out, as the chat's notice will say it (PromptFit).
        PromptFit said;
        auto text = [&](int budget) {
            const BuiltPrompt p = buildPrompt(ChatTemplate::Llama3, *tok_, msgs, {}, budget);
            said = p;
            // Over the budget would show as a missing question below.
            if (int(p.tokens.size()) > budget) return std::pair{QString(), -1};
            return std::pair{QString::fromStdString(tok_->decode(p.tokens)), p.droppedMessages};
        };
        const auto [full, none] = text(1 << 20);
        QVERIFY(!said.any());
        QCOMPARE(none, 0);
        for (const char* s : {"Be brief", "first question", "<documents>", "ALPHA", "BETA", "OMEGA", "</documents>"})
            QVERIFY2(full.contains(QLatin1String(s)), s);
        QVERIFY(full.indexOf(QStringLiteral("OMEGA")) < full.indexOf(kQuestion));
        const int all = int(buildPrompt(ChatTemplate::Llama3, *tok_, msgs, {}, 1 << 20).tokens.size());
        const int question = int(buildPrompt(ChatTemplate::Llama3, *tok_, {{QStringLiteral("user"), kQuestion}}, {}, 1 << 20).tokens.size());
        int cut = 0, withoutPassages = 0;
        for (int budget = all - 1; budget > 0; --budget) {
            const auto [t, dropped] = text(budget);
            QVERIFY(dropped >= 0);
            if (t.isEmpty()) {
                QVERIFY(budget < question);  // refused only when the question alone does not fit
                break;
            }
            QVERIFY2(t.contains(kQuestion), qPrintable(t));
            QCOMPARE(dropped, t.contains(QStringLiteral("first question")) ? 0 : 2);
            // Passages go from the end: a kept one has every more relevant one before it.
            if (t.contains(QStringLiteral("OMEGA"))) QVERIFY(t.contains(QStringLiteral("BETA")));
            if (t.contains(QStringLiteral("BETA"))) QVERIFY(t.contains(QStringLiteral("ALPHA")));
            if (t.contains(QStringLiteral("<documents>"))) {
                QVERIFY(t.contains(QStringLiteral("</documents>")));
                QVERIFY(t.contains(QStringLiteral("Be brief and cite the document.")));  // the system message goes after them
                if (!t.contains(QStringLiteral("OMEGA"))) ++cut;
            } else {
                ++withoutPassages;
            }
            QVERIFY(dropped == 2 || t.contains(QStringLiteral("OMEGA")));  // older turns go before any passage
            // The notice says what went: the passages' end (the least relevant's last words),
            // the system message's end.
            QCOMPARE(said.passagesShortened, !t.contains(QStringLiteral("robots welding frames in a steel factory.")));
            QCOMPARE(said.systemShortened, !t.contains(QStringLiteral("Be brief and cite the document.")));
        }
        QVERIFY(cut > 0);
        QVERIFY(withoutPassages > 0);
    }

    // Remote prompts (RemoteEngine): the same order, counted by the server's tokens.
    void fitMessagesCutsThePassagesNeverTheQuestion() {
        const QList<PromptMessage> msgs = promptWithPassages();
        auto count = [](const PromptMessage& m) { return int(promptText(m).size()); };
        int total = 0;
        for (const PromptMessage& m : msgs) total += count(m);
        FittedMessages f = fitMessages(msgs, count, total);
        QCOMPARE(f.messages.size(), 4);
        QCOMPARE(f.messages.last().context, kContext);
        // Without the older exchange, all passages still fit.
        f = fitMessages(msgs, count, total - count(msgs[1]) - count(msgs[2]));
        QCOMPARE(f.droppedMessages, 2);
        QCOMPARE(f.messages.last().context, kContext);
        QVERIFY(!f.passagesShortened && !f.systemShortened);
        // Less room: the passages are cut from their end; the question and system message stay.
        f = fitMessages(msgs, count, total - count(msgs[1]) - count(msgs[2]) - 60);
        QCOMPARE(f.messages.size(), 2);
        QCOMPARE(f.messages.last().content, kQuestion);
        QVERIFY(kContext.startsWith(f.messages.last().context));
        QVERIFY(f.messages.last().context.contains(QStringLiteral("ALPHA")));
        QVERIFY(!f.messages.last().context.contains(QStringLiteral("OMEGA")));
        QCOMPARE(f.messages.first().content, msgs[0].content);
        QVERIFY(f.passagesShortened && !f.systemShortened);
        // Room for the question only: no passages, then no system message; never a cut question.
        f = fitMessages(msgs, count, count({QStringLiteral("user"), kQuestion}) + 10);
        QCOMPARE(f.messages.size(), 1);
        QCOMPARE(f.messages.last().content, kQuestion);
        QVERIFY(f.messages.last().context.isEmpty());
        QVERIFY(f.passagesShortened && f.systemShortened);
        QVERIFY(fitMessages(msgs, count, int(kQuestion.size()) - 1).messages.isEmpty());
    }

    void documentChatReusesItsPrefix() {
        history::HistoryStore store(dir_.filePath(QStringLiteral("h.db")));
        QVERIFY(await(store.opened()).ok());
        settings::AppSettings settings(dir_.filePath(QStringLiteral("s.ini")));
        settings.setTemperature(0);
        settings.setMaxTokens(96);
        settings.setSystemPrompt(QStringLiteral("You are a helpful assistant."));
        EngineHost engine;
        ChatController chat(&store, &engine, &settings);
        documents::DocumentController docs(&store, &engine, &chat);
        ChatController other(&store, &engine, &settings);  // another chat between the turns
        {
            QSignalSpy loaded(&engine, &EngineHost::modelLoaded);
            QSignalSpy failed(&engine, &EngineHost::modelLoadFailed);
            EngineConfig c;
            c.modelPath = kModel;
            c.backend = QStringLiteral("cpu");
            c.threads = 2;
            c.contextLength = 4096;
            c.parallelSequences = 2;
            engine.load(c);
            QVERIFY(QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, 60000));
            QVERIFY2(failed.isEmpty(), qPrintable(failed.isEmpty() ? QString() : failed.first().value(1).toString()));
        }
        chat.newChat();
        other.newChat();

        const QString path = dir_.filePath(QStringLiteral("notes.txt"));
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(documentText().toUtf8());
        }
        QSignalSpy summarized(&docs, &documents::DocumentController::summaryFinished);
        docs.addPaths({path});
        QVERIFY(summarized.wait(120000));
        QVERIFY(summarized.first().value(1).toBool());
        QVERIFY(QTest::qWaitFor([&] { return chat.conversationId() != 0 && chat.messages().size() == 2 && !chat.busy(); }, 10000));
        // A chat a document started has the new chat's system prompt, as one a message started.
        QCOMPARE(chat.systemPrompt(), QStringLiteral("You are a helpful assistant."));
        {
            const auto bundle = await(store.loadConversation(chat.conversationId()));
            QVERIFY(bundle.ok());
            QCOMPARE(bundle.value().conversation.systemPrompt, QStringLiteral("You are a helpful assistant."));
        }
        // Then a prompt of its own.
        chat.setChatSettings(QStringLiteral("You are a helpful assistant. Answer from the user's documents."), {});

        // Each reply's request (what ChatController sent) and outcome (what the engine reused).
        QList<GenerationRequest> requests;
        QHash<quint64, GenerationOutcome> outcomes;
        connect(&engine, &EngineHost::requestGenerate, this, [&](const GenerationRequest& r) { requests.append(r); });
        connect(&engine, &EngineHost::finished, this, [&](const GenerationOutcome& o) { outcomes.insert(o.id, o); });
        auto answer = [&](ChatController& c, const std::function<void()>& start) {
            QSignalSpy done(&c, &ChatController::replyFinished);
            const qsizetype before = requests.size();
            start();
            if (!QTest::qWaitFor([&] { return done.count() > 0; }, 60000) || requests.size() <= before) return GenerationRequest{};
            for (qsizetype i = before; i < requests.size(); ++i)  // skips a title request of the other chat
                if (requests[i].speculate) return requests[i];
            return GenerationRequest{};
        };
        const int budget = engine.contextSize() - 96;  // EngineWorker::prepare: the window less the reply's room
        auto tokensOf = [&](const GenerationRequest& r) { return buildPrompt(ChatTemplate::Llama3, *tok_, r.messages, r.replyPrefix, budget); };

        std::vector<int32_t> previous, eachPrevious;
        GenerationRequest last;
        double fraction = 0;
        int lastReused = 0;
        for (int turn = 0; turn < 6; ++turn) {
            const QString question = QString::fromLatin1(kTopics[turn].question);
            const GenerationRequest r = answer(chat, [&] { QVERIFY(chat.send(question)); });
            QVERIFY(r.id != 0);
            QVERIFY(outcomes.contains(r.id));
            const GenerationOutcome& out = outcomes[r.id];
            // Only the question's turn carries passages, and they are the ones about it.
            QCOMPARE(r.messages.back().content, question);
            QVERIFY2(r.messages.back().context.contains(QLatin1String(kTopics[turn].sentence)), qPrintable(r.messages.back().context));
            for (int t = 0; t < 6; ++t)
                if (t != turn) QVERIFY(!r.messages.back().context.contains(QLatin1String(kTopics[t].sentence)));
            for (qsizetype i = 0; i + 1 < r.messages.size(); ++i) QVERIFY(r.messages[i].context.isEmpty());
            QCOMPARE(chat.messages().at(chat.messages().size() - 2).content, question);  // stored as typed

            const BuiltPrompt built = tokensOf(r);
            QCOMPARE(built.droppedMessages, 0);
            QCOMPARE(out.promptTokens, int(built.tokens.size()));
            if (turn > 0) {
                // Everything before the previous question comes back token for token...
                QList<PromptMessage> upTo = r.messages.mid(0, r.messages.size() - 3);
                std::vector<ChatMessage> before;
                for (const PromptMessage& m : upTo) before.push_back({m.role.toStdString(), promptText(m).toStdString()});
                const size_t stable = apply_chat_template(ChatTemplate::Llama3, *tok_, before, false).size();
                const size_t same = commonPrefix(previous, built.tokens);
                QVERIFY2(same >= stable, qPrintable(QStringLiteral("turn %1: %2 < %3").arg(turn).arg(same).arg(stable)));
                // ... and the engine takes its whole blocks from the cache, after the other chat.
                QVERIFY2(out.promptReused <= int(same) && out.promptReused > int(same) - kBlock,
                         qPrintable(QStringLiteral("turn %1: reused %2 of %3 shared").arg(turn).arg(out.promptReused).arg(same)));
                fraction = double(out.promptReused) / out.promptTokens;
                qInfo("turn %d: prompt %d tokens, %d reused (%.1f%%), the previous question starts at %zu", turn + 1,
                      out.promptTokens, out.promptReused, 100.0 * fraction, stable);
            }
            // The other rule, measured for the choice (ChatController::buildRequest): every user
            // turn with its own passages shares all but the new turn, but grows by a passage block
            // a turn and soon drops older turns, which moves the start.
            GenerationRequest each = r;
            for (PromptMessage& m : each.messages)
                if (m.role == QLatin1String("user") && m.context.isEmpty()) m.context = docs.contextFor(chat.conversationId(), m.content).passages;
            const BuiltPrompt eachBuilt = tokensOf(each);
            if (!eachPrevious.empty())
                qInfo("  each turn with its passages: prompt %zu tokens, %d turns dropped, %.1f%% shared with the last prompt",
                      eachBuilt.tokens.size(), eachBuilt.droppedMessages,
                      100.0 * double(commonPrefix(eachPrevious, eachBuilt.tokens)) / double(eachBuilt.tokens.size()));
            eachPrevious = eachBuilt.tokens;
            previous = built.tokens;
            last = r;
            lastReused = out.promptReused;
            const GenerationRequest o = answer(other, [&] {
                QVERIFY(other.send(QStringLiteral("Tell me about the weather in spring, turn %1.").arg(turn)));
            });
            QVERIFY(o.id != 0);
        }
        QVERIFY2(fraction > 0.65, qPrintable(QString::number(fraction)));

        // A regenerated reply: the same passages, the same prompt, all of it from the cache.
        const GenerationRequest again = answer(chat, [&] { chat.regenerate(); });
        QVERIFY(again.id != 0 && outcomes.contains(again.id));
        QCOMPARE(again.messages.size(), last.messages.size());
        QCOMPARE(again.messages.back().content, last.messages.back().content);
        QCOMPARE(again.messages.back().context, last.messages.back().context);
        const std::vector<int32_t> regenerated = tokensOf(again).tokens;
        QVERIFY(regenerated == previous);
        const int whole = int(previous.size() - 1) / kBlock * kBlock;
        QCOMPARE(outcomes[again.id].promptReused, whole);
        qInfo("regenerate: %d of %zu prompt tokens reused (the last turn reused %d)", whole, previous.size(), lastReused);
    }
};

QTEST_GUILESS_MAIN(TestChatDocumentReuse)
#include "test_chat_document_reuse.moc"
