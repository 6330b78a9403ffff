#include "inference/tokenizer/tokenizer.h"

#include <algorithm>

#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer_impl.h"

namespace ld {

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
    const size_t n = vocab_.tokens.size();
    if (n == 0) fail("tokenizer: the vocabulary has no tokens");
    if (n > size_t(INT32_MAX)) fail("tokenizer: the vocabulary has too many tokens (", n, ")");
    if (!vocab_.scores.empty() && vocab_.scores.size() != n)
        fail("tokenizer: ", vocab_.scores.size(), " scores for ", n, " tokens");
    if (!vocab_.types.empty() && vocab_.types.size() != n)
        fail("tokenizer: ", vocab_.types.size(), " token types for ", n, " tokens");
    for (auto* id : {&vocab_.bos, &vocab_.eos, &vocab_.eot, &vocab_.eom, &vocab_.unk, &vocab_.pad}) {
        if (*id < -1 || *id >= int32_t(n))
            fail("tokenizer: special token id ", *id, " is outside the vocabulary of ", n);
    }

    token_ids_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        // The first of duplicate texts wins, as in the reference implementations.
        token_ids_.emplace(std::string_view(vocab_.tokens[i]), int32_t(i));
        if (is_special(int32_t(i)) && !vocab_.tokens[i].empty()) specials_.push_back(int32_t(i));
    }
    std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
        return vocab_.tokens[a].size() > vocab_.tokens[b].size();
    });
    for (int32_t id : specials_) special_first_byte_[uint8_t(vocab_.tokens[id][0])] = true;
}

TokenType Tokenizer::token_type(int32_t id) const {
    if (id < 0 || id >= n_vocab()) return TokenType::Undefined;
    if (vocab_.types.empty()) return TokenType::Normal;
    return TokenType(vocab_.types[id]);
}

bool Tokenizer::is_special(int32_t id) const {
    const TokenType t = token_type(id);
    return t == TokenType::Control || t == TokenType::UserDefined;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
    return id >= 0 && (id == vocab_.eos || id == vocab_.eot || id == vocab_.eom);
}

int32_t Tokenizer::find_token(std::string_view text) const {
    auto it = token_ids_.find(text);
    return it == token_ids_.end() ? -1 : it->second;
}

std::vector<Tokenizer::Fragment> Tokenizer::split_special(std::string_view text,
                                                          bool parse_special) const {
    std::vector<Fragment> out;
    if (!parse_special || specials_.empty()) {
        if (!text.empty()) out.push_back({text, -1});
        return out;
    }
    size_t plain_start = 0;
    size_t i = 0;
    while (i < text.size()) {
        int32_t match = -1;
        if (special_first_byte_[uint8_t(text[i])]) {
            const std::string_view rest = text.substr(i);
            for (int32_t id : specials_) {
                if (rest.starts_with(vocab_.tokens[id])) {
                    match = id;
                    break;
                }
            }
        }
        if (match < 0) {
            ++i;
            continue;
        }
        if (i > plain_start) out.push_back({text.substr(plain_start, i - plain_start), -1});
        out.push_back({std::string_view(vocab_.tokens[match]), match});
        i += vocab_.tokens[match].size();
        plain_start = i;
    }
    if (plain_start < text.size()) out.push_back({text.substr(plain_start), -1});
    return out;
}

std::unique_ptr<Tokenizer> Tokenizer::create(const Vocab& vocab) {
    if (vocab.model == "gpt2") return make_bpe_tokenizer(vocab);
    if (vocab.model == "llama") return make_spm_tokenizer(vocab);
    fail("tokenizer: unsupported tokenizer model \"", vocab.model,
         "\" (supported: gpt2 byte-level BPE, llama SentencePiece)");
}

}  // namespace ld
