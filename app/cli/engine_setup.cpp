#include "app/cli/engine_setup.h"

#include <ctime>
#include <iostream>
#include <random>

#include "app/cli/server/draft_pool.h"
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
    if (o.kind == "cpu") {
        // GPU backends check their own memory when they allocate; the CPU's would only meet the
        // OOM killer later. Each copy counts its weights: the CPU backend repacks matrices into
        // memory of its own (an upper bound: the mapped file's pages are shared).
        const uint64_t one = uint64_t(s.draft_model->weight_bytes()) +
                             kv_cache_bytes(s.draft_model->params, o.n_ctx, o.kv_type == GgmlType::F32 ? 4 : 2);
        const uint64_t need = one * uint64_t(caches), avail = system_memory_available();
        if (avail > 0 && need > avail)
            fail("the draft model ", path, " needs ", format_bytes(need), " (weights and a KV cache of ", o.n_ctx,
                 " positions", caches > 1 ? ", " + std::to_string(caches) + " copies" : std::string(), "), more than the ",
                 format_bytes(avail), " of memory available");
    }
    std::vector<std::unique_ptr<Drafter>> copies;
    for (int i = 0; i < caches; ++i) {
        s.draft_backends.push_back(create_backend(*s.draft_model, o));
        copies.push_back(std::make_unique<DraftModel>(*engine.model, *s.draft_model, *s.draft_backends.back()));
    }
    if (caches == 1) s.drafter = std::move(copies.front());
    else s.drafter = std::make_unique<server::DraftPool>(std::move(copies));
    return s;
}

}  // namespace ld::cli
