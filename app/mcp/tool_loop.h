#pragma once
// A chat turn with tools: the model's reply is parsed for tool calls; each call is shown to the
// user and run on its MCP server only with the user's consent; its result goes back to the model
// in the ipython role (cut to what the context leaves, with a note) and the model continues, for
// a bounded number of rounds. The front end supplies the completion (the local engine in the
// CLI, a scripted fake in tests) and the approval / display (ToolLoopUi). Blocking: it runs a
// local event loop while a tool runs, so it belongs on a thread with no UI (the CLI's main
// thread, a worker).
#include <QJsonArray>
#include <QString>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "app/chat/prompt_builder.h"
#include "inference/chat/chat_format.h"
#include "inference/chat/tool_format.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::mcp {

class McpHost;
struct CallResult;
struct Tool;

// What writes the assistant's replies.
class ToolCompletion {
public:
    virtual ~ToolCompletion() = default;
    // The reply to `messages` rendered with `options` (the tool prompt), its text streamed to
    // `onText` piece by piece as it is generated; returns the whole reply, without its leading
    // whitespace (a local engine sets GenerateOptions::trim_leading_space). Throws ld::Error.
    virtual std::string complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& options,
                                 const std::function<void(std::string_view)>& onText) = 0;
    // The model's tokenizer (prompt lengths, result truncation) and context size in tokens.
    virtual const Tokenizer& tokenizer() const = 0;
    virtual size_t contextTokens() const = 0;
};

enum class Approval { AllowOnce, AlwaysAllow, Deny };

// One call the model asked for, as the user sees it.
struct PendingCall {
    QString server;  // empty when no configured server has the tool
    QString tool;
    std::string argumentsJson;  // a compact JSON object
    // The tool's input schema as listed (toolSchemaKey): "always allowed" holds for this schema
    // only, so a tool whose schema changed is asked about again.
    QString schemaKey;
};

// "Always allow" decisions: "server\ntool\nschemaKey". The loop keeps its own set unless the
// front end hands one that outlives the turn (the app's, saved with its tool settings).
class AllowList {
public:
    virtual ~AllowList() = default;
    virtual bool allowed(const PendingCall& call) const = 0;
    virtual void allow(const PendingCall& call) = 0;
};

// Runs one tool call and waits for its result (a failure when `cancel` becomes true first).
class ToolRunner {
public:
    virtual ~ToolRunner() = default;
    virtual CallResult call(const QString& server, const QString& tool, const QJsonObject& arguments, int timeoutMs,
                            const std::atomic<bool>* cancel) = 0;
};

// The CLI's runner: calls McpHost on the calling thread, running a local event loop meanwhile.
class HostToolRunner final : public ToolRunner {
public:
    explicit HostToolRunner(McpHost& host) : host_(host) {}
    CallResult call(const QString& server, const QString& tool, const QJsonObject& arguments, int timeoutMs,
                    const std::atomic<bool>* cancel) override;

private:
    McpHost& host_;
};

// The front end's side: asking the user and showing what happens. approve() is called only when
// the tool is not already always-allowed and --yes / allowAll is off.
class ToolLoopUi {
public:
    virtual ~ToolLoopUi() = default;
    virtual Approval approve(const PendingCall& call) = 0;
    // A reply is about to be generated (before its text, if any).
    virtual void replyStart() {}
    // Reply text as it may be shown: held back while the reply could still become a tool call.
    virtual void text(std::string_view piece) { (void)piece; }
    // A reply ended (after its text, if any).
    virtual void replyEnd() {}
    // The calls of a reply, all at once, before the first runs (each then gets toolCall, decided,
    // toolResult in turn).
    virtual void callsParsed(const std::vector<PendingCall>& calls) { (void)calls; }
    virtual void toolCall(const PendingCall& call) { (void)call; }
    // How the call was decided: `how` is "allowed", "always allowed", "allowed (--yes)", "denied"...;
    // a call an earlier "always allow" let through comes as AlwaysAllow.
    virtual void decided(const PendingCall& call, Approval approval, const QString& how) {
        (void)call, (void)approval, (void)how;
    }
    // What goes back to the model for the call (already truncated when `truncated`).
    virtual void toolResult(const PendingCall& call, const std::string& text, bool isError, bool truncated) {
        (void)call, (void)text, (void)isError, (void)truncated;
    }
    // A reply that looked like a tool call but did not parse: its text was shown, this is the note.
    virtual void malformed(const std::string& note) { (void)note; }
    // A reply's prompt was fitted to the context window (chat::fitToolPrompt): what of the
    // conversation it left out (fit.any()). By default it is a notice (chat::fittedNotice, the
    // words the app's chat shows), so a terminal prints it as it prints the others.
    virtual void promptFitted(const chat::PromptFit& fit);
    // Something the user should know (the round limit was reached, ...).
    virtual void notice(const std::string& line) { (void)line; }
};

struct ToolLoopOptions {
    ToolCallFormat format = ToolCallFormat::Json;
    std::string dateString;       // "Today Date" of the prompt; empty: today
    int maxRounds = 5;            // replies with tool calls before the loop stops asking the model
    bool allowAll = false;        // --yes: every call runs without asking
    int callTimeoutMs = 60000;    // one tool call
    // Left free for the model's next reply: each prompt is fitted to the context less this (the
    // app passes the engine's own reserve, chat::replyReserve).
    size_t replyReserveTokens = 256;
    size_t maxResultTokens = 8192;     // a result never takes more, even in a large context
    // A document chat's passages for the user's message (chat::promptText puts them before its
    // words), which `messages` holds without them: the first thing cut when the turn does not fit.
    QString passages;
    // Stop: set by the front end; the loop asks nothing more, cancels the running call and ends
    // after the reply being generated (the completion watches the same flag).
    const std::atomic<bool>* cancel = nullptr;
    AllowList* allowList = nullptr;    // null: the loop's own, for this turn only
};

struct ToolLoopResult {
    std::vector<ChatMessage> messages;  // the conversation after the turn (tool turns included; no passages)
    std::string finalText;              // the last reply's text (empty when it was only calls)
    int toolRounds = 0;                 // replies that called tools
    bool roundLimitReached = false;
    bool malformed = false;             // the last reply was a malformed call, shown as text
    bool cancelled = false;             // stopped (options.cancel) before the turn's end
};

class ToolLoop {
public:
    // `host` must have been started (startAllAndWait): its ready servers' tools are offered.
    ToolLoop(McpHost& host, ToolCompletion& completion, ToolLoopUi& ui, ToolLoopOptions options);
    // `tools` (e.g. McpHost::tools() read on the host's thread) run through `runner`.
    ToolLoop(const QList<Tool>& tools, ToolRunner& runner, ToolCompletion& completion, ToolLoopUi& ui,
             ToolLoopOptions options);

    // The tools offered to the model (the first server that has a name wins; later duplicates
    // are left out with a notice).
    const std::vector<ToolDefinition>& tools() const { return tools_; }
    ToolPromptOptions promptOptions() const;

    // Runs one user turn: `messages` ends with the user's message. Throws ld::Error from the
    // completion.
    ToolLoopResult run(std::vector<ChatMessage> messages);

    // Token budget for a tool result appended to `messages` (what the context leaves after the
    // system message, the current turn and the reply reserve: older turns, this turn's passages
    // and its older results give way when needed; capped by maxResultTokens; at least 16).
    size_t resultBudget(const std::vector<ChatMessage>& messages) const;

private:
    struct Outcome {
        std::string text;
        bool isError = false;
    };
    Outcome execute(const PendingCall& call, const ToolCall& parsed);
    Approval decide(const PendingCall& call, QString* how);
    bool cancelled() const { return options_.cancel && options_.cancel->load(); }
    // What each prompt may take: the context less the reply reserve.
    int promptBudget() const;
    ToolLoop(const QList<Tool>& tools, std::unique_ptr<ToolRunner> own, ToolRunner* runner, ToolCompletion& completion,
             ToolLoopUi& ui, ToolLoopOptions options);

    std::unique_ptr<ToolRunner> ownRunner_;  // the McpHost constructor's
    ToolRunner& runner_;
    ToolCompletion& completion_;
    ToolLoopUi& ui_;
    ToolLoopOptions options_;
    std::vector<ToolDefinition> tools_;
    std::map<std::string, QString> serverOf_;  // tool name -> server
    std::map<std::string, QString> schemaOf_;  // tool name -> toolSchemaKey
    struct OwnAllowList final : AllowList {
        std::set<QString> keys;
        bool allowed(const PendingCall& call) const override;
        void allow(const PendingCall& call) override;
    } ownAllowList_;
    AllowList& allowList_;
};

// What identifies a tool's schema for "always allow": its input schema as compact JSON (keys
// sorted), with its description.
QString toolSchemaKey(const Tool& tool);
QString allowKey(const PendingCall& call);

// A tools/call result as text for the model: text parts joined by newlines, other parts as JSON.
std::string resultText(const QJsonArray& content);

}  // namespace ld::mcp
