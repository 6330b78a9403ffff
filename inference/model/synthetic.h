#pragma once
// Random-weight models with the exact shapes of real Llama releases, for measuring speed
// without downloading weights: "llama-3.1-8b:q4_k_m", "llama-3.2-1b:q4_0", ...
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inference/model/llama.h"

namespace ld {

// Matrix type of each tensor under a named mix ("q4_k_m", "q5_k_m", "q4_0", "q8_0", "q6_k",
// "f16"). role is the GGUF name without "blk.N." ("attn_v.weight", "output.weight", ...).
// tied: the model has no output.weight, so token_embd plays its part.
GgmlType mix_tensor_type(std::string_view mix, std::string_view role, int layer, int n_layers, bool tied);
// llama.cpp's use_more_bits(): the layers that get more precise attn_v / ffn_down in K mixes.
bool use_more_bits(int layer, int n_layers);

struct SyntheticSpec {
    std::string name;     // e.g. "llama-3.1-8b"
    std::string mix;      // e.g. "q4_k_m"
    LlamaParams params;
    bool tied = false;
};
// Parses "NAME:MIX" (MIX defaults to q4_k_m). Throws ld::Error listing the known names.
SyntheticSpec synthetic_spec(std::string_view name);

// Builds the model in memory (weights owned by the Model), with a placeholder SentencePiece
// vocabulary of the right size. Deterministic for a seed.
std::unique_ptr<Model> make_synthetic_model(const SyntheticSpec& spec, uint64_t seed = 1);

// Writes a model (synthetic or loaded) as a GGUF that other engines can load.
void write_model_gguf(const Model& model, const std::string& path);

}  // namespace ld
