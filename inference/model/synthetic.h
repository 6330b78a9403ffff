#pragma once
// Random-weight models with the exact shapes of real Llama releases, for measuring speed
// without downloading weights: "llama-3.1-70b:q4_k_m", "llama-3.1-8b:q4_k_m", "llama-3.2-1b:q4_0", ...
#include <cstdint>
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

// One weight tensor of a synthetic model, known from the spec alone (no bytes): what sizes and
// plans are computed from, and what fill_synthetic_tensor fills.
struct SyntheticTensor {
    std::string name;  // GGUF name, e.g. "blk.3.ffn_down.weight"
    std::string role;  // without "blk.N.", e.g. "ffn_down.weight"
    int layer = -1;    // -1: not a layer's
    GgmlType type = GgmlType::F32;
    int64_t ne0 = 0, ne1 = 1;
    size_t nbytes = 0;
};
// Every weight tensor in the order that fixes each one's random seed (its index): token_embd,
// output_norm, output (unless tied), then each layer's. Throws ld::Error for a width that is
// not a whole number of the mix's blocks.
std::vector<SyntheticTensor> synthetic_tensors(const SyntheticSpec& spec);
// Sum of their nbytes: the size of the file's tensor data (alignment padding aside) and of the
// in-memory model, e.g. 42.47 GB for llama-3.1-70b:q4_k_m.
uint64_t synthetic_weight_bytes(const SyntheticSpec& spec);
// Fills tensor `index` of synthetic_tensors(spec) with its deterministic random bytes
// (nbytes at dst), the same bytes make_synthetic_model puts there.
void fill_synthetic_tensor(const SyntheticTensor& t, size_t index, uint64_t seed, uint8_t* dst);

// The placeholder SentencePiece-style vocabulary of a synthetic model: unk, bos, eos, the 256
// byte tokens, fillers up to n_vocab.
Vocab placeholder_vocab(int n_vocab);

// Builds the model in memory (weights owned by the Model), with a placeholder SentencePiece
// vocabulary of the right size. Deterministic for a seed. Needs synthetic_weight_bytes(spec)
// of memory, once.
std::unique_ptr<Model> make_synthetic_model(const SyntheticSpec& spec, uint64_t seed = 1);

// Writes a model (synthetic or loaded) as a GGUF that other engines can load.
void write_model_gguf(const Model& model, const std::string& path);
// Writes the synthetic model straight to a GGUF, generating one tensor at a time while the file
// is written, so a 42 GB 70B file needs only its largest tensor in memory (under 1 GB). The same
// file as write_model_gguf(*make_synthetic_model(spec, seed)) with vocab (placeholder_vocab
// when null).
void write_synthetic_gguf(const SyntheticSpec& spec, uint64_t seed, const Vocab* vocab, const std::string& path);

}  // namespace ld
