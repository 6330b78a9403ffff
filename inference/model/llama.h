#pragma once
// The Llama architecture (llama.* GGUF keys): hyperparameters and weight views. Weights point
// into the memory-mapped GGUF (or into buffers owned by the model for synthetic models); a
// backend uploads or uses them in place.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inference/gguf/gguf.h"
#include "inference/quant/types.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {

struct LlamaParams {
    int n_vocab = 0;
    int dim = 0;             // embedding width
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int ffn_dim = 0;
    int ctx_train = 0;       // llama.context_length
    int rope_dim = 0;        // rotated dims per head (== head_dim for Llama)
    float rope_theta = 10000.0f;
    float rope_freq_scale = 1.0f;  // linear scaling: 1 / llama.rope.scaling.factor
    float norm_eps = 1e-5f;
    // Per-frequency divisors (rope_dim / 2): Llama 3.1 scaling, from rope_freqs.weight or
    // computed from llama.rope.scaling.* (type "llama3"); empty = none.
    std::vector<float> rope_freq_factors;

    int kv_dim() const { return n_kv_heads * head_dim; }
    int q_dim() const { return n_heads * head_dim; }
};

// A 1-D or 2-D weight in ggml order: ne0 = input width (contiguous), ne1 = rows.
struct Weight {
    GgmlType type = GgmlType::F32;
    int64_t ne0 = 0, ne1 = 1;
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
    size_t row_bytes() const { return row_size(type, ne0); }
    const uint8_t* row(int64_t r) const { return data + size_t(r) * row_bytes(); }
};

struct LayerWeights {
    Weight attn_norm;  // (dim)
    Weight wq;         // (n_heads * head_dim, dim)
    Weight wk;         // (n_kv_heads * head_dim, dim)
    Weight wv;         // (n_kv_heads * head_dim, dim)
    Weight wo;         // (dim, n_heads * head_dim)
    Weight ffn_norm;   // (dim)
    Weight w_gate;     // (ffn_dim, dim)
    Weight w_up;       // (ffn_dim, dim)
    Weight w_down;     // (dim, ffn_dim)
    // Every weight of the layer, norms included, in file order.
    std::array<const Weight*, 9> all() const {
        return {&attn_norm, &wq, &wk, &wv, &wo, &ffn_norm, &w_gate, &w_up, &w_down};
    }
};

struct Model {
    std::string name;
    std::string path;                  // empty for synthetic models
    LlamaParams params;
    Weight tok_embd;                   // (n_vocab, dim)
    Weight output_norm;                // (dim)
    Weight output;                     // (n_vocab, dim); == tok_embd when tied
    bool tied_output = false;
    std::vector<LayerWeights> layers;
    Vocab vocab;                       // empty tokens for synthetic models
    std::unique_ptr<gguf::File> file;  // keeps the mapping alive
    std::vector<std::vector<uint8_t>> owned;  // synthetic weights

    // Bytes of all weights a decode step reads (every matrix once, plus one embedding row).
    size_t weight_bytes() const;
    // Most common matrix type, e.g. "Q4_K" (for display).
    std::string dominant_type() const;
    int64_t parameter_count() const;
};

// Loads a llama-architecture GGUF: validates every tensor's presence, type and shape against
// the hyperparameters. Throws ld::Error naming the problem.
std::unique_ptr<Model> load_model(const std::string& path);
// Same, from an already opened file (takes ownership). A header-only file
// (gguf::File::open_header) gives a model with the same checks and description but no weight
// data: for listing and describing a file, never for running it.
std::unique_ptr<Model> load_model(std::unique_ptr<gguf::File> file);

// Llama 3 rope frequency factors from the HF "llama3" rope_scaling parameters.
std::vector<float> llama3_rope_factors(int rope_dim, float theta, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_context);

}  // namespace ld
