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
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "inference/chat/chat_format.h"
#include "inference/chat/tool_format.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::mcp {

class McpHost;

// What writes the assistant's replies.
class ToolCompletion {
public:
    virtual ~ToolCompletion() = default;
    // The reply to `messages` rendered with `options` (the tool prompt), its text streamed to
    // `onText` piece by piece as it is generated; returns the whole reply. Throws ld::Error.
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
};

// The front end's side: asking the user and showing what happens. approve() is called only when
// the tool is not already always-allowed and --yes / allowAll is off.
class ToolLoopUi {
public:
    virtual ~ToolLoopUi() = default;
    virtual Approval approve(const PendingCall& call) = 0;
    // Reply text as it may be shown: held back while the reply could still become a tool call.
    virtual void text(std::string_view piece) { (void)piece; }
    // A reply ended (after its text, if any).
    virtual void replyEnd() {}
    virtual void toolCall(const PendingCall& call) { (void)call; }
    // How the call was decided: `how` is "allowed", "always allowed", "allowed (--yes)", "denied"...
    virtual void decided(const PendingCall& call, Approval approval, const QString& how) {
        (void)call, (void)approval, (void)how;
    }
    // What goes back to the model for the call (already truncated when `truncated`).
    virtual void toolResult(const PendingCall& call, const std::string& text, bool isError, bool truncated) {
        (void)call, (void)text, (void)isError, (void)truncated;
    }
    // A reply that looked like a tool call but did not parse: its text was shown, this is the note.
    virtual void malformed(const std::string& note) { (void)note; }
    // Something the user should know (the round limit was reached, ...).
    virtual void notice(const std::string& line) { (void)line; }
};

struct ToolLoopOptions {
    ToolCallFormat format = ToolCallFormat::Json;
    std::string dateString;       // "Today Date" of the prompt; empty: today
    int maxRounds = 5;            // replies with tool calls before the loop stops asking the model
    bool allowAll = false;        // --yes: every call runs without asking
    int callTimeoutMs = 60000;    // one tool call
    size_t replyReserveTokens = 256;   // left free for the model's next reply
    size_t maxResultTokens = 8192;     // a result never takes more, even in a large context
};

struct ToolLoopResult {
    std::vector<ChatMessage> messages;  // the conversation after the turn (tool turns included)
    std::string finalText;              // the last reply's text (empty when it was only calls)
    int toolRounds = 0;                 // replies that called tools
    bool roundLimitReached = false;
    bool malformed = false;             // the last reply was a malformed call, shown as text
};

class ToolLoop {
public:
    // `host` must have been started (startAllAndWait): its ready servers' tools are offered.
    ToolLoop(McpHost& host, ToolCompletion& completion, ToolLoopUi& ui, ToolLoopOptions options);

    // The tools offered to the model (the first server that has a name wins; later duplicates
    // are left out with a notice).
    const std::vector<ToolDefinition>& tools() const { return tools_; }
    ToolPromptOptions promptOptions() const;

    // Runs one user turn: `messages` ends with the user's message. Throws ld::Error from the
    // completion.
    ToolLoopResult run(std::vector<ChatMessage> messages);

    // Token budget for a tool result appended to `messages` (what the context leaves after the
    // prompt and the reply reserve, capped by maxResultTokens; at least 16).
    size_t resultBudget(const std::vector<ChatMessage>& messages) const;

private:
    struct Outcome {
        std::string text;
        bool isError = false;
    };
    Outcome execute(const PendingCall& call, const ToolCall& parsed);
    Approval decide(const PendingCall& call, QString* how);

    McpHost& host_;
    ToolCompletion& completion_;
    ToolLoopUi& ui_;
    ToolLoopOptions options_;
    std::vector<ToolDefinition> tools_;
    std::map<std::string, QString> serverOf_;  // tool name -> server
    std::set<std::string> alwaysAllowed_;      // "server\ntool"
};

// A tools/call result as text for the model: text parts joined by newlines, other parts as JSON.
std::string resultText(const QJsonArray& content);

}  // namespace ld::mcp
