// A chat with tools on the real window (issue 18): the replies come from a scripted completion
// behind the same interface as the engine's (mcp::ToolCompletion, given to the controller in this
// test only: the tiny models cannot write tool calls), the tools from the real
// @modelcontextprotocol/server-everything (npm, installed by scripts/test.sh as tests/mcp does).
// The approval dialog appears before a call; Allow once runs it and the call's block shows the
// result, which the model gets back in the ipython role; Deny sends the model a denial; Always
// allow skips the next question; a malformed call stays as text with a note; Stop during a long
// call cancels it; reopening the chat shows the calls and results from the history.
#include <QElapsedTimer>
#include <QGuiApplication>
#include <QMutex>
#include <QQmlApplicationEngine>
#include <QQuickItem>
#include <QQuickWindow>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <deque>
#include <memory>

#include "app/chat/chat_controller.h"
#include "app/chat/engine_host.h"
#include "app/history/history_store.h"
#include "app/mcp/mcp_host.h"
#include "app/mcp/tool_loop.h"
#include "app/mcp/tool_servers.h"
#include "app/settings/app_settings.h"
#include "gui/qml_warnings.h"
#include "inference/gguf/gguf.h"
#include "mcp/mcp_test_util.h"
#include "ui/app_parts.h"
#include "ui/messages_model.h"
#include "ui/tools_model.h"

using namespace ld;

namespace {

const QString kModel = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");

// The replies to give, and what the model was asked (the completion runs on the turn's thread).
struct Script {
    QMutex mutex;
    std::deque<std::string> replies;
    std::vector<std::vector<ChatMessage>> asked;
    std::vector<std::vector<std::string>> toolNames;
};

// Streams the next scripted reply in small pieces. "<hold>" waits for Stop instead.
class ScriptedCompletion final : public mcp::ToolCompletion {
public:
    ScriptedCompletion(std::shared_ptr<Script> script, std::shared_ptr<const Tokenizer> tok, const std::atomic<bool>* cancel)
        : script_(std::move(script)), tok_(std::move(tok)), cancel_(cancel) {}

    std::string complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& options,
                         const std::function<void(std::string_view)>& onText) override {
        std::string reply;
        {
            QMutexLocker lock(&script_->mutex);
            script_->asked.push_back(messages);
            std::vector<std::string> names;
            for (const ToolDefinition& t : options.tools) names.push_back(t.name);
            script_->toolNames.push_back(names);
            if (script_->replies.empty()) throw std::runtime_error("no scripted reply left");
            reply = script_->replies.front();
            script_->replies.pop_front();
        }
        // The prompt renders (the engine would tokenize exactly this).
        (void)apply_tool_chat_template(*tok_, messages, options, true);
        if (reply == "<hold>") {
            while (!cancel_->load()) QThread::msleep(10);
            return {};
        }
        for (size_t i = 0; i < reply.size(); i += 4) onText(std::string_view(reply).substr(i, 4));
        return reply;
    }
    const Tokenizer& tokenizer() const override { return *tok_; }
    size_t contextTokens() const override { return 4096; }

private:
    std::shared_ptr<Script> script_;
    std::shared_ptr<const Tokenizer> tok_;
    const std::atomic<bool>* cancel_;
};

void findItems(QQuickItem* root, const QString& name, QList<QQuickItem*>* out) {
    if (root->objectName() == name) out->append(root);
    for (QQuickItem* child : root->childItems()) findItems(child, name, out);
}

QList<QQuickItem*> visibleItems(QQuickItem* root, const QString& name) {
    QList<QQuickItem*> all, out;
    findItems(root, name, &all);
    for (QQuickItem* i : all)
        if (i->isVisible()) out << i;
    return out;
}

}  // namespace

class TestToolChat : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::unique_ptr<ui::AppParts> parts_;
    std::unique_ptr<QQmlApplicationEngine> qml_;
    QQuickWindow* window_ = nullptr;
    QObject* dialog_ = nullptr;
    std::shared_ptr<Script> script_ = std::make_shared<Script>();
    // One window for all the functions: one collector from its start to its end, checked after
    // each function and after the teardown.
    std::optional<test::QmlWarnings> warnings_;

    chat::ChatController& chat() { return *parts_->chat; }
    QQuickItem* root() {
        QQuickItem* c = window_->contentItem();
        return c->parentItem() ? c->parentItem() : c;
    }

    void click(QQuickItem* item) {
        QVERIFY(item);
        QTest::mouseClick(window_, Qt::LeftButton, {}, item->mapToScene(QPointF(item->width() / 2, item->height() / 2)).toPoint());
    }
    void clickDialogButton(const char* name) {
        auto* button = dialog_->findChild<QQuickItem*>(QLatin1String(name));
        QVERIFY2(button, name);
        click(button);
    }
    void script(std::initializer_list<std::string> replies) {
        QMutexLocker lock(&script_->mutex);
        script_->replies.assign(replies);
    }
    std::vector<ChatMessage> lastAsked() {
        QMutexLocker lock(&script_->mutex);
        return script_->asked.back();
    }
    // Sends `text` and waits for the approval dialog.
    void sendAndWaitForQuestion(const QString& text) {
        QVERIFY(chat().send(text));
        QTRY_VERIFY_WITH_TIMEOUT(dialog_->property("opened").toBool(), 30000);
    }
    void waitIdle() { QTRY_VERIFY_WITH_TIMEOUT(!chat().busy(), 30000); }
    // The messages of the open chat from `from` on, as role:content lines (tool calls as
    // "calls:name=decision,...").
    const QList<history::Message>& messages() { return chat().messages(); }

private slots:
    void initTestCase() {
        LD_REQUIRE_OFFICIAL_SERVERS();
        LD_QREQUIRE_FILE(kModel);
        warnings_.emplace();
        ui::AppPaths p;
        p.database = dir_.filePath(QStringLiteral("history.db"));
        p.settingsIni = dir_.filePath(QStringLiteral("settings.ini"));
        p.modelsFolder = dir_.filePath(QStringLiteral("models"));
        parts_ = std::make_unique<ui::AppParts>(p);
        QCOMPARE(parts_->tools->addCommand(QStringLiteral("everything"), ld::test::nodeExecutable(),
                                           ld::test::officialServer(QStringLiteral("server-everything")), {}),
                 QString());
        QSignalSpy loaded(parts_->engine.get(), &chat::EngineHost::modelLoaded);
        QVERIFY(parts_->loadInitialModel(kModel));
        QVERIFY(loaded.wait(60000));
        std::shared_ptr<const Tokenizer> tok = parts_->engine->modelInfo().tokenizer;
        QVERIFY(tok);
        chat().setToolCompletionFactory([s = script_, tok](const chat::SamplingConfig&, const std::atomic<bool>* cancel) {
            return std::make_unique<ScriptedCompletion>(s, tok, cancel);
        });
        qml_ = std::make_unique<QQmlApplicationEngine>();
        QVERIFY(parts_->loadQml(*qml_));
        window_ = qobject_cast<QQuickWindow*>(qml_->rootObjects().first());
        QVERIFY(window_ && QTest::qWaitForWindowExposed(window_));
        window_->resize(1120, 740);
        dialog_ = qml_->rootObjects().first()->findChild<QObject*>(QStringLiteral("toolApprovalDialog"));
        QVERIFY(dialog_);
        QVERIFY(!chat().toolsEnabled());  // off by default
        // Switched on in the chat's settings dialog.
        auto* settings = qml_->rootObjects().first()->findChild<QObject*>(QStringLiteral("chatSettingsDialog"));
        QVERIFY(settings);
        QMetaObject::invokeMethod(settings, "open");
        QTRY_VERIFY(settings->property("opened").toBool());
        auto* toolsSwitch = settings->findChild<QQuickItem*>(QStringLiteral("chatToolsSwitch"));
        QVERIFY(toolsSwitch && !toolsSwitch->property("checked").toBool());
        click(toolsSwitch);
        QTRY_VERIFY(toolsSwitch->property("checked").toBool());
        QMetaObject::invokeMethod(settings, "accept");
        QTRY_VERIFY(!settings->property("opened").toBool());
        QVERIFY(chat().toolsEnabled());
        QVERIFY2(warnings_->isEmpty(), qPrintable(warnings_->text()));
    }

    void cleanup() {
        const QString seen = warnings_->text();
        warnings_->clear();
        QVERIFY2(seen.isEmpty(), qPrintable(seen));
    }

    void cleanupTestCase() {
        qml_.reset();
        parts_.reset();
        const QString seen = test::endWarnings(warnings_);
        QVERIFY2(seen.isEmpty(), qPrintable(seen));
    }

    void allowOnceRunsTheToolAndShowsItsResult() {
        script({R"({"name": "echo", "parameters": {"message": "hello tools"}})", "The server said hello tools."});
        sendAndWaitForQuestion(QStringLiteral("Please echo hello tools"));
        const QString question = dialog_->findChild<QQuickItem*>(QStringLiteral("toolApprovalText"))->property("text").toString();
        QVERIFY2(question.contains(QStringLiteral("\"echo\"")) && question.contains(QStringLiteral("\"everything\"")), qPrintable(question));
        QVERIFY(dialog_->findChild<QQuickItem*>(QStringLiteral("toolApprovalArguments"))
                    ->property("text").toString().contains(QStringLiteral("\"message\": \"hello tools\"")));
        {  // the tools of the server were offered to the model
            QMutexLocker lock(&script_->mutex);
            const auto& names = script_->toolNames.front();
            QVERIFY(std::find(names.begin(), names.end(), "echo") != names.end());
            QVERIFY(std::find(names.begin(), names.end(), "get-sum") != names.end());
        }
        clickDialogButton("toolAllowOnceButton");
        waitIdle();
        QVERIFY(!dialog_->property("opened").toBool());

        // user, the reply with the call, the result, the final reply.
        QCOMPARE(messages().size(), 4);
        const history::Message& call = messages()[1];
        QCOMPARE(call.toolCalls.size(), 1);
        QCOMPARE(call.toolCalls[0].name, QStringLiteral("echo"));
        QCOMPARE(call.toolCalls[0].server, QStringLiteral("everything"));
        QCOMPARE(call.toolCalls[0].decision, history::ToolDecision::AllowedOnce);
        QCOMPARE(messages()[2].role, QLatin1String(history::kToolRole));
        QCOMPARE(messages()[2].content, QStringLiteral("Echo: hello tools"));
        QCOMPARE(messages()[3].content, QStringLiteral("The server said hello tools."));
        QCOMPARE(messages()[3].status, history::MessageStatus::Complete);
        // The model got the result back in the ipython role.
        const std::vector<ChatMessage> asked = lastAsked();
        QCOMPARE(asked.back().role, std::string("ipython"));
        QCOMPARE(asked.back().content, std::string("Echo: hello tools"));
        QCOMPARE(asked[asked.size() - 2].tool_calls.size(), size_t(1));

        // The block in the message list opens to the arguments and the result.
        QTRY_COMPARE(visibleItems(root(), QStringLiteral("toolCallBlock")).size(), 1);
        click(visibleItems(root(), QStringLiteral("toolCallToggle")).value(0));
        QTRY_COMPARE(visibleItems(root(), QStringLiteral("toolCallResult")).size(), 1);
        QCOMPARE(visibleItems(root(), QStringLiteral("toolCallResult"))[0]->property("text").toString(), QStringLiteral("Echo: hello tools"));
        QVERIFY(visibleItems(root(), QStringLiteral("toolCallArguments"))[0]->property("text").toString().contains(QStringLiteral("hello tools")));
    }

    void denySendsADenialToTheModel() {
        const int before = int(messages().size());
        script({R"({"name": "echo", "parameters": {"message": "secret"}})", "Understood, I will not."});
        sendAndWaitForQuestion(QStringLiteral("Echo secret"));
        clickDialogButton("toolDenyButton");
        waitIdle();
        QCOMPARE(messages().size(), before + 4);
        QCOMPARE(messages()[before + 1].toolCalls.value(0).decision, history::ToolDecision::Denied);
        const history::Message& result = messages()[before + 2];
        QVERIFY(result.toolResult && result.toolResult->isError);
        QVERIFY2(result.content.contains(QStringLiteral("denied")), qPrintable(result.content));
        QVERIFY(!result.content.contains(QStringLiteral("Echo: secret")));  // it did not run
        QVERIFY(lastAsked().back().content.find("denied") != std::string::npos);
    }

    void alwaysAllowSkipsTheNextQuestion() {
        script({R"({"name": "get-sum", "parameters": {"a": 2, "b": 3}})", "Five."});
        sendAndWaitForQuestion(QStringLiteral("2+3?"));
        clickDialogButton("toolAlwaysAllowButton");
        waitIdle();
        QCOMPARE(messages()[messages().size() - 2].content, QStringLiteral("The sum of 2 and 3 is 5."));

        QSignalSpy asked(&chat(), &chat::ChatController::toolApprovalChanged);
        script({R"({"name": "get-sum", "parameters": {"a": 4, "b": 5}})", "Nine."});
        QVERIFY(chat().send(QStringLiteral("4+5?")));
        waitIdle();
        QCOMPARE(asked.count(), 0);  // no question this time
        QCOMPARE(messages()[messages().size() - 2].content, QStringLiteral("The sum of 4 and 5 is 9."));
        QCOMPARE(messages()[messages().size() - 3].toolCalls.value(0).decision, history::ToolDecision::AlwaysAllowed);
        // echo was not always-allowed: still asked (and denied here).
        script({R"({"name": "echo", "parameters": {"message": "x"}})", "ok"});
        sendAndWaitForQuestion(QStringLiteral("echo x"));
        clickDialogButton("toolDenyButton");
        waitIdle();
    }

    void malformedCallIsShownAsTextWithANote() {
        const int before = int(messages().size());
        // The string is not closed.
        const std::string broken = "{\"name\": \"echo\", \"parameters\": {\"message\": \"unterminated";
        script({broken});
        QVERIFY(chat().send(QStringLiteral("break it")));
        waitIdle();
        QTRY_COMPARE(messages().size(), before + 3);  // user, the reply as text, the note
        QCOMPARE(messages()[before + 1].content, QString::fromStdString(broken));
        QVERIFY(messages()[before + 1].toolCalls.isEmpty());
        QCOMPARE(messages()[before + 2].role, QLatin1String(history::kNoticeRole));
        QVERIFY2(messages()[before + 2].content.contains(QStringLiteral("malformed tool call")), qPrintable(messages()[before + 2].content));
    }

    void stopDuringACallCancelsIt() {
        const int before = int(messages().size());
        script({R"({"name": "trigger-long-running-operation", "parameters": {"duration": 30, "steps": 30}})", "never"});
        sendAndWaitForQuestion(QStringLiteral("take your time"));
        clickDialogButton("toolAllowOnceButton");
        // Running: the call is allowed and has no result yet.
        QTRY_VERIFY(messages().size() == before + 2 &&
                    messages()[before + 1].toolCalls.value(0).decision == history::ToolDecision::AllowedOnce);
        QTest::qWait(300);
        QVERIFY(chat().busy());
        QElapsedTimer t;
        t.start();
        chat().stop();
        QTRY_VERIFY_WITH_TIMEOUT(!chat().busy(), 5000);
        QVERIFY(t.elapsed() < 5000);  // not the 30 s of the operation
        QTRY_COMPARE(messages().size(), before + 3);  // the call's (cancelled) result, no further reply
        QVERIFY2(messages()[before + 2].content.contains(QStringLiteral("cancelled")), qPrintable(messages()[before + 2].content));
        QMutexLocker lock(&script_->mutex);
        QCOMPARE(script_->replies.size(), size_t(1));  // the model was not asked again
        script_->replies.clear();
    }

    void stopWhileTheQuestionIsOpen() {
        const int before = int(messages().size());
        script({R"({"name": "echo", "parameters": {"message": "later"}})"});
        sendAndWaitForQuestion(QStringLiteral("echo later"));
        chat().stop();
        QTRY_VERIFY_WITH_TIMEOUT(!chat().busy(), 5000);
        QTRY_VERIFY(!dialog_->property("opened").toBool());
        QTRY_COMPARE(messages().size(), before + 3);
        QVERIFY(!messages()[before + 2].content.contains(QStringLiteral("Echo:")));
    }

    void historyShowsTheCallsAfterReopening() {
        const qint64 id = chat().conversationId();
        const QList<history::Message> shown = messages();
        chat().newChat();
        QVERIFY(!chat().toolsEnabled());
        QCOMPARE(messages().size(), 0);
        chat().openConversation(id);
        QTRY_COMPARE(chat().conversationId(), id);
        QVERIFY(chat().toolsEnabled());  // saved with the chat
        auto roles = [](const QList<history::Message>& ms) {
            QStringList r;
            for (const history::Message& m : ms) r << m.role + QLatin1Char(':') + m.content.left(20);
            return r.join(QLatin1Char('|'));
        };
        QVERIFY2(messages().size() == shown.size(), qPrintable(roles(messages()) + QStringLiteral("\n") + roles(shown)));
        for (int i = 0; i < shown.size(); ++i) {
            QCOMPARE(messages()[i].role, shown[i].role);
            QCOMPARE(messages()[i].content, shown[i].content);
            QCOMPARE(messages()[i].toolCalls, shown[i].toolCalls);
            QCOMPARE(messages()[i].toolResult, shown[i].toolResult);
        }
        // The message list shows each call with its result.
        ui::MessagesModel& model = *parts_->messages;
        const QVariantList calls = model.data(model.index(1), ui::MessagesModel::ToolCallsRole).toList();
        QCOMPARE(calls.size(), 1);
        QCOMPARE(calls[0].toMap().value(QStringLiteral("name")).toString(), QStringLiteral("echo"));
        QCOMPARE(calls[0].toMap().value(QStringLiteral("hasResult")).toBool(), true);
        QCOMPARE(calls[0].toMap().value(QStringLiteral("result")).toString(), QStringLiteral("Echo: hello tools"));
        QTRY_VERIFY(visibleItems(root(), QStringLiteral("toolCallBlock")).size() >= 1);
    }

    // The app's own completion (no scripted one): the tool prompt is rendered for the loaded
    // model and runs on the engine thread as tokens; the tiny model's reply streams into the chat.
    void theEngineRunsTheToolPrompt() {
        chat().setToolCompletionFactory({});
        parts_->settings->setSystemPrompt({});
        parts_->settings->setTemperature(0);
        parts_->settings->setMaxTokens(12);
        chat().newChat();
        chat().setToolsEnabled(true);
        QSignalSpy finished(parts_->engine.get(), &chat::EngineHost::finished);
        QVERIFY(chat().send(QStringLiteral("Hello")));
        // A random model could start something call-like: a question is denied, the turn goes on.
        QTRY_VERIFY_WITH_TIMEOUT(!chat().busy() || dialog_->property("opened").toBool(), 60000);
        if (dialog_->property("opened").toBool()) clickDialogButton("toolDenyButton");
        waitIdle();
        QVERIFY(finished.count() >= 1);
        const chat::GenerationOutcome out = finished.first().first().value<chat::GenerationOutcome>();
        QVERIFY(!out.cancelled);
        QVERIFY(out.genTokens > 0);
        // Exactly the tool prompt: the server's tools, the model's call format, the user's message.
        struct None final : mcp::ToolCompletion {
            explicit None(const Tokenizer& t) : tok(t) {}
            std::string complete(const std::vector<ChatMessage>&, const ToolPromptOptions&,
                                 const std::function<void(std::string_view)>&) override { return {}; }
            const Tokenizer& tokenizer() const override { return tok; }
            size_t contextTokens() const override { return 4096; }
            const Tokenizer& tok;
        };
        const std::shared_ptr<const Tokenizer> tok = parts_->engine->modelInfo().tokenizer;
        None none(*tok);
        struct Quiet final : mcp::ToolLoopUi {
            mcp::Approval approve(const mcp::PendingCall&) override { return mcp::Approval::Deny; }
        } quiet;
        mcp::HostToolRunner runner(*parts_->toolServers->host());
        mcp::ToolLoopOptions o;
        o.format = detect_tool_call_format(tool_format_hints(*gguf::File::open_header(kModel.toStdString())));
        mcp::ToolLoop loop(parts_->toolServers->host()->tools(), runner, none, quiet, o);
        QVERIFY(loop.tools().size() >= 2);
        const size_t expected = apply_tool_chat_template(*tok, {{"user", "Hello"}}, loop.promptOptions(), true).size();
        QCOMPARE(size_t(out.promptTokens), expected);
        QCOMPARE(messages().size(), 2);
        QCOMPARE(messages()[1].role, QStringLiteral("assistant"));
        QVERIFY(messages()[1].status == history::MessageStatus::Complete);
        QCOMPARE(messages()[1].stats.genTokens, out.genTokens);  // the reply's stats line
        QCOMPARE(messages()[1].stats.promptTokens, out.promptTokens);
    }
};

QTEST_MAIN(TestToolChat)
#include "test_tool_chat.moc"
