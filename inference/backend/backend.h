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

// One step of Backend::forward(), already checked: n tokens of one sequence at positions
// [pos, pos + n), n in [1, max_step(all_logits)], every id in [0, vocab_size()). (Issue 17 grows it
// into a batch of several sequences.)
struct BatchView {
    const int32_t* tokens = nullptr;
    int n = 0;
    int pos = 0;
    // Where this step's logits go, vocab_size() floats a row: n rows with all_logits, else the
    // last token's row only; null: none (the output matrix does not run).
    float* logits = nullptr;
    bool all_logits = false;
    int logit_rows() const { return !logits ? 0 : (all_logits ? n : 1); }
    int first_logit_row() const { return n - logit_rows(); }  // batch row of logits' first row
};

// Every virtual here is defined in this header (or pure): the CUDA plugin links none of the
// engine's sources, so Backend's vtable must be emitted wherever a subclass is compiled. Changing
// the virtuals or BatchView changes the plugin ABI: bump cuda::abi_tag() (cuda/cuda_api.h).
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
    // all_logits; null: none (the cache is filled, no output matrix runs). n == 0 does nothing.
    // Throws ld::Error, before running anything, when n or pos is negative, pos + n exceeds the
    // context or a token id is outside the vocabulary. n may exceed batch_size(): it runs in
    // steps of max_step() tokens. The one entry of every backend (backend.cpp): the checks and
    // the splitting are here, the backends implement forward_batch().
    void forward(const int32_t* tokens, int n, int pos, float* logits, bool all_logits);

protected:
    // Most tokens one forward_batch() takes (Vulkan binds an all_logits step's logits at once, so
    // it may take fewer then).
    virtual int max_step(bool all_logits) const {
        (void)all_logits;
        return batch_size();
    }
    // Runs one checked step (BatchView). May throw ld::Error (device failures, out of memory).
    virtual void forward_batch(const BatchView& batch) = 0;
    // For a backend that wraps another (the CUDA plugin's, tests'): the inner one's step, which
    // the outer forward() has already checked against the same sizes.
    static int max_step_of(const Backend& inner, bool all_logits) { return inner.max_step(all_logits); }
    static void forward_batch_of(Backend& inner, const BatchView& batch) { inner.forward_batch(batch); }
};

// Creates the backend options.kind names ("auto" = best available GPU, else CPU). Throws
// ld::Error explaining why a requested backend is unavailable.
std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options);
std::unique_ptr<Backend> create_cpu_backend(const Model& model, const BackendOptions& options);

}  // namespace ld
