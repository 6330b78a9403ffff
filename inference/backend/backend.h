#pragma once
// A backend runs the whole forward pass of a model (it uploads or maps the weights, owns its KV
// cache and may fuse ops freely). Sessions talk to backends only through this interface.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "inference/backend/tuning.h"
#include "inference/quant/types.h"

namespace ld {

struct Model;

// progress(fraction in [0,1]) while weights are uploaded; return false to cancel the load.
using LoadProgress = std::function<bool(float)>;

struct BackendOptions {
    std::string kind = "cpu";      // "cpu" | "vulkan" | "cuda" | "auto"
    std::string device;            // index or name substring; empty = best
    int n_ctx = 8192;              // KV cache positions (clamped to the model's trained context)
    int n_threads = 0;             // CPU threads; 0 = one per core
    // Prompt tokens per forward pass; 0 = the backend's choice (CPU 256; Vulkan and CUDA 512: the
    // CUDA prompt measured 11,297 vs 9,060 tok/s on an H200 against 256, since GPUs dequantize
    // weights per batch). Capped at 512.
    int n_batch = 0;
    GgmlType kv_type = GgmlType::F16;  // F16 or F32
    // Vulkan: layers whose weights stay in GPU memory; the rest (and an untied token embedding)
    // live in system memory, read by the GPU over the bus. < 0: as many as fit (all, when the
    // model fits). The CPU and CUDA backends ignore it.
    int gpu_layers = -1;
    // Kernel variants, launch shapes and debug switches (tuning.h); the defaults are the measured
    // best. Callers that honour the LLAMADESK_* variables fill it with Tuning::from_env().
    Tuning tuning;
    LoadProgress progress;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;     // e.g. "cpu (AVX-512, 2 threads)"
    virtual int context_size() const = 0;     // KV cache positions
    virtual int vocab_size() const = 0;
    virtual int batch_size() const = 0;       // tokens one pass takes at most (BackendOptions::n_batch)
    // Runs n tokens at positions [pos, pos + n) (writing their keys and values to the cache;
    // positions at or after pos are overwritten, so rewinding is calling with a smaller pos).
    // logits receives vocab_size() floats for the last token, or n * vocab_size() with
    // all_logits; null: none (the cache is filled, no output matrix runs). Throws ld::Error when
    // pos + n exceeds the context. n may exceed n_batch; the backend splits it.
    virtual void forward(const int32_t* tokens, int n, int pos, float* logits, bool all_logits) = 0;
};

// Creates the backend options.kind names ("auto" = best available GPU, else CPU). Throws
// ld::Error explaining why a requested backend is unavailable.
std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options);
std::unique_ptr<Backend> create_cpu_backend(const Model& model, const BackendOptions& options);

}  // namespace ld
