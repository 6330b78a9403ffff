#pragma once
// A backend runs the whole forward pass of a model (it uploads or maps the weights, owns its KV
// cache and may fuse ops freely). Sessions talk to backends only through this interface.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "inference/backend/tuning.h"
#include "inference/core/error.h"
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
    // Paged KV cache positions shared by all sequences (SeqBatch); 0 = n_ctx. May exceed n_ctx,
    // which stays the most positions one sequence may use (8 sequences of 4k in one 32k cache).
    int kv_positions = 0;
    // Kernel variants, launch shapes and debug switches (tuning.h); the defaults are the measured
    // best. Callers that honour the LLAMADESK_* variables fill it with Tuning::from_env().
    Tuning tuning;
    LoadProgress progress;
};

// A sequence's share of the paged KV cache: the cache is kv_blocks() blocks of kv_block_size()
// positions; position p of the sequence lives in cache slot
//   blocks[p / kv_block_size()] * kv_block_size() + p % kv_block_size().
// Blocks are handed out by the caller (session/kv_pool.h); the backend only reads the table.
struct SeqView {
    const int32_t* blocks = nullptr;  // (n_blocks) physical block ids in [0, kv_blocks())
    int n_blocks = 0;
};

// Input of the many-sequence forward(): n tokens from n_seqs sequences in one pass (continuous
// batching mixes one decode token of some sequences with prompt chunks of others).
struct SeqBatch {
    int n = 0;
    const int32_t* tokens = nullptr;     // (n) token ids
    const int32_t* positions = nullptr;  // (n) each token's position in its own sequence
    const int32_t* seq = nullptr;        // (n) each token's sequence, an index into seqs
    const SeqView* seqs = nullptr;       // (n_seqs)
    int n_seqs = 0;
    // (n) 1 where a token's logits are wanted, or null for none. The wanted rows go to logits in
    // batch order, vocab_size() floats each.
    const uint8_t* want_logits = nullptr;
    float* logits = nullptr;
};

// One step of Backend::forward(), already checked (backend.cpp): every id is in the vocabulary,
// every position is below context_size() and inside its sequence's blocks, a sequence's positions
// rise in batch order, and no cache slot is written twice. n in [1, max_step(all_logits)].
// A token at position p of sequence s attends to positions [0, p] of s: the earlier ones are in
// the cache or earlier in this batch (keys and values are written before attention reads them).
struct BatchView {
    const int32_t* tokens = nullptr;  // (n)
    int n = 0;
    // The one-sequence call (forward(tokens, n, pos, ...)): positions are pos + i in an
    // identity-mapped cache (block b is physical block b). False: the per-token arrays below
    // are the only truth, and only a backend whose supports_sequences() is true gets such a step.
    bool contiguous = true;
    int pos = 0;                          // contiguous only: the first token's position
    // Always filled, also for the contiguous call (an identity table over the whole cache), so
    // a backend may have a single paged code path.
    const int32_t* positions = nullptr;   // (n)
    const int32_t* seq = nullptr;         // (n)
    const SeqView* seqs = nullptr;        // (n_seqs)
    int n_seqs = 0;
    int block = 0;                        // kv_block_size()
    // Where this step's logits go, vocab_size() floats a row, null: none (the output matrix does
    // not run). The rows are the batch rows listed in logit_row (ascending), n_logits of them.
    float* logits = nullptr;
    const int32_t* logit_row = nullptr;   // (n_logits) batch rows whose logits are written
    int n_logits = 0;
    // The contiguous call's shapes: every row (all_logits) or the last one.
    bool all_logits = false;
    int logit_rows() const { return !logits ? 0 : n_logits; }
    int first_logit_row() const { return n - logit_rows(); }  // contiguous only: logits' first batch row
    // Cache slot of batch row t (the paged address of its position).
    int64_t slot(int t) const {
        const int p = positions[t];
        return int64_t(seqs[seq[t]].blocks[p / block]) * block + p % block;
    }
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
    // Several sequences in one pass over the weights (SeqBatch). Checks everything first (ids,
    // positions against context_size() and each sequence's blocks, block ids against
    // kv_blocks(), positions rising per sequence, no cache slot written twice) and throws
    // ld::Error before running anything; splits into steps of max_step(false) tokens (a
    // sequence may be split across steps: its earlier tokens are then in the cache). Throws when
    // supports_sequences() is false. Don't mix with the one-sequence forward() on one backend:
    // that one treats the whole cache as one identity-mapped sequence.
    void forward(const SeqBatch& batch);

    // Paged KV cache. A backend that runs SeqBatch steps says so; the others still take the
    // one-sequence forward() (with the identity table).
    virtual bool supports_sequences() const { return false; }
    virtual int kv_block_size() const { return 64; }  // positions per block
    // Blocks in the cache: context_size() rounded up to whole blocks unless the backend was
    // built with more (BackendOptions::kv_positions).
    virtual int kv_blocks() const { return (context_size() + kv_block_size() - 1) / kv_block_size(); }
    // Copies block src's keys and values (all layers) to block dst: copy on write, when a
    // sequence forked from another appends into a block they share.
    virtual void copy_kv_block(int src, int dst) {
        (void)src;
        (void)dst;
        throw Error(name() + " runs one sequence at a time (no paged KV cache)");
    }

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

private:
    // Runs a checked batch in steps (both forward()s end here).
    void run_steps(const BatchView& all, bool all_logits);
    std::vector<int32_t> identity_;  // the one-sequence call's block table (0, 1, 2, ...)
};

// Creates the backend options.kind names ("auto" = best available GPU, else CPU). Throws
// ld::Error explaining why a requested backend is unavailable.
std::unique_ptr<Backend> create_backend(const Model& model, const BackendOptions& options);
std::unique_ptr<Backend> create_cpu_backend(const Model& model, const BackendOptions& options);

}  // namespace ld
