// `serve`: an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/models,
// /health) on one model; with --db, chats are saved in the history database. The pieces live in app/cli/server/; this file reads the options, opens
// the engine and runs the server until SIGINT/SIGTERM.
#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <pthread.h>
#include <thread>

#include "app/cli/args.h"
#include "app/cli/cli_hooks.h"
#include "app/cli/commands.h"
#include "app/cli/engine_setup.h"
#include "app/cli/server/batch_service.h"
#include "app/cli/server/chat_log.h"
#include "app/cli/server/gen_queue.h"
#include "app/cli/server/http_server.h"
#include "inference/backend/memory_plan.h"
#include "inference/chat/chat_format.h"
#include "inference/chat/tool_format.h"
#include "inference/gguf/gguf.h"
#include "inference/core/error.h"
#include "inference/session/session.h"

namespace ld::cli {

namespace {

std::string read_key_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail("cannot read the API key file ", path);
    std::string key;
    std::getline(in, key);
    while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key.empty()) fail("the API key file ", path, " is empty");
    return key;
}

std::string model_id_of(const std::string& label) {
    const std::string ext = ".gguf";
    if (label.size() > ext.size() && label.compare(label.size() - ext.size(), ext.size(), ext) == 0)
        return label.substr(0, label.size() - ext.size());
    return label;
}

// --parallel N: the paged KV cache holds N whole contexts (each rounded up to whole blocks of
// any backend's size, plus one block for a copy on write), so N requests of the full --ctx run
// side by side and none is preempted for want of blocks. The CPU backend's cache is plain memory
// that fills as sequences grow: refuse here, in words, what would otherwise end in the OOM killer
// hours later. GPU backends check their own memory when they allocate.
void size_kv_cache(const Model& model, BackendOptions& o, size_t parallel) {
    constexpr int64_t kBlock = 256;
    const int64_t per_seq = (int64_t(o.n_ctx) + kBlock - 1) / kBlock * kBlock + kBlock;
    const int64_t positions = int64_t(parallel) * per_seq;
    if (positions > (int64_t(1) << 30))
        fail("--parallel ", parallel, " with --ctx ", o.n_ctx, " needs a KV cache of ", positions, " positions: lower --parallel or --ctx");
    o.kv_positions = int(positions);
    if (o.kind != "cpu") return;
    const uint64_t bytes = 2 * uint64_t(model.params.n_layers) * uint64_t(positions) * uint64_t(model.params.kv_dim()) *
                           (o.kv_type == GgmlType::F32 ? 4 : 2);
    const uint64_t avail = system_memory_available();
    if (avail > 0 && bytes > avail)
        fail("--parallel ", parallel, " with --ctx ", o.n_ctx, " needs a KV cache of ", positions, " positions (",
             bytes >> 20, " MiB of ", type_name(o.kv_type), " keys and values), more than the ", avail >> 20,
             " MiB of memory available: lower --parallel or --ctx");
}

}  // namespace

int cmd_serve(const ArgList& argv) {
    std::vector<OptionSpec> specs = engine_option_specs();
    specs.insert(specs.end(), {
        {"--host", true}, {"--port", true}, {"--api-key", true}, {"--api-key-file", true},
        {"--no-api-key-i-know", false}, {"--parallel", true}, {"--queue", true}, {"--max-body-mb", true},
        {"--cors-origin", true}, {"--template", true}, {"--timeout", true}, {"--db", true},
    });
    for (const OptionSpec& o : speculation_option_specs()) specs.push_back(o);
    const Args args(argv, specs);
    if (!args.positional().empty()) throw UsageError("unexpected argument '" + args.positional()[0] + "'");
    check_speculation_options(args);

    server::ServerConfig cfg;
    cfg.host = args.get("--host", "127.0.0.1");
    cfg.port = int(args.get_int("--port", 8080, 0, 65535));
    if (args.has("--api-key") && args.has("--api-key-file")) throw UsageError("give --api-key or --api-key-file, not both");
    cfg.api_key = args.has("--api-key-file") ? read_key_file(args.get("--api-key-file")) : args.get("--api-key");
    if (args.has("--api-key") && cfg.api_key.empty()) throw UsageError("--api-key is empty");
    if (!server::is_loopback_host(cfg.host) && cfg.api_key.empty() && !args.has("--no-api-key-i-know"))
        throw UsageError("--host " + cfg.host + " is reachable from other machines: give --api-key KEY or --api-key-file FILE "
                         "(or --no-api-key-i-know to serve without a key)");
    if (!server::is_loopback_host(cfg.host) && cfg.api_key.empty())
        std::cerr << "warning: serving on " << cfg.host << " without an API key: anyone who can reach this port can use the model\n";
    cfg.parallel = size_t(args.get_int("--parallel", 1, 1, 256));
    cfg.queue = size_t(args.get_int("--queue", 8, 0, 1024));
    cfg.max_body_bytes = size_t(args.get_int("--max-body-mb", 4, 1, 1024)) << 20;
    cfg.io_timeout_s = int(args.get_int("--timeout", 30, 1, 3600));
    cfg.cors_origins = args.get_all("--cors-origin");

    // SIGINT/SIGTERM go to one thread that stops the server; block them before any thread starts
    // (the backend's pool included) so that none of those threads takes them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a client that hung up is a failed write, not the end of the server

    // --db: each chat saved in the history database like a chat of the app (Qt builds only). Its
    // thread starts after the mask above: a SIGTERM it took would end the process mid-write.
    std::unique_ptr<server::ChatLog> chat_log;
    if (args.has("--db")) {
        std::string error;
        chat_log = make_api_chat_log(args.get("--db"), &error);
        if (!chat_log) fail(error);
    }

    // --parallel N > 1 on a backend with SeqBatch steps: one BatchScheduler runs N requests at
    // once over a paged KV cache sized for N contexts. Others run one request at a time (Session)
    // on the same backend, built once: kv_positions sizes only a paged cache, so a backend
    // without one (supports_sequences() false) holds one context whatever it says.
    BackendOptions opened;
    bool creating_backend = false;
    auto adjust = [&](const Model& model, BackendOptions& o) {
        if (cfg.parallel > 1) size_kv_cache(model, o, cfg.parallel);
        opened = o;
        creating_backend = true;
    };
    Engine engine;
    try {
        engine = open_engine(args, true, adjust);
    } catch (const Error& e) {
        if (!creating_backend || cfg.parallel == 1) throw;
        fail("the backend cannot hold the KV cache of --parallel ", cfg.parallel, " sequences of --ctx ", opened.n_ctx, " (",
             opened.kv_positions, " positions): ", e.what(), "; lower --parallel or --ctx");
    }
    // --draft MODEL / --lookup: one drafter for every request, called from the one thread that
    // generates (the queue's worker, or the scheduler's). Prompt lookup keeps no state between
    // calls (no attached documents here), so sharing it costs nothing. A draft model has one KV
    // cache, which it rewinds to the longest prefix it shares with the history it is given: one
    // request at a time, that is the previous step's cache. Requests decoding together
    // (--parallel N) would make it re-read each one's whole history every step, so they get a
    // copy each (DraftPool), at N times the draft's memory (server/draft_copies.h). When fewer
    // fit, only that many decode together, each on its own copy, and the others wait: requests
    // sharing a copy would make it re-read their histories every step again.
    const bool batched = cfg.parallel > 1 && engine.backend->supports_sequences();
    // Every running sequence's token must fit one forward step (BatchScheduler).
    size_t running = batched ? std::min(cfg.parallel, size_t(std::max(1, engine.backend->batch_size()))) : 1;
    const Speculation speculation = open_speculation(args, engine, int(running));
    size_t decoding = cfg.parallel;  // the scheduler's limit of sequences at once
    if (!speculation.draft_backends.empty() && speculation.draft_backends.size() < running) {
        running = decoding = speculation.draft_backends.size();
        std::cerr << "note: " << speculation.note << ": " << running
                  << (running == 1 ? " request decodes" : " requests decode")
                  << " at a time, each drafting on its own copy, and the others wait (a shorter --ctx or a smaller draft "
                     "model makes room for more)\n";
    }
    server::DraftConfig draft{speculation.drafter.get(), speculation.draft_max};
    if (cfg.parallel > 1 && !batched)
        std::cerr << "note: the " << engine.backend->name() << " backend runs one sequence at a time: --parallel "
                  << cfg.parallel << " admits that many requests, but they run one at a time\n";
    const Tokenizer& tok = *engine.tokenizer;
    ChatTemplate tmpl = detect_chat_template(tok.vocab(), "llama");
    if (args.has("--template") && !parse_chat_template_name(args.get("--template"), &tmpl))
        throw UsageError("unknown chat template '" + args.get("--template") + "' (llama3, llama2, chatml)");
    server::ServedModel served;
    served.id = model_id_of(engine.model_label);
    served.n_ctx = engine.backend->context_size();
    served.tokenizer = std::shared_ptr<const Tokenizer>(std::shared_ptr<void>(), &tok);  // not owned: lives in `engine`
    served.chat_template = tmpl;
    // How the model writes tool calls (requests with tools): from its metadata, as the app decides.
    if (engine.model->file) served.tool_format = detect_tool_call_format(tool_format_hints(*engine.model->file));

    std::unique_ptr<Session> session;
    std::unique_ptr<server::GenerationQueue> queue;
    std::unique_ptr<server::BatchedGeneration> scheduler;
    server::GenerationService* service = nullptr;
    std::function<void()> shutdown;
    if (batched) {
        scheduler = std::make_unique<server::BatchedGeneration>(*engine.backend, served, decoding, cfg.parallel + cfg.queue, draft);
        service = scheduler.get();
        shutdown = [s = scheduler.get()] { s->shutdown(); };
    } else {
        session = std::make_unique<Session>(*engine.model, *engine.backend, tok);
        queue = std::make_unique<server::GenerationQueue>(*session, served, cfg.parallel + cfg.queue, draft);
        service = queue.get();
        shutdown = [q = queue.get()] { q->shutdown(); };
    }
    server::ApiServer api(cfg, *service, chat_log.get());
    const int port = api.bind();
    std::thread([&api, shutdown, signals] {
        int sig = 0;
        sigwait(&signals, &sig);
        std::cerr << "stopping\n";
        shutdown();
        api.stop();
    }).detach();  // lives until exit: the process ends with listen() below
    const std::string shown = cfg.host.find(':') != std::string::npos && cfg.host.front() != '[' ? "[" + cfg.host + "]" : cfg.host;
    std::cerr << "model " << served.id << " (" << engine.backend->name() << ", context " << served.n_ctx << ", chat format "
              << chat_template_name(tmpl) << ", tool calls " << tool_call_format_name(served.tool_format) << ")\n";
    if (chat_log) std::cerr << "saving chats in " << args.get("--db") << "\n";
    if (draft.drafter)
        std::cerr << "speculative: " << draft.drafter->name()
                  << (speculation.draft_backends.empty() ? std::string() : " on " + speculation.draft_backends.front()->name())
                  << ", up to " << draft.draft_max << " drafted tokens a step\n";
    if (batched) {
        std::cerr << "parallel: up to " << running << " requests decode together (KV cache of " << opened.kv_positions
                  << " positions), " << cfg.parallel + cfg.queue - running << " more wait\n";
    }
    std::cerr << "listening on http://" << shown << ":" << port << std::endl;
    api.listen();
    shutdown();
    return 0;
}

}  // namespace ld::cli
