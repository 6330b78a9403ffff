#pragma once
// Regex pre-tokenizers of byte-level BPE vocabularies, hand-written because std::regex has no
// \p{L}/\p{N}. Each splits text into the pieces the pattern's matches would give.
#include <string_view>
#include <vector>

namespace ld {

enum class PreTokenizer {
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
    // \s*[\r\n]+|\s+(?!\S)|\s+
    Llama3,
    // The Llama 3 pattern with single digits (\p{N} instead of \p{N}{1,3}).
    Qwen2,
    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Gpt2,
};

// Maps a GGUF tokenizer.ggml.pre name to its pre-tokenizer; false when unsupported.
bool pre_tokenizer_from_name(std::string_view name, PreTokenizer* out);

// The pieces (views into text) in order; they concatenate back to text.
std::vector<std::string_view> pretokenize(PreTokenizer kind, std::string_view text);

}  // namespace ld
