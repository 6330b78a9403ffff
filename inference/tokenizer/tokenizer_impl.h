#pragma once
// Factories of the concrete tokenizers (internal to inference/tokenizer).
#include <memory>

#include "inference/tokenizer/tokenizer.h"

namespace ld {

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const Vocab& vocab);   // model = "gpt2"
std::unique_ptr<Tokenizer> make_spm_tokenizer(const Vocab& vocab);   // model = "llama"

}  // namespace ld
