#include "app/cli/engine_setup.h"

#include <ctime>
#include <iostream>
#include <random>

#include "app/cli/server/draft_copies.h"
#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"
#include "inference/session/prompt_lookup.h"

namespace ld::cli {

std::vector<OptionSpec> engine_option_specs() {
    return {{"-m|--model", true},  {"--backend", true}, {"--device", true}, {"-t|--threads", true},
            {"-c|--ctx", true},    {"-b|--batch", true}, {"--kv-type", true}, {"--gpu-layers", true}};
}

BackendOptions backend_options(const Args& args) {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the LLAMADESK_* developer switches (man page, ENVIRONMENT)
    o.kind = args.get("--backend", "cpu");
    if (o.kind != "cpu" && o.kind != "vulkan" && o.kind != "cuda" && o.kind != "auto")
        throw UsageError("--backend must be cpu, vulkan, cuda or auto");
    o.device = args.get("--device");
    o.n_threads = int(args.get_int("--threads", 0, 0, 1024));
    o.n_ctx = int(args.get_int("--ctx", 8192, 1, 1 << 24));
    o.n_batch = int(args.get_int("--batch", 0, 0, 4096));  // 0: the backend's choice
    o.gpu_layers = int(args.get_int("--gpu-layers", -1, -1, 100000));  // -1: as many as fit
    const std::string kv = args.get("--kv-type", "f16");
    if (kv == "f16") o.kv_type = GgmlType::F16;
    else if (kv == "f32") o.kv_type = GgmlType::F32;
    else throw UsageError("--kv-type must be f16 or f32");
    return o;
}

Engine open_engine(const Args& args, bool need_tokenizer, const std::function<void(const Model&, BackendOptions&)>& adjust) {
    Engine e;
    const std::string path = args.require("--model");
    e.model = load_model(path);
    e.model_label = path.substr(path.find_last_of('/') + 1);
    if (!e.model->vocab.tokens.empty()) e.tokenizer = Tokenizer::create(e.model->vocab);
    else if (need_tokenizer) fail(path, ": the model has no tokenizer (tokenizer.ggml.tokens)");
    BackendOptions o = backend_options(args);
    // The model's context can be smaller than the default: use what it has.
    if (!args.has("--ctx")) o.n_ctx = std::min(o.n_ctx, e.model->params.ctx_train);
    else if (o.n_ctx > e.model->params.ctx_train)
        fail("--ctx ", o.n_ctx, " exceeds the model's context length ", e.model->params.ctx_train);
    if (adjust) adjust(*e.model, o);
    e.backend = create_backend(*e.model, o);
    return e;
}

SamplerParams sampler_params(const Args& args) {
    SamplerParams sp;
    sp.temperature = float(args.get_double("--temp", 0.8));
    sp.top_k = int(args.get_int("--top-k", 40, 0, 1 << 24));
    sp.top_p = float(args.get_double("--top-p", 0.95));
    sp.min_p = float(args.get_double("--min-p", 0.05));
    sp.repeat_penalty = float(args.get_double("--repeat-penalty", 1.0));
    sp.penalty_last_n = int(args.get_int("--repeat-last-n", 64, -1, 1 << 24));
    sp.frequency_penalty = float(args.get_double("--frequency-penalty", 0.0));
    sp.presence_penalty = float(args.get_double("--presence-penalty", 0.0));
    sp.seed = args.has("--seed") ? uint64_t(args.get_int("--seed", 0, INT64_MIN, INT64_MAX))
                                 : uint64_t(std::random_device{}()) ^ uint64_t(std::time(nullptr));
    if (sp.temperature < 0) throw UsageError("--temp must be >= 0");
    if (sp.top_p <= 0 || sp.top_p > 1) throw UsageError("--top-p must be in (0, 1]");
    if (sp.min_p < 0 || sp.min_p >= 1) throw UsageError("--min-p must be in [0, 1)");
    if (sp.repeat_penalty <= 0) throw UsageError("--repeat-penalty must be > 0");
    return sp;
}

std::vector<OptionSpec> speculation_option_specs() { return {{"--draft", true}, {"--draft-max", true}, {"--lookup", false}}; }

void check_speculation_options(const Args& args) {
    if (args.has("--draft") && args.has("--lookup")) throw UsageError("give one of --draft MODEL and --lookup");
    if (args.has("--draft-max") && !args.has("--draft") && !args.has("--lookup"))
        throw UsageError("--draft-max needs --draft MODEL or --lookup");
    (void)args.get_int("--draft-max", 8, 1, 16);
}

Speculation open_speculation(const Args& args, const Engine& engine, int caches) {
    check_speculation_options(args);
    Speculation s;
    s.draft_max = int(args.get_int("--draft-max", 8, 1, 16));
    if (args.has("--lookup")) {
        s.drafter = std::make_unique<PromptLookup>();  // no state between calls: one serves all
        return s;
    }
    if (!args.has("--draft")) return s;
    caches = std::max(1, caches);
    const std::string path = args.get("--draft");
    s.draft_model = load_model(path);  // mapped: the tensors are read by the backends below
    check_draft_vocabulary(*engine.model, *s.draft_model);  // before loading its weights anywhere
    BackendOptions o = backend_options(args);
    o.n_ctx = std::min(engine.backend->context_size(), s.draft_model->params.ctx_train);
    o.kv_positions = 0;  // one sequence: a draft model rewinds to each history it is given
    // GPU backends check their own memory when they allocate; the CPU's copies are planned
    // against the memory the model's engine leaves: its KV cache, allocated but untouched, fills
    // as sequences grow (server/draft_copies.h).
    const bool on_cpu = o.kind == "cpu" || (o.kind == "auto" && engine.backend->name().rfind("cpu", 0) == 0);
    uint64_t available = 0;
    std::string beside;
    if (on_cpu) {
        const uint64_t engine_kv = kv_cache_bytes(engine.model->params,
                                                  engine.backend->kv_blocks() * engine.backend->kv_block_size(),
                                                  o.kv_type == GgmlType::F32 ? 4 : 2);
        const uint64_t free = system_memory_available();
        if (free > 0) {
            available = free > engine_kv ? free - engine_kv : 1;  // 1: known, and nothing left
            beside = " beside the model's KV cache (" + format_bytes(free) + " free, less its " + format_bytes(engine_kv) + ")";
        }
    }
    server::DraftCopies copies =
        server::make_draft_copies(*engine.model, *s.draft_model, path, o, caches, on_cpu, available, beside);
    s.draft_backends = std::move(copies.backends);
    s.drafter = std::move(copies.drafter);
    s.note = std::move(copies.note);
    return s;
}

}  // namespace ld::cli
