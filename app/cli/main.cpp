// llamadesk-cli: the engine's command-line front end (and, with Qt, the app core's headless
// commands). Errors are one line on stderr and exit code 1.
#include <cstring>
#include <iostream>

#include "app/cli/args.h"
#include "app/cli/cli_hooks.h"
#include "app/cli/commands.h"
#include "inference/core/error.h"

namespace {

constexpr const char* kUsage = R"(usage: llamadesk-cli COMMAND [options]

commands:
  generate -m MODEL (-p PROMPT | --tokens ID,...) [-n N] [--temp T] [--top-k K] [--top-p P]
           [--min-p P] [--repeat-penalty R] [--seed S] [--backend cpu|vulkan|cuda|auto]
           [--device N|NAME] [--threads N] [--ctx N] [--chat] [--system TEXT] [--template NAME]
           [--stop TEXT]... [--dump-logits FILE] [--db PATH [--conversation ID]] [--gpu-layers N]
           [--draft MODEL | --lookup] [--draft-max K (8, 1..16)]   speculative decoding: a small
           model with the same vocabulary, or prompt lookup (n-grams of the text so far), drafts
           tokens that the model checks in one batch; same greedy output, same distribution
  generate --remote URL --remote-model NAME -p PROMPT [--chat [--system TEXT]] [-n N] [--temp T]
           [--top-p P] [--seed S] [--stop TEXT]... [--api-key K | --api-key-file F] [--ca-file F]
           [--timeout S (first byte, 120)] [--idle-timeout S (60)] [--connect-timeout S (10)]
           [--db PATH [--conversation ID]]
           An OpenAI-compatible server (vLLM, SGLang, llama-server, Ollama, serve) generates; URL
           as OpenAI clients take it (http://HOST:PORT/v1), NAME an id from its /v1/models. -p
           without --chat continues the raw text (/v1/completions); --chat uses /v1/chat/completions
  generate --chat --mcp-config FILE -m MODEL -p PROMPT [--yes] [--system TEXT] [-n N] [--temp T]
           [--seed S] [--tool-format json|pythonic] [--max-tool-rounds 5] [--tool-timeout S (60)]
           [--start-timeout S (30)] [--verbose-prompt]   a chat with the tools of the MCP servers
           in FILE (format as for mcp below); each call is shown and asked about on the terminal
           (allow once / always allow the tool / deny); --yes allows all; with no terminal, denied
  tokenize -m MODEL -t TEXT [--special]
  info     -m MODEL
  bench    (-m MODEL | --synthetic NAME) [-p 512] [-n 128] [-d DEPTH] [--backend B]
           [--threads N] [-b BATCH] [-r REPS] [--json] [--gpu-layers N]   (BATCH: CPU 256, GPU 512)
           [--verify K,...]   the cost of a speculative verification pass (K drafts + 1, all
           logits) against one decode step
           [--parallel N,...]   N sequences decoding together, one step of N tokens: aggregate
           and per-sequence tok/s (several counts alternate rep by rep)
           [--reopen N] (-m MODEL with a tokenizer; -n: reply length, 96)   time to first token
           when going back to an N-token chat: cached after another chat, evicted, cold
           --gpu-layers N (Vulkan): only N layers' weights in GPU memory, the rest in system
           memory (default: as many as fit; a model too big for the GPU loads that way)
  quantize IN.gguf OUT.gguf TYPE      (Q8_0, Q4_0, Q6_K, Q4_K_M, Q5_K_M, ...)
  synth    NAME OUT.gguf [--seed S] [--vocab-from MODEL.gguf]   (e.g. llama-3.2-1b:q4_0,
           llama-3.1-8b:q4_k_m; --vocab-from copies a real tokenizer of the same size)
  devices
  serve    -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key KEY | --api-key-file F]
           [--parallel N] [--queue 8] [--max-body-mb 4] [--cors-origin ORIGIN]... [--timeout 30]
           [--template NAME] [--backend B] [--ctx N] [--threads N] [--no-api-key-i-know] [--db PATH]
           [--draft MODEL | --lookup] [--draft-max K (8, 1..16)]
           OpenAI-compatible API: /v1/chat/completions, /v1/completions, /v1/models, /health.
           --db saves each chat in the history database, as the app's chats are.
           --parallel N: N requests decode together, one batch over a paged KV cache of N
           contexts (a backend without one runs them one at a time); up to --queue more wait
           (FIFO), beyond that 503 + Retry-After.
           --draft MODEL / --lookup: every request speculates as generate's do (same greedy text);
           usage.completion_tokens_details has accepted_prediction_tokens and
           rejected_prediction_tokens. With --parallel N a draft model gets a copy per request
           decoding at once; when fewer fit the memory, that many decode together.
           A --host other than loopback needs a key. --port 0 picks a free port.
  history  --db PATH list | show ID | search TEXT | export ID --format md|json | import FILE
  summarize -m MODEL FILE... [--ctx N] [--threads N] [-n MAX_TOKENS] [--max-size-mb 50]
           [--db PATH [--conversation ID]] [-q] [--parallel N]   (PDF, DOCX, ODT, HTML, Markdown, text, code)
           --parallel N: map steps N at a time, sequences of one batch (a backend with a paged KV cache)
  summarize --remote URL --remote-model NAME FILE... [--concurrency 4] [remote options as generate]
           map steps go to the server --concurrency at a time; chunks by its /tokenize if it has one
  models   list [--dir D] | download URL [--sha256 HEX] [--dir D] [--token T]
  mcp      --config FILE [--timeout 60] [--start-timeout 30] list [SERVER] | call SERVER TOOL [JSON-ARGS]
           MCP servers in the {"mcpServers": {NAME: {"command", "args", "env"} | {"url"}}} format
           other hosts use (stdio or Streamable HTTP): list prints every tool as JSON, call prints
           the tools/call result (exit 2 when it has isError: true)
  --version, --help
)";

}  // namespace

namespace ld::cli {
int run_summarize_command(const ArgList& args);  // qt_summarize.cpp / noqt_summarize.cpp
}

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
        !std::strcmp(argv[1], "help")) {
        (argc < 2 ? std::cerr : std::cout) << kUsage;
        return argc < 2 ? 1 : 0;
    }
    const std::string cmd = argv[1];
    if (cmd == "--version") {
        std::cout << "llamadesk-cli " << LLAMADESK_VERSION << "\n";
        return 0;
    }
    const ld::cli::ArgList args(argv + 2, argv + argc);
    try {
        using namespace ld::cli;
        if (cmd == "generate") return cmd_generate(args);
        if (cmd == "tokenize") return cmd_tokenize(args);
        if (cmd == "info") return cmd_info(args);
        if (cmd == "bench") return cmd_bench(args);
        if (cmd == "quantize") return cmd_quantize(args);
        if (cmd == "synth") return cmd_synth(args);
        if (cmd == "devices") return cmd_devices(args);
        if (cmd == "serve") return cmd_serve(args);
        if (cmd == "history") return run_history_command(args);
        if (cmd == "summarize") return run_summarize_command(args);
        if (cmd == "models") return run_models_command(args);
        if (cmd == "mcp") return run_mcp_command(args);
        std::cerr << "error: unknown command '" << cmd << "' (see llamadesk-cli --help)\n";
        return 1;
    } catch (const ld::cli::UsageError& e) {
        std::cerr << "error: " << cmd << ": " << e.what() << " (see llamadesk-cli --help)\n";
    } catch (const ld::Error& e) {
        std::cerr << "error: " << e.what() << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << "error: out of memory\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}
