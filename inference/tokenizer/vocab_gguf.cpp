// Vocabulary from the tokenizer.* keys of a GGUF file.
#include "inference/core/error.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {

Vocab load_vocab(const gguf::File& file) {
    Vocab v;
    const auto model = file.get_string("tokenizer.ggml.model");
    if (!model) fail("GGUF has no tokenizer.ggml.model: no vocabulary to tokenize with");
    v.model = std::string(*model);
    if (v.model != "gpt2" && v.model != "llama")
        fail("unsupported tokenizer.ggml.model \"", v.model, "\" (supported: gpt2, llama)");
    if (auto pre = file.get_string("tokenizer.ggml.pre")) v.pre = std::string(*pre);

    const auto* tokens = file.get_string_array("tokenizer.ggml.tokens");
    if (!tokens || tokens->empty()) fail("GGUF has no tokenizer.ggml.tokens");
    const size_t n = tokens->size();
    if (n > size_t(INT32_MAX)) fail("tokenizer.ggml.tokens has too many entries (", n, ")");
    v.tokens.assign(tokens->begin(), tokens->end());

    v.scores = file.get_f32_array("tokenizer.ggml.scores");
    if (!v.scores.empty() && v.scores.size() != n)
        fail("tokenizer.ggml.scores has ", v.scores.size(), " entries for ", n, " tokens");
    v.types = file.get_i32_array("tokenizer.ggml.token_type");
    if (!v.types.empty() && v.types.size() != n)
        fail("tokenizer.ggml.token_type has ", v.types.size(), " entries for ", n, " tokens");

    if (const auto* merges = file.get_string_array("tokenizer.ggml.merges"))
        v.merges.assign(merges->begin(), merges->end());
    if (v.model == "gpt2" && v.merges.empty()) fail("BPE vocabulary without tokenizer.ggml.merges");

    // Defaults of the reference implementation when a key is absent.
    const bool spm = v.model == "llama";
    v.bos = spm ? 1 : -1;
    v.eos = spm ? 2 : -1;
    v.unk = spm ? 0 : -1;
    v.add_bos = spm || v.pre == "llama-bpe" || v.pre == "llama3";
    v.add_space_prefix = spm;

    auto id_key = [&](const char* key, int32_t* out) {
        const auto value = file.get_u64(key);
        if (!value) return;
        if (*value >= n) fail(key, " = ", *value, " is outside the vocabulary of ", n, " tokens");
        *out = int32_t(*value);
    };
    id_key("tokenizer.ggml.bos_token_id", &v.bos);
    id_key("tokenizer.ggml.eos_token_id", &v.eos);
    id_key("tokenizer.ggml.eot_token_id", &v.eot);
    id_key("tokenizer.ggml.eom_token_id", &v.eom);
    id_key("tokenizer.ggml.unknown_token_id", &v.unk);
    id_key("tokenizer.ggml.padding_token_id", &v.pad);
    if (auto b = file.get_bool("tokenizer.ggml.add_bos_token")) v.add_bos = *b;
    if (auto b = file.get_bool("tokenizer.ggml.add_eos_token")) v.add_eos = *b;
    if (auto b = file.get_bool("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *b;
    if (auto t = file.get_string("tokenizer.chat_template")) v.chat_template = std::string(*t);
    for (int32_t* id : {&v.bos, &v.eos, &v.unk})
        if (*id >= int32_t(n)) *id = -1;  // a default that this small vocabulary lacks
    fill_missing_special_ids(v);
    return v;
}

}  // namespace ld
