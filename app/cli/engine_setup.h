#pragma once
// Opening a model with the backend options the CLI's engine commands share.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "inference/backend/backend.h"
#include "inference/model/llama.h"
#include "inference/sampler/sampler.h"
#include "inference/session/speculative.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::cli {

struct Engine {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tokenizer;   // null for a model without a vocabulary
    std::unique_ptr<Backend> backend;
    std::string model_label;                // file name or synthetic name
};

// -m/--model, --backend, --device, --threads, --ctx, --batch, --kv-type, --gpu-layers
std::vector<OptionSpec> engine_option_specs();
BackendOptions backend_options(const Args& args);
// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --frequency-penalty,
// --presence-penalty and --seed (a random one when absent), checked. Throws UsageError.
SamplerParams sampler_params(const Args& args);
// Loads -m MODEL, its tokenizer and the backend. `adjust` (optional) sees the model and the options
// just before the backend is created (serve --parallel sizes the paged KV cache there). Throws
// ld::Error / UsageError.
Engine open_engine(const Args& args, bool need_tokenizer = true,
                   const std::function<void(const Model&, BackendOptions&)>& adjust = {});

// Speculative decoding as --draft MODEL / --lookup / --draft-max K ask (generate and serve).
struct Speculation {
    std::unique_ptr<Model> draft_model;                   // --draft: the draft's weights ...
    std::vector<std::unique_ptr<Backend>> draft_backends; // ... on backends of their own (one sequence each)
    std::unique_ptr<Drafter> drafter;                     // null: plain decoding
    int draft_max = 8;
    std::string note;  // fewer draft copies than asked for, and why (server/draft_copies.h)
};
// --draft MODEL, --draft-max K, --lookup
std::vector<OptionSpec> speculation_option_specs();
// Their combination: UsageError for --draft with --lookup, or --draft-max alone. Cheap: call it
// before loading the model.
void check_speculation_options(const Args& args);
// The drafter the options ask for, for `engine`'s model. A draft model is refused (ld::Error,
// before its weights are loaded anywhere) when its vocabulary differs, and on the CPU when its
// weights and KV cache exceed the memory the model's engine leaves; it runs on the same kind of
// backend as the model, with its own context of the model's length (or its own, if shorter).
// `caches` > 1 (serve --parallel): up to that many copies of the draft model, each with its own
// backend and KV cache, behind one drafter (server::DraftPool); as many as memory allows
// (draft_backends.size(), `note` says why fewer). Throws UsageError / ld::Error.
Speculation open_speculation(const Args& args, const Engine& engine, int caches = 1);

}  // namespace ld::cli
