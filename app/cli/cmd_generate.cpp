// `generate`: streams generated text to stdout, statistics to stderr; optionally records the
// exchange in the history database (--db).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli/args.h"
#include "app/cli/cli_hooks.h"
#include "app/cli/commands.h"
#include "app/cli/engine_setup.h"
#include "app/cli/history_recording.h"
#include "inference/chat/chat_format.h"
#include "inference/core/error.h"
#include "inference/session/session.h"
#include "inference/session/speculative.h"

namespace ld::cli {

namespace {

std::atomic<bool> g_interrupted{false};  // set by SIGINT/SIGTERM: stop generating, keep the text
extern "C" void on_signal(int) { g_interrupted.store(true); }

std::vector<int32_t> parse_token_list(const std::string& s) {
    std::vector<int32_t> ids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v < 0 || v > INT32_MAX)
            throw UsageError("--tokens expects comma-separated token ids, got '" + item + "'");
        ids.push_back(int32_t(v));
    }
    if (ids.empty()) throw UsageError("--tokens is empty");
    return ids;
}

}  // namespace

int run_remote_generate(const ArgList& args);  // qt_remote.cpp, or noqt_remote.cpp without Qt
int run_tool_chat(const ArgList& args);        // qt_tool_chat.cpp, or noqt_tool_chat.cpp without Qt

int cmd_generate(const ArgList& argv) {
    // --remote URL: an OpenAI-compatible server generates, through the app core (Qt).
    for (const std::string& a : argv)
        if (a == "--remote" || a.rfind("--remote=", 0) == 0) return run_remote_generate(argv);
    // --mcp-config FILE: a chat with MCP tools, through the app core (Qt).
    for (const std::string& a : argv)
        if (a == "--mcp-config" || a.rfind("--mcp-config=", 0) == 0) return run_tool_chat(argv);
    std::vector<OptionSpec> specs = engine_option_specs();
    specs.insert(specs.end(), {
        {"-p|--prompt", true}, {"--tokens", true}, {"-n|--n-predict", true}, {"--temp", true},
        {"--top-k", true}, {"--top-p", true}, {"--min-p", true}, {"--repeat-penalty", true},
        {"--repeat-last-n", true}, {"--frequency-penalty", true}, {"--presence-penalty", true},
        {"--seed", true}, {"--chat", false}, {"--system", true}, {"--template", true},
        {"--stop", true}, {"--dump-logits", true}, {"--db", true}, {"--conversation", true},
    });
    for (const OptionSpec& o : speculation_option_specs()) specs.push_back(o);
    const Args args(argv, specs);
    if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    if (args.has("--prompt") == args.has("--tokens")) throw UsageError("give exactly one of -p PROMPT or --tokens IDS");
    if (args.has("--tokens") && args.has("--chat")) throw UsageError("--tokens and --chat do not combine");

    GenerateOptions opt;
    opt.max_tokens = int(args.get_int("--n-predict", 256, 0, 1 << 24));
    opt.sampling = sampler_params(args);
    opt.stop_strings = args.get_all("--stop");
    // Raw text is printed exactly: "The cat" continues with " and", and prompt + output is the
    // whole text. A chat reply is shown without its leading whitespace, as the app shows it (a
    // SentencePiece model starts the reply with the space that follows "[/INST]").
    opt.trim_leading_space = args.has("--chat");
    if (args.has("--conversation") && !args.has("--db")) throw UsageError("--conversation needs --db");
    check_speculation_options(args);

    Engine engine = open_engine(args);
    const Tokenizer& tok = *engine.tokenizer;

    std::vector<int32_t> prompt;
    std::string user_text = args.get("--prompt");
    const std::string system = args.get("--system");
    if (args.has("--tokens")) {
        prompt = parse_token_list(args.get("--tokens"));
    } else if (args.has("--chat")) {
        ChatTemplate tmpl = detect_chat_template(tok.vocab(), "llama");
        if (args.has("--template") && !parse_chat_template_name(args.get("--template"), &tmpl))
            throw UsageError("unknown chat template '" + args.get("--template") + "' (llama3, llama2, chatml)");
        std::vector<ChatMessage> msgs;
        if (!system.empty()) msgs.push_back({"system", system});
        msgs.push_back({"user", user_text});
        prompt = apply_chat_template(tmpl, tok, msgs, true);
        for (const std::string& s : chat_stop_strings(tmpl)) opt.stop_strings.push_back(s);
    } else {
        if (!system.empty()) throw UsageError("--system needs --chat");
        prompt = tokenize_prompt(tok, user_text);
    }

    // Speculative decoding: a draft model on the same kind of backend (its own KV cache), or
    // prompt lookup.
    const Speculation speculation = open_speculation(args, engine);
    const Drafter* drafter = speculation.drafter.get();
    opt.drafter = speculation.drafter.get();
    opt.draft_max = speculation.draft_max;

    Session session(*engine.model, *engine.backend, tok);
    if (args.has("--dump-logits")) {
        const std::vector<float>& logits = session.evaluate(prompt);
        const std::string path = args.get("--dump-logits");
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(logits.data()), std::streamsize(logits.size() * sizeof(float)));
        out.close();
        if (!out) fail("cannot write ", path);
        std::cerr << "wrote " << logits.size() << " logits of position " << prompt.size() - 1 << " to " << path << "\n";
        return 0;
    }

    std::unique_ptr<GenerationRecorder> recorder = start_history_recording(args, engine.model_label, system, user_text);

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    opt.cancel = &g_interrupted;
    GenerateResult res;
    try {
        res = session.generate(prompt, opt, [&](std::string_view text) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
            if (recorder) recorder->append(std::string(text));
            return true;
        });
    } catch (const Error& e) {
        if (recorder) recorder->finish({}, ReplyEnd::Error, e.what());
        throw;
    }
    std::printf("\n");
    std::fflush(stdout);
    GenerationStats st;
    st.prompt_tokens = res.prompt_tokens;
    st.gen_tokens = int(res.tokens.size());
    st.prompt_tps = res.prompt_tps();
    st.gen_tps = res.gen_tps();
    st.ttft_ms = res.ttft_ms;
    st.drafted = res.drafted;
    st.accepted = res.accepted;
    if (recorder)
        recorder->finish(st, res.stop == StopReason::Cancelled ? ReplyEnd::Interrupted : ReplyEnd::Complete, "");
    std::fprintf(stderr,
                 "prompt: %d tokens (%d evaluated) in %.1f ms, %.1f tok/s\n"
                 "generation: %d tokens, %.1f tok/s\ntime to first token: %.1f ms\nstop: %s\n",
                 res.prompt_tokens, res.evaluated_tokens, res.prompt_ms, res.prompt_tps(),
                 int(res.tokens.size()), res.gen_tps(), res.ttft_ms, stop_reason_name(res.stop));
    if (drafter)
        std::fprintf(stderr, "speculative: %s, %d drafted, %d accepted (%.1f%%), %d verification passes\n",
                     drafter->name().c_str(), res.drafted, res.accepted, 100.0 * res.acceptance_rate(),
                     res.verify_passes);
    return 0;
}

}  // namespace ld::cli
