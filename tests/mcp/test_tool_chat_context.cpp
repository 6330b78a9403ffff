// Chats with tools that outgrow the context window (chat::fitToolPrompt, used by mcp::ToolLoop
// for every reply of a turn with tools). Before, a tool turn's prompt was the whole chat with the
// tool definitions, never shortened: a long chat with tools on failed with the engine's "The
// message is too long for the model's context window (1024 tokens). ..." on an empty reply.
// Checked here:
//  - with the tokenizer only: a growing chat keeps the start of its fitted prompt (the same
//    fixed places as buildPrompt), the newest user message and this turn's calls stay whole,
//    piled-up results are cut oldest first with the marker, and a turn that cannot fit is refused;
//    a document chat's question (passages given apart) has its passages cut first, at the fixed
//    places of buildPrompt's rule, then this turn's results, then the system message;
//  - with the real ChatController, EngineHost (tiny-llama31 on the CPU backend, a 1,024-token
//    window, its prefix cache) and a real MCP server (tests/mcp/fake_server.js "loud", whose echo
//    returns more than the window): the replies the tiny model cannot write as tool calls come
//    from a script, the others from the engine. A long chat with tools answers, says what was
//    left out as a plain reply does, and its next tool turn reuses the prefix; two huge results
//    in one turn are cut with the marker; a document chat whose passages alone outgrow the window
//    answers with them shortened, and a huge result takes their room; a message larger than the
//    window is a clear error.
#include <QMutex>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <deque>
#include <memory>

#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/chat/engine_tool_completion.h"
#include "app/chat/prompt_builder.h"
#include "app/chat/tool_approval.h"
#include "app/history/history_store.h"
#include "app/mcp/tool_loop.h"
#include "app/mcp/tool_servers.h"
#include "app/settings/app_settings.h"
#include "inference/gguf/gguf.h"
#include "mcp/mcp_test_util.h"

using namespace ld;
using namespace ld::chat;

namespace {

const QString kModel = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
constexpr int kContext = 1024;
constexpr int kMaxTokens = 32;  // the reply's room: the prompt budget is kContext - 32
constexpr int kBlock = 64;      // the CPU backend's KV block: the prefix cache reuses whole blocks

using ld::test::await;

using ld::test::commonPrefix;

// About `words` tokens of user text, different for each `n`.
std::string filler(int n, int words) {
    std::string s = "Question " + std::to_string(n) + ":";
    for (int i = 0; i < words; ++i) s += " word" + std::to_string((n * 7 + i) % 50);
    return s;
}

// The replies the model cannot write (tool calls); an empty one: the engine writes it.
struct Script {
    QMutex mutex;
    std::deque<std::string> replies;
    std::vector<std::vector<ChatMessage>> asked;
};

class ScriptedOrEngine final : public mcp::ToolCompletion {
public:
    ScriptedOrEngine(std::shared_ptr<Script> script, std::unique_ptr<EngineToolCompletion> engine)
        : script_(std::move(script)), engine_(std::move(engine)) {}

    std::string complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& options,
                         const std::function<void(std::string_view)>& onText) override {
        std::string reply;
        {
            QMutexLocker lock(&script_->mutex);
            script_->asked.push_back(messages);
            if (!script_->replies.empty()) {
                reply = script_->replies.front();
                script_->replies.pop_front();
            }
        }
        if (reply.empty()) return engine_->complete(messages, options, onText);
        onText(reply);
        return reply;
    }
    const Tokenizer& tokenizer() const override { return engine_->tokenizer(); }
    size_t contextTokens() const override { return engine_->contextTokens(); }

private:
    std::shared_ptr<Script> script_;
    std::unique_ptr<EngineToolCompletion> engine_;
};

// Passages as a document chat retrieves them (the most relevant first), about 50 tokens each.
QString passagesText(int n) {
    QStringList parts;
    for (int i = 0; i < n; ++i)
        parts << QStringLiteral("[report.txt, passage %1] ").arg(i + 1) + QString::fromStdString(filler(100 + i, 40));
    return parts.join(QStringLiteral("\n\n"));
}

ToolPromptOptions oneTool() {
    ToolPromptOptions o;
    o.tools = {{"echo", "Echoes text", R"({"type":"object","properties":{"text":{"type":"string"}}})"}};
    o.date_string = "06 Dec 2026";
    return o;
}

}  // namespace

class TestToolChatContext : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<Tokenizer> tok_;
    std::unique_ptr<history::HistoryStore> store_;
    std::unique_ptr<settings::AppSettings> settings_;
    std::unique_ptr<EngineHost> engine_;
    std::unique_ptr<mcp::ToolServers> servers_;
    std::unique_ptr<ChatController> chat_;
    std::shared_ptr<Script> script_ = std::make_shared<Script>();
    QList<GenerationRequest> requests_;
    QHash<quint64, GenerationOutcome> outcomes_;
    int approvals_ = 0;

    void script(std::initializer_list<std::string> replies) {
        QMutexLocker lock(&script_->mutex);
        script_->replies.assign(replies);
        script_->asked.clear();
    }
    std::vector<std::vector<ChatMessage>> asked() {
        QMutexLocker lock(&script_->mutex);
        return script_->asked;
    }
    // Sends `text` and waits for the whole turn.
    bool sendAndWait(const QString& text) {
        if (!chat_->send(text)) return false;
        return QTest::qWaitFor([&] { return !chat_->busy(); }, 60000);
    }
    const history::Message& lastMessage() { return chat_->messages().last(); }
    // The replies' requests from `from` on (a new chat's title request is not one).
    QList<GenerationRequest> replyRequests(qsizetype from) {
        QList<GenerationRequest> out;
        for (qsizetype i = from; i < requests_.size(); ++i)
            if (requests_[i].speculate) out << requests_[i];
        return out;
    }

private slots:
    void initTestCase() {
        LD_REQUIRE_NODE();
        LD_QREQUIRE_FILE(kModel);
        tok_ = Tokenizer::create(load_vocab(*gguf::File::open(kModel.toStdString())));
        store_ = std::make_unique<history::HistoryStore>(dir_.filePath(QStringLiteral("h.db")));
        QVERIFY(await(store_->opened()).ok());
        settings_ = std::make_unique<settings::AppSettings>(dir_.filePath(QStringLiteral("s.ini")));
        settings_->setTemperature(0);
        settings_->setMaxTokens(kMaxTokens);
        settings_->setSystemPrompt(QStringLiteral("You are a helpful assistant."));
        engine_ = std::make_unique<EngineHost>();
        {
            QSignalSpy loaded(engine_.get(), &EngineHost::modelLoaded);
            QSignalSpy failed(engine_.get(), &EngineHost::modelLoadFailed);
            EngineConfig c;
            c.modelPath = kModel;
            c.backend = QStringLiteral("cpu");
            c.threads = 2;
            c.contextLength = kContext;
            c.parallelSequences = 2;
            engine_->load(c);
            QVERIFY(QTest::qWaitFor([&] { return loaded.count() + failed.count() > 0; }, 60000));
            QVERIFY2(failed.isEmpty(), qPrintable(failed.isEmpty() ? QString() : failed.first().value(1).toString()));
        }
        QCOMPARE(engine_->contextSize(), kContext);
        servers_ = std::make_unique<mcp::ToolServers>(dir_.filePath(QStringLiteral("mcp.json")));
        QCOMPARE(servers_->addServer(ld::test::fakeServer(QStringLiteral("loud"))), QString());
        chat_ = std::make_unique<ChatController>(store_.get(), engine_.get(), settings_.get());
        chat_->setToolServers(servers_.get());
        // Every call is allowed (the approval itself is tests/gui/test_tool_chat's).
        connect(chat_.get(), &ChatController::toolApprovalChanged, this, [this] {
            if (auto* a = qobject_cast<ToolApproval*>(chat_->toolApprovalObject())) {
                ++approvals_;
                a->allowOnce();
            }
        });
        EngineHost* engine = engine_.get();
        std::shared_ptr<const Tokenizer> tok = engine_->modelInfo().tokenizer;
        QVERIFY(tok);
        chat_->setToolCompletionFactory([s = script_, engine, tok](const SamplingConfig& sampling, const std::atomic<bool>* cancel) {
            return std::make_unique<ScriptedOrEngine>(s, std::make_unique<EngineToolCompletion>(engine, tok, kContext, sampling, cancel));
        });
        connect(engine_.get(), &EngineHost::requestGenerate, this, [this](const GenerationRequest& r) { requests_.append(r); });
        connect(engine_.get(), &EngineHost::finished, this, [this](const GenerationOutcome& o) { outcomes_.insert(o.id, o); });
    }

    void cleanupTestCase() {
        chat_.reset();
        if (servers_) {
            servers_.reset();
            QTest::qWait(100);  // the host's clients end their processes
        }
        engine_.reset();
    }

    // The tool prompt of a growing chat keeps its start until the window is full again (so the
    // engine's prefix cache serves the next turn), within the budget, the newest message whole.
    void fitKeepsItsStartWhileTheChatGrows() {
        const int budget = 1500;
        std::vector<ChatMessage> chat = {{"system", "You are a helpful assistant."}};
        std::vector<int32_t> previous;
        int previousDropped = 0, moves = 0, kept = 0, over = 0;
        for (int n = 0; n < 40; ++n) {
            const std::string question = filler(n, 20 + (n * 13) % 30);
            chat.push_back({"user", question});
            const FittedToolPrompt fit = fitToolPrompt(*tok_, chat, oneTool(), budget);
            QVERIFY(!fit.tokens.empty());
            QVERIFY(int(fit.tokens.size()) <= budget);
            QVERIFY(fit.tokens == apply_tool_chat_template(*tok_, fit.messages, oneTool(), true));
            QCOMPARE(fit.messages.front().content, chat.front().content);  // the system message stays
            QCOMPARE(fit.messages.back().content, question);
            QCOMPARE(fit.shortenedResults, 0);
            QCOMPARE(int(chat.size()) - int(fit.messages.size()), fit.droppedMessages);
            QVERIFY(fit.droppedMessages >= previousDropped);
            if (fit.droppedMessages > 0) {
                ++over;
                QCOMPARE(fit.messages[1].role, std::string("user"));  // whole exchanges
                QVERIFY(int(fit.tokens.size()) >= budget * 3 / 4 - 150);  // at most a quarter of the room, and an exchange, unused
                if (fit.droppedMessages == previousDropped) {
                    // The same start: the last prompt is all of this one's beginning.
                    QCOMPARE(commonPrefix(previous, fit.tokens), previous.size());
                    ++kept;
                } else {
                    ++moves;
                }
            }
            previous = fit.tokens;
            previousDropped = fit.droppedMessages;
            chat.push_back({"assistant", "Answer " + std::to_string(n) + " in a few words."});
        }
        qInfo("40 turns in a %d-token budget, %d over it: the start moved %d times, stayed %d times", budget, over, moves, kept);
        QVERIFY(over >= 20);
        QVERIFY2(moves * 3 <= over, qPrintable(QStringLiteral("%1 moves in %2 turns").arg(moves).arg(over)));
    }

    // This turn's results pile up: the oldest is cut first with the marker, the user's words and
    // the calls never; a turn whose own words do not fit is refused (empty).
    void fitCutsTheOldestResultsOfThisTurn() {
        const std::string call1 = R"({"name": "echo", "parameters": {"text": "one"}})";
        const std::string call2 = R"({"name": "echo", "parameters": {"text": "two"}})";
        const std::string big1 = "FIRST " + filler(1, 300), big2 = "SECOND " + filler(2, 300);
        const std::vector<ChatMessage> chat = {
            {"system", "Be brief."},
            {"user", filler(90, 200)},
            {"assistant", "An older answer."},
            {"user", "Call echo twice."},
            {"assistant", call1, {{"echo", R"({"text": "one"})"}}},
            {"ipython", big1},
            {"assistant", call2, {{"echo", R"({"text": "two"})"}}},
            {"ipython", big2},
        };
        const int all = int(apply_tool_chat_template(*tok_, chat, oneTool(), true).size());
        std::vector<ChatMessage> thisTurn = {chat[0]};
        thisTurn.insert(thisTurn.end(), chat.begin() + 3, chat.end());
        const int turn = int(apply_tool_chat_template(*tok_, thisTurn, oneTool(), true).size());
        // Room for this turn: only the older exchange goes.
        FittedToolPrompt fit = fitToolPrompt(*tok_, chat, oneTool(), turn);
        QCOMPARE(fit.droppedMessages, 2);
        QCOMPARE(fit.shortenedResults, 0);
        QVERIFY(all > turn);
        // Less: the first result is cut, the second stays whole.
        fit = fitToolPrompt(*tok_, chat, oneTool(), turn - 100);
        QVERIFY(!fit.tokens.empty() && int(fit.tokens.size()) <= turn - 100);
        QCOMPARE(fit.shortenedResults, 1);
        QCOMPARE(fit.messages.size(), size_t(6));
        QCOMPARE(fit.messages[1].content, std::string("Call echo twice."));
        QCOMPARE(fit.messages[2].content, call1);
        QVERIFY(fit.messages[3].content.starts_with("FIRST "));
        QVERIFY(fit.messages[3].content.ends_with(kCutToFitMarker));
        QCOMPARE(fit.messages[5].content, big2);
        // Less than without the first result: it is only the marker, the second is cut too.
        const int less = turn - int(tok_->encode(big1, false).size()) - 40;
        fit = fitToolPrompt(*tok_, chat, oneTool(), less);
        QVERIFY(!fit.tokens.empty() && int(fit.tokens.size()) <= less);
        QCOMPARE(fit.shortenedResults, 2);
        QCOMPARE(fit.messages[3].content, std::string(kCutToFitMarker + 1));
        QVERIFY(fit.messages[5].content.starts_with("SECOND ") && fit.messages[5].content.ends_with(kCutToFitMarker));
        QCOMPARE(fit.messages[1].content, std::string("Call echo twice."));
        // Less than the user's words, the calls and two markers: the system message goes last
        // (from its end; "Be brief." is too short to keep a part of)...
        std::vector<ChatMessage> bare = leastOfTurn(chat);
        QCOMPARE(bare.size(), size_t(6));
        QCOMPARE(bare[0].content, std::string("Be brief."));
        QCOMPARE(bare[3].content, std::string(kCutToFitMarker + 1));
        QCOMPARE(bare[5].content, std::string(kCutToFitMarker + 1));
        const int least = int(apply_tool_chat_template(*tok_, bare, oneTool(), true).size());
        fit = fitToolPrompt(*tok_, chat, oneTool(), least);
        QVERIFY(!fit.tokens.empty());
        QVERIFY(!fit.systemShortened);
        fit = fitToolPrompt(*tok_, chat, oneTool(), least - 1);
        QVERIFY(!fit.tokens.empty());
        QVERIFY(fit.systemShortened);
        QCOMPARE(fit.messages[0].content, std::string());
        QCOMPARE(fit.messages[1].content, std::string("Call echo twice."));
        QCOMPARE(fit.messages[2].content, call1);
        // ... and with no room even for the user's words, the calls and two markers: refused.
        bare[0].content.clear();
        const int none = int(apply_tool_chat_template(*tok_, bare, oneTool(), true).size());
        QVERIFY(none < least);
        QVERIFY(!fitToolPrompt(*tok_, chat, oneTool(), none).tokens.empty());
        QVERIFY(fitToolPrompt(*tok_, chat, oneTool(), none - 1).tokens.empty());
    }

    // A document chat's question whose passages do not fit: the older exchange goes first, then
    // the passages from their end, a quarter at a time counted from all of them (the fixed places
    // of buildPrompt's rule), never the question; this turn's results only once the passages are
    // gone; the system message last.
    void fitShortensTheQuestionsPassagesFirst() {
        const QString passages = passagesText(12);
        const std::string question = "What did the kite fly over?";
        const std::vector<ChatMessage> chat = {
            {"system", "Be brief.\n\nDocuments: report.txt, a report about kites and the hills they fly over."},
            {"user", filler(90, 200)},
            {"assistant", "An older answer."},
            {"user", question},
        };
        // The question with all its passages, then after each cut of them (the last: none).
        std::vector<QString> levels;
        PromptMessage p{QStringLiteral("user"), QString::fromStdString(question), passages};
        levels.push_back(promptText(p));
        while (shortenContext(p)) levels.push_back(promptText(p));
        QVERIFY(levels.size() > 5);
        QCOMPARE(levels.back(), QString::fromStdString(question));
        auto length = [&](const std::vector<ChatMessage>& m) { return int(apply_tool_chat_template(*tok_, m, oneTool(), true).size()); };
        auto asked = [&](const QString& user) { return length({chat[0], {"user", user.toStdString()}}); };
        auto tokens = [&](const std::string& s) { return tok_->encode(s, false).size(); };

        // Room for everything: the passages go into the question as promptText puts them.
        FittedToolPrompt fit = fitToolPrompt(*tok_, chat, oneTool(), 1 << 20, QString(passages));
        QCOMPARE(fit.messages.size(), size_t(4));
        QCOMPARE(fit.messages.back().content, levels[0].toStdString());
        QVERIFY(!fit.any());
        // Room for the question with its passages: the older exchange goes, nothing else.
        const int whole = asked(levels[0]);
        fit = fitToolPrompt(*tok_, chat, oneTool(), whole, passages);
        QCOMPARE(fit.droppedMessages, 2);
        QVERIFY(!fit.passagesShortened);
        QCOMPARE(fit.messages.back().content, levels[0].toStdString());
        // Less: the passages are cut at the first fixed place that fits; the question, the system
        // message and the most relevant passages stay.
        for (int less : {30, 150, 400}) {
            const int budget = whole - less;
            fit = fitToolPrompt(*tok_, chat, oneTool(), budget, passages);
            QVERIFY(!fit.tokens.empty() && int(fit.tokens.size()) <= budget);
            QVERIFY(fit.tokens == apply_tool_chat_template(*tok_, fit.messages, oneTool(), true));
            QVERIFY(fit.passagesShortened);
            QCOMPARE(fit.droppedMessages, 2);
            QCOMPARE(fit.shortenedResults, 0);
            QVERIFY(!fit.systemShortened);
            QCOMPARE(fit.messages.front().content, chat[0].content);
            const QString sent = QString::fromStdString(fit.messages.back().content);
            QVERIFY(sent.startsWith(QStringLiteral("<documents>\n[report.txt, passage 1] ")));
            QVERIFY(sent.endsWith(QStringLiteral("</documents>\n\n") + QString::fromStdString(question)));
            const auto at = std::find(levels.begin(), levels.end(), sent);
            QVERIFY(at != levels.end() && at != levels.begin());
            QVERIFY(asked(*(at - 1)) > budget);  // no more was cut than the budget asked
            QVERIFY(tokens(sent.toStdString()) + less <= tokens(levels[0].toStdString()) + 2);
        }

        // This turn's result: the passages give way to it first, whole...
        const std::string big = "RESULT " + filler(3, 300);
        std::vector<ChatMessage> withResult = chat;
        withResult.push_back({"assistant", R"({"name": "echo", "parameters": {"text": "kite"}})", {{"echo", R"({"text": "kite"})"}}});
        withResult.push_back({"ipython", big});
        std::vector<ChatMessage> turn = {withResult[0]};
        turn.insert(turn.end(), withResult.begin() + 3, withResult.end());
        const int bare = length(turn);  // the question without passages, the call, the result
        fit = fitToolPrompt(*tok_, withResult, oneTool(), bare, passages);
        QVERIFY(!fit.tokens.empty() && int(fit.tokens.size()) <= bare);
        QVERIFY(fit.passagesShortened);
        QCOMPARE(fit.shortenedResults, 0);
        QCOMPARE(fit.messages.size(), size_t(4));
        QCOMPARE(fit.messages[1].content, question);
        QCOMPARE(fit.messages[3].content, big);
        // ... then the result is cut, the system message still whole...
        fit = fitToolPrompt(*tok_, withResult, oneTool(), bare - 100, passages);
        QVERIFY(!fit.tokens.empty() && int(fit.tokens.size()) <= bare - 100);
        QCOMPARE(fit.shortenedResults, 1);
        QVERIFY(!fit.systemShortened);
        QCOMPARE(fit.messages[0].content, chat[0].content);
        QCOMPARE(fit.messages[1].content, question);
        QVERIFY(fit.messages[3].content.starts_with("RESULT ") && fit.messages[3].content.ends_with(kCutToFitMarker));
        // ... and below what the turn is at the least, the system message from its end.
        const int least = length(leastOfTurn(withResult));
        fit = fitToolPrompt(*tok_, withResult, oneTool(), least - 8, passages);
        QVERIFY(!fit.tokens.empty() && int(fit.tokens.size()) <= least - 8);
        QVERIFY(fit.systemShortened && fit.passagesShortened);
        QCOMPARE(fit.shortenedResults, 1);
        QVERIFY(fit.messages[0].content.size() < chat[0].content.size());
        QVERIFY(chat[0].content.starts_with(fit.messages[0].content));
        QCOMPARE(fit.messages[1].content, question);
        QCOMPARE(fit.messages[3].content, std::string(kCutToFitMarker + 1));
        const QString notice = fittedNotice(fit);
        QVERIFY2(notice.contains(QStringLiteral("passages for this question were shortened")) &&
                     notice.contains(QStringLiteral("A tool result of this turn was cut")) &&
                     notice.contains(QStringLiteral("end of the system prompt was left out")),
                 qPrintable(notice));
    }

    // A chat longer than the window, then tools switched on: the turn answers, the notice says
    // what was left out, and the next tool turn takes its prefix from the engine's cache.
    void longChatWithToolsAnswers() {
        chat_->newChat();
        for (int n = 0; n < 4; ++n) {  // plain turns (buildPrompt) make the chat long
            QVERIFY(sendAndWait(QString::fromStdString(filler(n, 120))));
            QCOMPARE(lastMessage().status, history::MessageStatus::Complete);
        }
        chat_->setToolsEnabled(true);
        QSignalSpy errors(chat_.get(), &ChatController::errorOccurred);
        std::vector<int32_t> previous;
        int previousDropped = -1;
        for (int turn = 0; turn < 2; ++turn) {
            script({});  // the engine writes every reply
            const qsizetype before = requests_.size();
            QVERIFY(sendAndWait(QStringLiteral("Now with tools, turn %1: what do you say?").arg(turn)));
            QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.first().value(0).toString()));
            QCOMPARE(lastMessage().role, QStringLiteral("assistant"));
            QVERIFY2(lastMessage().status == history::MessageStatus::Complete, qPrintable(lastMessage().error));
            QCOMPARE(replyRequests(before).size(), 1);
            const GenerationRequest r = replyRequests(before).first();
            QVERIFY(int(r.promptTokens.size()) <= kContext - kMaxTokens);
            QVERIFY(outcomes_.contains(r.id));
            // As a plain reply's notice says it.
            QVERIFY2(chat_->notice().contains(QStringLiteral("oldest messages were left out")), qPrintable(chat_->notice()));
            const std::vector<ChatMessage> sent = asked().back();
            QCOMPARE(sent.front().role, std::string("system"));
            QCOMPARE(sent.back().content, QStringLiteral("Now with tools, turn %1: what do you say?").arg(turn).toStdString());
            const int dropped = int(chat_->messages().size() - 1 - (sent.size() - 1));
            QVERIFY(dropped > 0);
            QVERIFY(chat_->notice().contains(QString::number(dropped)));
            if (turn > 0) {
                QCOMPARE(dropped, previousDropped);  // the same start...
                const size_t same = commonPrefix(previous, r.promptTokens);
                const int reused = outcomes_[r.id].promptReused;
                qInfo("tool turn 2: prompt %zu tokens, %zu shared with turn 1, %d reused from the cache", r.promptTokens.size(), same,
                      reused);
                QVERIFY(same + 8 >= previous.size());  // ...so all of the last prompt but its reply's header
                QVERIFY(reused <= int(same) && reused > int(same) - kBlock);
            }
            previous = r.promptTokens;
            previousDropped = dropped;
        }
    }

    // Two huge results in one turn: each is cut on arrival to what the turn leaves at the least
    // (the loop's "[truncated: ...]"), the first then gives way to the second with the marker.
    void hugeResultsAreCutWithTheMarker() {
        chat_->newChat();
        chat_->setToolsEnabled(true);
        script({R"({"name": "echo", "parameters": {"text": "alpha"}})", R"({"name": "echo", "parameters": {"text": "beta"}})", ""});
        approvals_ = 0;
        const qsizetype before = requests_.size();
        const QString question = QStringLiteral("Call echo with alpha, then with beta, then answer.");
        QVERIFY(sendAndWait(question));
        QCOMPARE(approvals_, 2);
        QVERIFY2(lastMessage().status == history::MessageStatus::Complete, qPrintable(lastMessage().error));
        QCOMPARE(replyRequests(before).size(), 1);  // the last reply, by the engine
        QVERIFY(int(replyRequests(before).first().promptTokens.size()) <= kContext - kMaxTokens);
        const auto all = asked();
        QCOMPARE(all.size(), size_t(3));
        const std::vector<ChatMessage>& last = all.back();
        QCOMPARE(last.size(), size_t(6));  // system, user, call, result, call, result
        QCOMPARE(last[1].content, question.toStdString());
        QCOMPARE(last[2].tool_calls.size(), size_t(1));
        QCOMPARE(last[4].tool_calls.size(), size_t(1));
        // The second reply saw the first result as it arrived, most of the window...
        const std::string& first = all[1][3].content;
        QVERIFY(first.starts_with("echo: alpha alpha"));
        QVERIFY(first.find("[truncated: ") != std::string::npos);
        QVERIFY(tok_->encode(first, false).size() > size_t(kContext / 2));
        // ... the third the second as it arrived, and what was left of the first: the marker.
        QVERIFY(last[5].content.starts_with("echo: beta beta"));
        QVERIFY(last[5].content.find("[truncated: ") != std::string::npos);
        QVERIFY(tok_->encode(last[5].content, false).size() > size_t(kContext / 2));
        QVERIFY2(last[3].content.ends_with(kCutToFitMarker + 1), last[3].content.c_str());
        QVERIFY(last[3].content.size() < first.size());
        QVERIFY2(chat_->notice().contains(QStringLiteral("tool result of this turn was cut")), qPrintable(chat_->notice()));
        // The history keeps the results as they arrived.
        int results = 0;
        for (const history::Message& m : chat_->messages())
            if (m.role == QLatin1String(history::kToolRole)) {
                QVERIFY(m.toolResult && m.toolResult->truncated);
                QVERIFY(!m.content.contains(QLatin1String(kCutToFitMarker + 1)));
                ++results;
            }
        QCOMPARE(results, 2);
    }

    // A document chat whose passages alone are more than the window (the provider hands them as
    // DocumentController would): with tools on it answers, the passages shortened from their end
    // and the question whole; in the next turn a tool's huge result takes their room.
    void aDocumentChatWithToolsAnswers() {
        const QString overview = QStringLiteral("Documents: report.txt, a report about kites.");
        const QString passages = passagesText(40);
        chat_->setContextProvider([=](qint64, const QString&) { return ChatController::DocumentContext{overview, passages}; });
        chat_->newChat();
        chat_->setToolsEnabled(true);
        QSignalSpy errors(chat_.get(), &ChatController::errorOccurred);
        auto tokens = [&](const std::string& s) { return tok_->encode(s, false).size(); };
        const QString question = QStringLiteral("What did the kite fly over?");
        const size_t all = tokens(promptText({QStringLiteral("user"), question, passages}).toStdString());
        QVERIFY(all > size_t(kContext));

        script({});  // the engine writes the reply
        qsizetype before = requests_.size();
        QVERIFY(sendAndWait(question));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.first().value(0).toString()));
        QVERIFY2(lastMessage().status == history::MessageStatus::Complete, qPrintable(lastMessage().error));
        QCOMPARE(replyRequests(before).size(), 1);
        QVERIFY(int(replyRequests(before).first().promptTokens.size()) <= kContext - kMaxTokens);
        std::vector<ChatMessage> sent = asked().back();
        QCOMPARE(sent.size(), size_t(2));
        QVERIFY(QString::fromStdString(sent[0].content).endsWith(overview));
        const QString user = QString::fromStdString(sent[1].content);
        QVERIFY2(user.startsWith(QStringLiteral("<documents>\n[report.txt, passage 1] ")), qPrintable(user.left(100)));
        QVERIFY(user.endsWith(QStringLiteral("</documents>\n\n") + question));
        const size_t kept = tokens(user.toStdString());
        qInfo("the question with its passages: %zu tokens of %zu sent in a %d-token window", kept, all, kContext);
        QVERIFY(kept < size_t(kContext) && kept > size_t(kContext / 4));
        QVERIFY2(chat_->notice().contains(QStringLiteral("passages for this question were shortened")), qPrintable(chat_->notice()));
        QCOMPARE(chat_->messages().first().role, QStringLiteral("user"));
        QCOMPARE(chat_->messages().first().content, question);  // the history keeps the user's words

        const QString second = QStringLiteral("Echo kite, then answer.");
        script({R"({"name": "echo", "parameters": {"text": "kite"}})", ""});
        before = requests_.size();
        QVERIFY(sendAndWait(second));
        QVERIFY2(errors.isEmpty(), qPrintable(errors.isEmpty() ? QString() : errors.first().value(0).toString()));
        QVERIFY2(lastMessage().status == history::MessageStatus::Complete, qPrintable(lastMessage().error));
        QCOMPARE(replyRequests(before).size(), 1);
        QVERIFY(int(replyRequests(before).first().promptTokens.size()) <= kContext - kMaxTokens);
        const auto both = asked();
        QCOMPARE(both.size(), size_t(2));
        QVERIFY(QString::fromStdString(both[0].back().content).startsWith(QStringLiteral("<documents>\n")));
        sent = both[1];
        QCOMPARE(sent.size(), size_t(4));  // system, question, call, result: the first exchange went
        QCOMPARE(sent[1].content, second.toStdString());  // no passage left beside the result
        QVERIFY(sent[3].content.starts_with("echo: kite kite"));
        QVERIFY(sent[3].content.find(kCutToFitMarker + 1) == std::string::npos);  // as it arrived
        QVERIFY(tokens(sent[3].content) > size_t(kContext / 2));
        QVERIFY2(chat_->notice().contains(QStringLiteral("passages for this question were shortened")), qPrintable(chat_->notice()));
        chat_->setContextProvider({});
    }

    // A message larger than the window: a clear error on the reply, no engine call.
    void aTurnThatCannotFitIsAnError() {
        chat_->newChat();
        chat_->setToolsEnabled(true);
        script({});
        QSignalSpy errors(chat_.get(), &ChatController::errorOccurred);
        const qsizetype before = requests_.size();
        QVERIFY(sendAndWait(QString::fromStdString(filler(7, 1500))));
        QCOMPARE(replyRequests(before).size(), 0);
        QCOMPARE(lastMessage().role, QStringLiteral("assistant"));
        QCOMPARE(lastMessage().status, history::MessageStatus::Error);
        QVERIFY2(lastMessage().error.contains(QStringLiteral("does not fit the model's context window")), qPrintable(lastMessage().error));
        QCOMPARE(errors.count(), 1);
    }
};

QTEST_GUILESS_MAIN(TestToolChatContext)
#include "test_tool_chat_context.moc"
