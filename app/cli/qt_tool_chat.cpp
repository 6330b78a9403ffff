// `llamadesk-cli generate --chat --mcp-config FILE [--yes] -m MODEL -p PROMPT`: a chat turn with
// the tools of the configured MCP servers (issue 18). The loop itself is the app core's ToolLoop;
// this file gives it the local engine as its completion and the terminal as its UI. Reply text
// goes to stdout; tool calls, the questions, decisions and results to stderr. The answer to
// "Allow?" is read from stdin when it is a terminal, else from /dev/tty; with neither and no
// --yes every call is denied (the model is told so). A prompt fitted to the context (--ctx) says
// what it left out on stderr. cmd_generate hands --mcp-config here.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/engine_setup.h"
#include "app/cli/qt_support.h"
#include "app/mcp/mcp_blocking.h"
#include "app/mcp/mcp_config.h"
#include "app/mcp/mcp_host.h"
#include "app/mcp/terminal_tool_ui.h"
#include "app/mcp/tool_loop.h"
#include "inference/core/error.h"
#include "inference/gguf/gguf.h"
#include "inference/session/session.h"

namespace ld::cli {

namespace {

std::atomic<bool> g_tool_chat_interrupted{false};
extern "C" void on_tool_chat_signal(int) { g_tool_chat_interrupted.store(true); }

// The local engine behind the tool loop: each reply is generated from the whole conversation
// rendered with the tool prompt.
class EngineCompletion final : public mcp::ToolCompletion {
public:
    EngineCompletion(Engine& engine, GenerateOptions options, bool verbosePrompt)
        : engine_(engine), session_(*engine.model, *engine.backend, *engine.tokenizer),
          options_(std::move(options)), verbosePrompt_(verbosePrompt) {
        options_.trim_leading_space = true;  // a chat reply, shown as the app shows it
    }

    std::string complete(const std::vector<ChatMessage>& messages, const ToolPromptOptions& prompt,
                         const std::function<void(std::string_view)>& onText) override {
        const Tokenizer& tok = *engine_.tokenizer;
        if (verbosePrompt_)
            std::cerr << "--- prompt ---\n" << render_tool_chat_template(tok, messages, prompt, true) << "\n--- end of prompt ---\n";
        const std::vector<int32_t> ids = apply_tool_chat_template(tok, messages, prompt, true);
        if (ids.size() >= contextTokens())
            fail("the conversation (", ids.size(), " tokens) does not fit the context of ", contextTokens(),
                 " tokens (--ctx)");
        std::string reply;
        last_ = session_.generate(ids, options_, [&](std::string_view text) {
            reply.append(text);
            onText(text);
            return true;
        });
        promptTokens_ += last_.prompt_tokens;
        genTokens_ += int(last_.tokens.size());
        return reply;
    }
    const Tokenizer& tokenizer() const override { return *engine_.tokenizer; }
    size_t contextTokens() const override { return size_t(engine_.backend->context_size()); }

    const GenerateResult& last() const { return last_; }
    int promptTokens() const { return promptTokens_; }
    int genTokens() const { return genTokens_; }

private:
    Engine& engine_;
    Session session_;
    GenerateOptions options_;
    bool verbosePrompt_;
    GenerateResult last_;
    int promptTokens_ = 0, genTokens_ = 0;
};

// Where the user answers "Allow?": stdin when it is a terminal, else the controlling terminal.
std::FILE* open_answers(std::FILE** owned) {
    *owned = nullptr;
    if (::isatty(STDIN_FILENO)) return stdin;
    *owned = std::fopen("/dev/tty", "r");  // fails (ENXIO) without a controlling terminal
    return *owned;
}

}  // namespace

int run_tool_chat(const ArgList& argv) {
    std::vector<OptionSpec> specs = engine_option_specs();
    specs.insert(specs.end(), {
        {"-p|--prompt", true}, {"-n|--n-predict", true}, {"--temp", true}, {"--top-k", true},
        {"--top-p", true}, {"--min-p", true}, {"--repeat-penalty", true}, {"--seed", true},
        {"--repeat-last-n", true}, {"--frequency-penalty", true}, {"--presence-penalty", true},
        {"--chat", false}, {"--system", true}, {"--mcp-config", true}, {"--yes", false},
        {"--tool-format", true}, {"--max-tool-rounds", true}, {"--tool-timeout", true},
        {"--start-timeout", true}, {"--verbose-prompt", false},
    });
    const Args args(argv, specs);
    if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (!args.has("--chat")) throw UsageError("--mcp-config needs --chat (tools are used in a chat)");
    const std::string user = args.require("--prompt");

    GenerateOptions gen;
    gen.max_tokens = int(args.get_int("--n-predict", 512, 1, 1 << 24));
    gen.sampling = sampler_params(args);

    mcp::ToolLoopOptions loopOpt;
    loopOpt.allowAll = args.has("--yes");
    loopOpt.maxRounds = int(args.get_int("--max-tool-rounds", 5, 1, 100));
    loopOpt.callTimeoutMs = int(args.get_double("--tool-timeout", 60) * 1000);
    const int startMs = int(args.get_double("--start-timeout", 30) * 1000);
    if (loopOpt.callTimeoutMs <= 0 || startMs <= 0) throw UsageError("--tool-timeout and --start-timeout must be positive");
    const bool formatGiven = args.has("--tool-format");
    if (formatGiven && !parse_tool_call_format_name(args.get("--tool-format"), &loopOpt.format))
        throw UsageError("unknown --tool-format '" + args.get("--tool-format") + "' (json or pythonic)");

    ensure_qt_application();
    const QString configPath = qs(args.get("--mcp-config"));
    const mcp::ConfigResult config = mcp::loadConfigFile(configPath);
    if (!config.ok()) fail(config.error.toStdString());

    Engine engine = open_engine(args);
    // The reply's room, as the app keeps it: each prompt is fitted to the rest (what was left out
    // of it is a "note:" line, TerminalToolUi's notice, with the words the app's chat shows).
    loopOpt.replyReserveTokens = size_t(chat::replyReserve(gen.max_tokens, engine.backend->context_size()));
    if (!formatGiven && engine.model->file)
        loopOpt.format = detect_tool_call_format(tool_format_hints(*engine.model->file));

    // The servers start while nothing else happens; one that fails is reported and left out.
    mcp::McpClient::Options clientOpt;
    clientOpt.callTimeoutMs = loopOpt.callTimeoutMs;
    clientOpt.requestTimeoutMs = startMs;
    mcp::McpHost host(config.servers, clientOpt);
    mcp::startAllAndWait(host, startMs * 2 + 5000);
    for (mcp::McpClient* c : host.clients()) {
        if (c->state() == mcp::ServerState::Ready) continue;
        std::cerr << "warning: " << mcp::notReadyReason(*c).toStdString() << " (left out)\n";
    }

    std::FILE* ownedTty = nullptr;
    std::FILE* answers = loopOpt.allowAll ? nullptr : open_answers(&ownedTty);
    mcp::TerminalToolUi ui(stdout, stderr, answers);
    std::signal(SIGINT, on_tool_chat_signal);
    std::signal(SIGTERM, on_tool_chat_signal);
    gen.cancel = &g_tool_chat_interrupted;
    EngineCompletion completion(engine, gen, args.has("--verbose-prompt"));
    mcp::ToolLoop loop(host, completion, ui, loopOpt);
    std::cerr << "tools: " << loop.tools().size() << " from " << config.servers.size() << " MCP server(s), "
              << tool_call_format_name(loopOpt.format) << " calls"
              << (loopOpt.allowAll ? ", all allowed (--yes)" : answers ? "" : ", no terminal: calls are denied") << "\n";

    std::vector<ChatMessage> msgs;
    if (args.has("--system")) msgs.push_back({"system", args.get("--system")});
    msgs.push_back({"user", user});
    int rc = 0;
    try {
        const mcp::ToolLoopResult r = loop.run(std::move(msgs));
        std::fprintf(stderr, "tool rounds: %d%s\nprompt tokens: %d, generated tokens: %d\nstop: %s\n", r.toolRounds,
                     r.roundLimitReached ? " (limit reached)" : "", completion.promptTokens(), completion.genTokens(),
                     stop_reason_name(completion.last().stop));
    } catch (const Error& e) {
        std::cerr << "error: " << e.what() << "\n";
        rc = 1;
    }
    if (ownedTty) std::fclose(ownedTty);
    mcp::stopAllAndWait(host, 5000);
    return rc;
}

}  // namespace ld::cli
