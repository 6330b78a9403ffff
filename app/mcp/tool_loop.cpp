#include "app/mcp/tool_loop.h"

#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <algorithm>

#include "app/mcp/mcp_host.h"
#include "inference/chat/tool_call_parser.h"
#include "inference/chat/tool_result.h"

namespace ld::mcp {

namespace {

std::string key(const QString& server, const QString& tool) { return (server + u'\n' + tool).toStdString(); }

std::string ltrim(std::string_view s) {
    const size_t at = s.find_first_not_of(" \t\r\n");
    return at == std::string_view::npos ? std::string() : std::string(s.substr(at));
}

}  // namespace

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

ToolLoop::ToolLoop(McpHost& host, ToolCompletion& completion, ToolLoopUi& ui, ToolLoopOptions options)
    : host_(host), completion_(completion), ui_(ui), options_(std::move(options)) {
    for (const Tool& t : host_.tools()) {
        const std::string name = t.name.toStdString();
        if (serverOf_.count(name)) {
            ui_.notice("the tool " + name + " of MCP server \"" + t.server.toStdString() + "\" is left out: server \"" +
                       serverOf_[name].toStdString() + "\" has a tool of the same name");
            continue;
        }
        serverOf_[name] = t.server;
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

size_t ToolLoop::resultBudget(const std::vector<ChatMessage>& messages) const {
    // The prompt as it stands plus the ipython turn's own markers and {"output": ""} wrapper.
    std::vector<ChatMessage> probe = messages;
    probe.push_back({"ipython", ""});
    const size_t used = apply_tool_chat_template(completion_.tokenizer(), probe, promptOptions(), true).size();
    const size_t ctx = completion_.contextTokens();
    const size_t left = ctx > used + options_.replyReserveTokens ? ctx - used - options_.replyReserveTokens : 0;
    return std::max<size_t>(16, std::min(left, options_.maxResultTokens));
}

Approval ToolLoop::decide(const PendingCall& call, QString* how) {
    if (options_.allowAll) {
        *how = QStringLiteral("allowed (--yes)");
        return Approval::AllowOnce;
    }
    if (alwaysAllowed_.count(key(call.server, call.tool))) {
        *how = QStringLiteral("allowed (always allowed earlier)");
        return Approval::AllowOnce;
    }
    const Approval a = ui_.approve(call);
    if (a == Approval::AlwaysAllow) alwaysAllowed_.insert(key(call.server, call.tool));
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

    QString how;
    const Approval a = decide(call, &how);
    ui_.decided(call, a, how);
    if (a == Approval::Deny)
        return {"The user denied this call of " + tool + "; it was not run. Do not call it again for this request.",
                true};

    bool done = false;
    CallResult result;
    QEventLoop loop;
    host_.callTool(call.server, call.tool, args.object(), [&](const CallResult& r) {
        result = r;
        done = true;
        loop.quit();
    }, options_.callTimeoutMs);
    // The client enforces the call's timeout; this guard only keeps a lost answer from hanging.
    QTimer guard;
    guard.setSingleShot(true);
    QObject::connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
    guard.start(options_.callTimeoutMs + 5000);
    if (!done) loop.exec();
    if (!done) return {"Error: " + tool + " did not answer in time.", true};
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
        const std::string full = completion_.complete(messages, prompt, [&](std::string_view piece) {
            if (released) {
                ui_.text(piece);
                return;
            }
            reply.append(piece);
            if (may_become_tool_call(reply)) return;
            released = true;
            const std::string shown = ltrim(reply);
            if (!shown.empty()) ui_.text(shown);
        });
        const ToolCallParse parse = parse_tool_calls(full);
        if (parse.kind != ToolCallParse::Kind::Calls || released) {
            if (!released) {
                const std::string shown = ltrim(full);
                if (!shown.empty()) ui_.text(shown);
            }
            ui_.replyEnd();
            if (parse.kind == ToolCallParse::Kind::Malformed && !released) {
                ui_.malformed(malformed_tool_call_note(parse));
                out.malformed = true;
            }
            messages.push_back({"assistant", full});
            out.finalText = ltrim(full);
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
        for (const ToolCall& c : parse.calls) {
            PendingCall call;
            call.tool = QString::fromStdString(c.name);
            const auto it = serverOf_.find(c.name);
            if (it != serverOf_.end()) call.server = it->second;
            call.argumentsJson = c.arguments_json;
            ui_.toolCall(call);
            const Outcome o = execute(call, c);
            const TruncatedToolResult t = truncate_tool_result(completion_.tokenizer(), o.text, resultBudget(messages));
            ui_.toolResult(call, t.text, o.isError, t.truncated);
            messages.push_back({"ipython", t.text});
        }
    }
    out.messages = std::move(messages);
    return out;
}

}  // namespace ld::mcp
