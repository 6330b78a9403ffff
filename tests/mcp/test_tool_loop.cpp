// The tool loop (app/mcp/tool_loop.h) against the real @modelcontextprotocol/server-everything,
// with a scripted completion behind the same interface the CLI's engine implements (the tiny
// models cannot write tool calls) and the Llama 3.1 tokenizer from ../shared for prompt lengths
// and truncation. Covers allow once / always / deny / --yes / no terminal, a tool's own error, an
// unknown tool, a malformed call shown as text, truncation, the round limit and the streaming
// hold-back; and the terminal UI's answers.
#include <QProcess>
#include <QTemporaryDir>
#include <QFile>
#include <QRegularExpression>
#include <QTest>

#include <cstdio>
#include <deque>
#include <memory>

#include "app/mcp/mcp_host.h"
#include "app/mcp/terminal_tool_ui.h"
#include "app/mcp/tool_loop.h"
#include "inference/chat/tool_call_parser.h"
#include "inference/gguf/gguf.h"
#include "mcp/mcp_test_util.h"

using namespace ld;
using namespace ld::mcp;

namespace {

// Replays scripted replies (streamed in small pieces, as an engine would) and records what it
// was asked.
class ScriptedCompletion final : public ToolCompletion {
public:
    ScriptedCompletion(const Tokenizer& tok, size_t ctx) : tok_(tok), ctx_(ctx) {}
    std::deque<std::string> replies;
    std::vector<std::vector<ChatMessage>> asked;
    std::vector<std::string> prompts;

    std::string complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& options,
                         const std::function<void(std::string_view)>& onText) override {
        asked.push_back(messages);
        prompts.push_back(render_tool_chat_template(tok_, messages, options, true));
        if (replies.empty()) throw std::runtime_error("no scripted reply left");
        const std::string r = replies.front();
        replies.pop_front();
        for (size_t i = 0; i < r.size(); i += 3) onText(std::string_view(r).substr(i, 3));
        return r;
    }
    const Tokenizer& tokenizer() const override { return tok_; }
    size_t contextTokens() const override { return ctx_; }

private:
    const Tokenizer& tok_;
    size_t ctx_;
};

// Answers approvals from a script and records everything shown.
class RecordingUi final : public ToolLoopUi {
public:
    std::deque<Approval> answers;
    int asked = 0;
    std::string shown;
    std::vector<std::string> hows, results, notes, notices;
    std::vector<PendingCall> calls;
    std::vector<bool> errors, truncations;

    Approval approve(const PendingCall&) override {
        ++asked;
        if (answers.empty()) return Approval::Deny;  // a question no test expected: `asked` shows it
        const Approval a = answers.front();
        answers.pop_front();
        return a;
    }
    void text(std::string_view piece) override { shown.append(piece); }
    void toolCall(const PendingCall& call) override { calls.push_back(call); }
    void decided(const PendingCall&, Approval, const QString& how) override { hows.push_back(how.toStdString()); }
    void toolResult(const PendingCall&, const std::string& text, bool isError, bool truncated) override {
        results.push_back(text);
        errors.push_back(isError);
        truncations.push_back(truncated);
    }
    void malformed(const std::string& note) override { notes.push_back(note); }
    void notice(const std::string& line) override { notices.push_back(line); }
};

std::vector<ChatMessage> userTurn(const std::string& text) { return {{"user", text}}; }

}  // namespace

class TestToolLoop : public QObject {
    Q_OBJECT

    std::unique_ptr<Tokenizer> tok_;
    std::unique_ptr<McpHost> host_;

    ToolLoopOptions options() {
        ToolLoopOptions o;
        o.dateString = "06 Dec 2026";
        o.callTimeoutMs = 20000;
        return o;
    }

private slots:
    void initTestCase() {
        LD_REQUIRE_OFFICIAL_SERVERS();
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
        LD_QREQUIRE_FILE(model);
        tok_ = Tokenizer::create(load_vocab(*gguf::File::open(model.toStdString())));
        ServerConfig s;
        s.name = QStringLiteral("everything");
        s.command = ld::test::nodeExecutable();
        s.args = {ld::test::officialServer(QStringLiteral("server-everything"))};
        McpClient::Options opt;
        opt.requestTimeoutMs = 20000;
        host_ = std::make_unique<McpHost>(QList<ServerConfig>{s}, opt);
        startAllAndWait(*host_, 45000);
        QCOMPARE(host_->client(QStringLiteral("everything"))->state(), ServerState::Ready);
    }

    void cleanupTestCase() {
        if (host_) stopAllAndWait(*host_, 5000);
    }

    void toolsGoIntoThePrompt() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {"Hello there."};
        const ToolLoopResult r = loop.run(userTurn("hi"));
        QCOMPARE(r.finalText, std::string("Hello there."));
        QCOMPARE(r.toolRounds, 0);
        QCOMPARE(ui.shown, std::string("Hello there."));
        QCOMPARE(ui.asked, 0);
        // The prompt is exactly the formatter's, with every tool of the server.
        QCOMPARE(model.prompts.size(), size_t(1));
        QCOMPARE(model.prompts[0], render_tool_chat_template(*tok_, userTurn("hi"), loop.promptOptions(), true));
        bool echo = false, sum = false;
        for (const ToolDefinition& d : loop.tools()) {
            echo = echo || d.name == "echo";
            sum = sum || d.name == "get-sum";
        }
        QVERIFY(echo && sum);
        QVERIFY(model.prompts[0].find("\"name\": \"echo\"") != std::string::npos);
        QVERIFY(model.prompts[0].find("Environment: ipython") != std::string::npos);
    }

    void allowOnceRunsTheToolAndTheModelContinues() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ui.answers = {Approval::AllowOnce};
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "echo", "parameters": {"message": "hello tools"}})", "The server said hello."};
        const ToolLoopResult r = loop.run(userTurn("echo something"));
        QCOMPARE(ui.asked, 1);
        QCOMPARE(ui.calls.size(), size_t(1));
        QCOMPARE(ui.calls[0].server, QStringLiteral("everything"));
        QCOMPARE(ui.calls[0].tool, QStringLiteral("echo"));
        QCOMPARE(ui.calls[0].argumentsJson, std::string(R"({"message": "hello tools"})"));  // as written
        QCOMPARE(ui.hows, std::vector<std::string>{"allowed once"});
        QCOMPARE(ui.results.size(), size_t(1));
        QVERIFY2(ui.results[0].find("hello tools") != std::string::npos, ui.results[0].c_str());
        QVERIFY(!ui.errors[0]);
        // The call's JSON was held back, never shown as text; the final reply was.
        QCOMPARE(ui.shown, std::string("The server said hello."));
        QCOMPARE(r.toolRounds, 1);
        QCOMPARE(r.finalText, std::string("The server said hello."));
        // History: user, assistant with the call, ipython result, assistant.
        QCOMPARE(r.messages.size(), size_t(4));
        QCOMPARE(r.messages[1].tool_calls.size(), size_t(1));
        QCOMPARE(r.messages[2].role, std::string("ipython"));
        QCOMPARE(r.messages[2].content, ui.results[0]);
        // The second completion saw the result in the ipython role.
        QCOMPARE(model.asked.size(), size_t(2));
        QCOMPARE(model.asked[1].back().role, std::string("ipython"));
        QVERIFY(model.prompts[1].find("<|start_header_id|>ipython<|end_header_id|>") != std::string::npos);
    }

    void denyTellsTheModel() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ui.answers = {Approval::Deny};
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "echo", "parameters": {"message": "secret"}})", "Understood."};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QCOMPARE(ui.hows, std::vector<std::string>{"denied"});
        QVERIFY(ui.errors[0]);
        QVERIFY(ui.results[0].find("denied") != std::string::npos);
        QVERIFY(ui.results[0].find("secret") == std::string::npos);  // not run: no echo
        QCOMPARE(r.finalText, std::string("Understood."));
    }

    void alwaysAllowAsksOncePerTool() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ui.answers = {Approval::AlwaysAllow, Approval::AllowOnce};
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "echo", "parameters": {"message": "one"}})",
                         R"({"name": "echo", "parameters": {"message": "two"}})",
                         R"({"name": "get-sum", "parameters": {"a": 2, "b": 3}})", "Done."};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QCOMPARE(ui.asked, 2);  // echo once (then always), get-sum once
        QCOMPARE(ui.hows, (std::vector<std::string>{"always allowed", "allowed (always allowed earlier)", "allowed once"}));
        QVERIFY(ui.results[1].find("two") != std::string::npos);
        QVERIFY2(ui.results[2].find('5') != std::string::npos, ui.results[2].c_str());
        QCOMPARE(r.toolRounds, 3);
    }

    void yesAllowsEverythingWithoutAsking() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoopOptions o = options();
        o.allowAll = true;
        ToolLoop loop(*host_, model, ui, o);
        model.replies = {R"({"name": "echo", "parameters": {"message": "a"}}; {"name": "echo", "parameters": {"message": "b"}})",
                         "ok"};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QCOMPARE(ui.asked, 0);
        QCOMPARE(ui.hows, (std::vector<std::string>{"allowed (--yes)", "allowed (--yes)"}));
        QCOMPARE(ui.results.size(), size_t(2));
        QCOMPARE(r.messages.size(), size_t(5));  // user, call x2, two results, reply
    }

    void noTerminalDenies() {
        // The CLI's terminal UI with nothing to ask (stdin not a terminal, no --yes).
        ScriptedCompletion model(*tok_, 4096);
        std::FILE* out = std::tmpfile();
        std::FILE* info = std::tmpfile();
        TerminalToolUi ui(out, info, nullptr);
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "echo", "parameters": {"message": "nope"}})", "I could not run it."};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QCOMPARE(r.messages[2].role, std::string("ipython"));
        QVERIFY(r.messages[2].content.find("denied") != std::string::npos);
        std::rewind(info);
        char buf[4096] = {};
        QVERIFY(std::fread(buf, 1, sizeof buf - 1, info) > 0);
        const std::string shown(buf);
        QVERIFY2(shown.find("tool call: echo (MCP server \"everything\")") != std::string::npos, buf);
        QVERIFY2(shown.find("no terminal to ask and no --yes: denied") != std::string::npos, buf);
        std::fclose(out);
        std::fclose(info);
    }

    void terminalAnswers() {
        QCOMPARE(TerminalToolUi::parseAnswer("a"), Approval::AllowOnce);
        QCOMPARE(TerminalToolUi::parseAnswer(" Yes \n"), Approval::AllowOnce);
        QCOMPARE(TerminalToolUi::parseAnswer("always"), Approval::AlwaysAllow);
        QCOMPARE(TerminalToolUi::parseAnswer("A"), Approval::AlwaysAllow);
        QCOMPARE(TerminalToolUi::parseAnswer(""), Approval::Deny);
        QCOMPARE(TerminalToolUi::parseAnswer("d"), Approval::Deny);
        QCOMPARE(TerminalToolUi::parseAnswer("sure"), Approval::Deny);
        // Answers read line by line from the terminal stream.
        ScriptedCompletion model(*tok_, 4096);
        std::FILE* out = std::tmpfile();
        std::FILE* info = std::tmpfile();
        std::FILE* answers = std::tmpfile();
        std::fputs("always\n", answers);
        std::rewind(answers);
        TerminalToolUi ui(out, info, answers);
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "echo", "parameters": {"message": "m1"}})",
                         R"({"name": "echo", "parameters": {"message": "m2"}})", "end"};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QVERIFY(r.messages[2].content.find("m1") != std::string::npos);
        QVERIFY(r.messages[4].content.find("m2") != std::string::npos);  // asked once, EOF after
        std::fclose(out);
        std::fclose(info);
        std::fclose(answers);
    }

    void toolErrorGoesBackAsError() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ui.answers = {Approval::AllowOnce};
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "get-sum", "parameters": {"a": "two"}})", "That failed."};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QVERIFY(ui.errors[0]);
        QVERIFY2(ui.results[0].rfind("Error: ", 0) == 0, ui.results[0].c_str());
        QCOMPARE(r.finalText, std::string("That failed."));
    }

    void unknownToolIsAnErrorNotAQuestion() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoop loop(*host_, model, ui, options());
        model.replies = {R"({"name": "launch_rockets", "parameters": {}})", "Sorry."};
        loop.run(userTurn("x"));
        QCOMPARE(ui.asked, 0);
        QVERIFY(ui.calls[0].server.isEmpty());
        QVERIFY(ui.errors[0]);
        QVERIFY(ui.results[0].find("no tool named launch_rockets") != std::string::npos);
    }

    void malformedCallIsShownAsText() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoop loop(*host_, model, ui, options());
        // (no raw string here: moc loses its way in one with unbalanced braces)
        const std::string bad = "{\"name\": \"echo\", \"parameters\": {\"message\": \"hi";
        model.replies = {bad};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QVERIFY(r.malformed);
        QCOMPARE(ui.shown, bad);
        QCOMPARE(ui.notes.size(), size_t(1));
        QVERIFY2(ui.notes[0].rfind("[malformed tool call: ", 0) == 0, ui.notes[0].c_str());
        QVERIFY(ui.calls.empty());
        QCOMPARE(model.asked.size(), size_t(1));
    }

    void longResultIsTruncatedToTheBudget() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoopOptions o = options();
        o.allowAll = true;
        o.maxResultTokens = 40;
        ToolLoop loop(*host_, model, ui, o);
        std::string longText;
        for (int i = 0; i < 200; ++i) longText += "word" + std::to_string(i) + " ";
        model.replies = {"{\"name\": \"echo\", \"parameters\": {\"message\": \"" + longText + "\"}}", "ok"};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QVERIFY(ui.truncations[0]);
        QVERIFY2(r.messages[2].content.find("[truncated: ") != std::string::npos, r.messages[2].content.c_str());
        QVERIFY(tok_->encode(r.messages[2].content, false).size() <= 40);
        // A small context leaves a small budget, whatever the cap.
        ScriptedCompletion tight(*tok_, 0);
        ToolLoop loop2(*host_, tight, ui, o);
        QCOMPARE(loop2.resultBudget(userTurn("x")), size_t(16));
        ScriptedCompletion roomy(*tok_, 1 << 20);
        QCOMPARE(ToolLoop(*host_, roomy, ui, o).resultBudget(userTurn("x")), size_t(40));
    }

    void roundsAreBounded() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoopOptions o = options();
        o.allowAll = true;
        o.maxRounds = 2;
        ToolLoop loop(*host_, model, ui, o);
        const std::string call = R"({"name": "echo", "parameters": {"message": "again"}})";
        model.replies = {call, call, call, call};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QVERIFY(r.roundLimitReached);
        QCOMPARE(r.toolRounds, 2);
        QCOMPARE(model.asked.size(), size_t(3));
        QCOMPARE(ui.results.size(), size_t(2));
        QCOMPARE(ui.notices.size(), size_t(1));
    }

    void pythonicFormat() {
        ScriptedCompletion model(*tok_, 4096);
        RecordingUi ui;
        ToolLoopOptions o = options();
        o.format = ToolCallFormat::Pythonic;
        o.allowAll = true;
        ToolLoop loop(*host_, model, ui, o);
        model.replies = {R"([echo(message='py')])", "fine"};
        const ToolLoopResult r = loop.run(userTurn("x"));
        QCOMPARE(ui.results.size(), size_t(1));
        QVERIFY(ui.results[0].find("py") != std::string::npos);
        QCOMPARE(model.prompts[0], render_tool_chat_template(*tok_, userTurn("x"), loop.promptOptions(), true));
        QCOMPARE(r.finalText, std::string("fine"));
    }

    // The CLI on a real tiny model (random weights: it writes no call): the server's tools are in
    // the prompt, the reply is plain text, nothing is asked.
    void cliChatWithTools() {
        QTemporaryDir dir;
        const QString config = dir.filePath(QStringLiteral("mcp.json"));
        QFile f(config);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QStringLiteral(R"({"mcpServers": {"everything": {"command": "%1", "args": ["%2"]}}})")
                    .arg(ld::test::nodeExecutable(), ld::test::officialServer(QStringLiteral("server-everything")))
                    .toUtf8());
        f.close();
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
        QProcess p;
        p.setStandardInputFile(QProcess::nullDevice());  // no terminal
        p.start(QStringLiteral(LLAMADESK_CLI),
                {"generate", "--chat", "--mcp-config", config, "-m", model, "-p", "Say hi", "--temp", "0", "-n", "30",
                 "--verbose-prompt"});
        QVERIFY(p.waitForFinished(60000));
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(p.exitCode() == 0, qPrintable(err));
        QVERIFY2(err.contains(QRegularExpression(
                     QStringLiteral("tools: \\d+ from 1 MCP server\\(s\\), json calls, no terminal: calls are denied"))),
                 qPrintable(err.left(300)));
        QVERIFY2(err.contains(QStringLiteral("\"name\": \"echo\"")), qPrintable(err.left(2000)));
        QVERIFY(err.contains(QStringLiteral("Environment: ipython")));
        QVERIFY2(err.contains(QStringLiteral("tool rounds: 0")), qPrintable(err.right(500)));
        QVERIFY(!err.contains(QStringLiteral("tool call:")));
        QVERIFY2(!out.trimmed().isEmpty(), qPrintable(err.right(500)));
    }

    // A prompt the CLI fits to --ctx says what it left out on stderr, in the app's words
    // (chat::fittedNotice): here the end of a system prompt longer than the window.
    void cliChatSaysWhatWasLeftOut() {
        QTemporaryDir dir;
        const QString config = dir.filePath(QStringLiteral("mcp.json"));
        QFile f(config);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QStringLiteral(R"({"mcpServers": {"fake": {"command": "%1", "args": ["%2", "good"]}}})")
                    .arg(ld::test::nodeExecutable(), ld::test::fakeServerScript())
                    .toUtf8());
        f.close();
        QString system = QStringLiteral("Answer in one line.");
        for (int i = 0; i < 400; ++i) system += QStringLiteral(" rule%1").arg(i);
        system += QStringLiteral(" LASTRULE");
        const QString model = QStringLiteral(LLAMADESK_SHARED_DIR "/models/tiny-llama31-random-f16.gguf");
        QProcess p;
        p.setStandardInputFile(QProcess::nullDevice());
        p.start(QStringLiteral(LLAMADESK_CLI), {"generate", "--chat", "--mcp-config", config, "-m", model, "-p", "Say hi",
                                                "--system", system, "--ctx", "512", "-n", "16", "--temp", "0", "--verbose-prompt"});
        QVERIFY(p.waitForFinished(60000));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(p.exitCode() == 0, qPrintable(err.right(1000)));
        QVERIFY2(err.contains(QStringLiteral("note: The end of the system prompt was left out to fit the context window.\n")),
                 qPrintable(err.right(1000)));
        QVERIFY(err.contains(QStringLiteral("Answer in one line. rule0 rule1")));
        QVERIFY(!err.contains(QStringLiteral("LASTRULE")));
        QVERIFY(err.contains(QStringLiteral("Say hi")));
        QVERIFY2(err.contains(QStringLiteral("tool rounds: 0")), qPrintable(err.right(500)));
    }

    void cliErrors() {
        QProcess p;
        p.start(QStringLiteral(LLAMADESK_CLI), {"generate", "--mcp-config", "/nonexistent.json", "-m", "x.gguf", "-p", "hi"});
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(QString::fromUtf8(p.readAllStandardError()).contains(QStringLiteral("--mcp-config needs --chat")));
        p.start(QStringLiteral(LLAMADESK_CLI),
                {"generate", "--chat", "--mcp-config", "/nonexistent.json", "-m", "x.gguf", "-p", "hi"});
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 1);
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(err.contains(QStringLiteral("/nonexistent.json")), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestToolLoop)
#include "test_tool_loop.moc"
