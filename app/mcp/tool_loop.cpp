#include "app/mcp/tool_loop.h"

#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <algorithm>

#include "app/chat/prompt_builder.h"
#include "app/mcp/mcp_client.h"
#include "app/mcp/mcp_host.h"
#include "inference/chat/tool_call_parser.h"
#include "inference/chat/tool_result.h"
#include "inference/core/error.h"

namespace ld::mcp {

std::string resultText(const QJsonArray& content) {
    std::string out;
    for (const QJsonValue& v : content) {
        if (!out.empty()) out += '\n';
        const QJsonObject part = v.toObject();
        if (part.value(QStringLiteral("type")).toString() == QLatin1String("text"))
            out += part.value(QStringLiteral("text")).toString().toStdString();
        else  // images, resources: the model gets them as the server described them
            out += QJsonDocument(part).toJson(QJsonDocument::Compact).toStdString();
    }
    return out;
}

QString toolSchemaKey(const Tool& tool) {
    return QString::fromUtf8(QJsonDocument(tool.inputSchema).toJson(QJsonDocument::Compact)) + u'\n' + tool.description;
}

QString allowKey(const PendingCall& call) { return call.server + u'\n' + call.tool + u'\n' + call.schemaKey; }

bool ToolLoop::OwnAllowList::allowed(const PendingCall& call) const { return keys.count(allowKey(call)) > 0; }
void ToolLoop::OwnAllowList::allow(const PendingCall& call) { keys.insert(allowKey(call)); }

void ToolLoopUi::promptFitted(const chat::PromptFit& fit) { notice(chat::fittedNotice(fit).toStdString()); }

CallResult HostToolRunner::call(const QString& server, const QString& tool, const QJsonObject& arguments, int timeoutMs,
                                const std::atomic<bool>* cancel) {
    bool done = false;
    CallResult result;
    QEventLoop loop;
    const qint64 id = host_.callTool(server, tool, arguments, [&](const CallResult& r) {
        result = r;
        done = true;
        loop.quit();
    }, timeoutMs);
    // The client enforces the call's timeout; this guard only keeps a lost answer from hanging.
    QTimer guard;
    guard.setSingleShot(true);
    QObject::connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
    guard.start(timeoutMs + 5000);
    // A stop (the CLI's Ctrl-C) is polled: the flag is set from a signal handler.
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (!cancel->load() || id < 0) return;
        poll.stop();
        if (McpClient* c = host_.client(server)) c->cancelCall(id);
    });
    if (cancel) poll.start(50);
    if (!done) loop.exec();
    if (!done) return CallResult::failure(QStringLiteral("%1 did not answer in time").arg(tool));
    return result;
}

ToolLoop::ToolLoop(McpHost& host, ToolCompletion& completion, ToolLoopUi& ui, ToolLoopOptions options)
    : ToolLoop(host.tools(), std::make_unique<HostToolRunner>(host), nullptr, completion, ui, std::move(options)) {}

ToolLoop::ToolLoop(const QList<Tool>& tools, ToolRunner& runner, ToolCompletion& completion, ToolLoopUi& ui,
                   ToolLoopOptions options)
    : ToolLoop(tools, nullptr, &runner, completion, ui, std::move(options)) {}

ToolLoop::ToolLoop(const QList<Tool>& tools, std::unique_ptr<ToolRunner> own, ToolRunner* runner,
                   ToolCompletion& completion, ToolLoopUi& ui, ToolLoopOptions options)
    : ownRunner_(std::move(own)), runner_(runner ? *runner : *ownRunner_), completion_(completion), ui_(ui),
      options_(std::move(options)), allowList_(options_.allowList ? *options_.allowList : ownAllowList_) {
    for (const Tool& t : tools) {
        const std::string name = t.name.toStdString();
        if (serverOf_.count(name)) {
            ui_.notice("the tool " + name + " of MCP server \"" + t.server.toStdString() + "\" is left out: server \"" +
                       serverOf_[name].toStdString() + "\" has a tool of the same name");
            continue;
        }
        serverOf_[name] = t.server;
        schemaOf_[name] = toolSchemaKey(t);
        ToolDefinition d;
        d.name = name;
        d.description = t.description.toStdString();
        if (!t.inputSchema.isEmpty())
            d.parameters_json = QJsonDocument(t.inputSchema).toJson(QJsonDocument::Compact).toStdString();
        tools_.push_back(std::move(d));
    }
}

ToolPromptOptions ToolLoop::promptOptions() const {
    ToolPromptOptions o;
    o.format = options_.format;
    o.tools = tools_;
    o.date_string = options_.dateString;
    return o;
}

int ToolLoop::promptBudget() const {
    const size_t ctx = completion_.contextTokens();
    return ctx > options_.replyReserveTokens ? int(ctx - options_.replyReserveTokens) : 0;
}

size_t ToolLoop::resultBudget(const std::vector<ChatMessage>& messages) const {
    // The least the prompt can be (chat::fitToolPrompt drops the older turns and cuts this
    // turn's older results to make room) plus the ipython turn's own markers and wrapper.
    std::vector<ChatMessage> probe = chat::leastOfTurn(messages);
    probe.push_back({"ipython", ""});
    const size_t used = apply_tool_chat_template(completion_.tokenizer(), probe, promptOptions(), true).size();
    const size_t budget = size_t(promptBudget());
    const size_t left = budget > used ? budget - used : 0;
    return std::max<size_t>(16, std::min(left, options_.maxResultTokens));
}

Approval ToolLoop::decide(const PendingCall& call, QString* how) {
    if (options_.allowAll) {
        *how = QStringLiteral("allowed (--yes)");
        return Approval::AllowOnce;
    }
    if (allowList_.allowed(call)) {  // the standing decision: reported as AlwaysAllow
        *how = QStringLiteral("allowed (always allowed earlier)");
        return Approval::AlwaysAllow;
    }
    const Approval a = ui_.approve(call);
    if (a == Approval::AlwaysAllow) allowList_.allow(call);
    *how = a == Approval::Deny ? QStringLiteral("denied")
                               : a == Approval::AlwaysAllow ? QStringLiteral("always allowed") : QStringLiteral("allowed once");
    return a;
}

ToolLoop::Outcome ToolLoop::execute(const PendingCall& call, const ToolCall& parsed) {
    const std::string tool = call.tool.toStdString();
    if (call.server.isEmpty())
        return {"Error: there is no tool named " + tool + ". The tools are the ones listed in the system prompt.", true};
    QJsonParseError pe;
    const QJsonDocument args = QJsonDocument::fromJson(QByteArray::fromStdString(parsed.arguments_json), &pe);
    if (pe.error != QJsonParseError::NoError || !args.isObject())
        return {"Error: the arguments of " + tool + " are not a JSON object.", true};

    if (cancelled()) return {"The user stopped the reply; " + tool + " was not run.", true};
    QString how;
    const Approval a = decide(call, &how);
    ui_.decided(call, a, how);
    if (a == Approval::Deny)
        return {"The user denied this call of " + tool + "; it was not run. Do not call it again for this request.",
                true};

    const CallResult result = runner_.call(call.server, call.tool, args.object(), options_.callTimeoutMs, options_.cancel);
    if (!result.ok) return {"Error: the call of " + tool + " failed: " + result.error.toStdString(), true};
    std::string text = resultText(result.content);
    if (result.isError) text = "Error: " + text;
    return {text, result.isError};
}

ToolLoopResult ToolLoop::run(std::vector<ChatMessage> messages) {
    ToolLoopResult out;
    const ToolPromptOptions prompt = promptOptions();
    for (;;) {
        // Text is held back while the reply may still become a tool call; once it cannot, what
        // was held and the rest stream through.
        std::string reply;
        bool released = false;
        ui_.replyStart();
        // Each reply's prompt fits the window by the plain chat's rule (the reply's message
        // exists by now, so a turn that cannot fit ends with this error on it).
        const chat::FittedToolPrompt fit =
            chat::fitToolPrompt(completion_.tokenizer(), messages, prompt, promptBudget(), options_.passages);
        if (fit.tokens.empty())
            fail("This turn does not fit the model's context window (", completion_.contextTokens(),
                 " tokens) even without the older messages, its documents' passages and the system prompt, and with "
                 "its tool results cut. Shorten the message, switch tools off for this chat or raise the context "
                 "length in Settings.");
        if (fit.any()) ui_.promptFitted(fit);
        const std::string full = completion_.complete(fit.messages, prompt, [&](std::string_view piece) {
            if (released) {
                ui_.text(piece);
                return;
            }
            reply.append(piece);
            if (may_become_tool_call(reply)) return;
            released = true;
            if (!reply.empty()) ui_.text(reply);
        });
        const bool stopped = cancelled();
        const ToolCallParse parse = parse_tool_calls(full);
        if (parse.kind != ToolCallParse::Kind::Calls || released || stopped) {
            if (!released && !full.empty()) ui_.text(full);
            ui_.replyEnd();
            if (parse.kind == ToolCallParse::Kind::Malformed && !released && !stopped) {
                ui_.malformed(malformed_tool_call_note(parse));
                out.malformed = true;
            }
            messages.push_back({"assistant", full});
            out.finalText = full;
            out.cancelled = stopped;
            break;
        }
        ui_.replyEnd();
        if (out.toolRounds >= options_.maxRounds) {
            // The model keeps calling tools: stop here rather than loop for ever.
            out.roundLimitReached = true;
            ui_.notice("stopped after " + std::to_string(options_.maxRounds) +
                       " rounds of tool calls; the last calls were not run");
            messages.push_back({"assistant", full});
            break;
        }
        ++out.toolRounds;
        ChatMessage assistant{"assistant", full, parse.calls};
        messages.push_back(assistant);
        std::vector<PendingCall> calls;
        for (const ToolCall& c : parse.calls) {
            PendingCall call;
            call.tool = QString::fromStdString(c.name);
            const auto it = serverOf_.find(c.name);
            if (it != serverOf_.end()) {
                call.server = it->second;
                call.schemaKey = schemaOf_[c.name];
            }
            call.argumentsJson = c.arguments_json;
            calls.push_back(std::move(call));
        }
        ui_.callsParsed(calls);
        for (size_t i = 0; i < calls.size(); ++i) {
            const PendingCall& call = calls[i];
            const ToolCall& c = parse.calls[i];
            ui_.toolCall(call);
            const Outcome o = execute(call, c);
            const TruncatedToolResult t = truncate_tool_result(completion_.tokenizer(), o.text, resultBudget(messages));
            ui_.toolResult(call, t.text, o.isError, t.truncated);
            messages.push_back({"ipython", t.text});
        }
        if (cancelled()) {
            out.cancelled = true;
            break;
        }
    }
    out.messages = std::move(messages);
    return out;
}

}  // namespace ld::mcp
