#pragma once
// The prompt under construction for every chat format (chat_format.cpp, tool_format.cpp): special
// tokens and plain text kept apart, so that only a format's own markers can become special tokens
// and message content (typed text, tool output) never does.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inference/tokenizer/tokenizer.h"

namespace ld {

// A prompt under construction: special tokens and plain text, kept apart so that only the
// format's markers can become special tokens.
class Prompt {
public:
    explicit Prompt(const Tokenizer& tok) : tok_(tok) {}

    // A marker: the special token of that text when the vocabulary has one, else plain text.
    void special(std::string_view text) {
        const int32_t id = tok_.find_token(text);
        if (id >= 0 && tok_.is_special(id)) token(id);
        else this->text(text);
    }
    void token(int32_t id) { parts_.push_back({std::string(), id}); }
    void text(std::string_view s) {
        if (s.empty()) return;
        if (!parts_.empty() && parts_.back().token < 0) parts_.back().text += s;
        else parts_.push_back({std::string(s), -1});
    }
    void bos_if(bool want) {
        if (want && tok_.bos() >= 0) token(tok_.bos());
    }

    // Adjacent text is encoded in one piece, so a marker's text and the content after it
    // tokenize as they would in the rendered prompt.
    std::vector<int32_t> ids() const {
        std::vector<int32_t> out;
        for (const Part& p : parts_) {
            if (p.token >= 0) {
                out.push_back(p.token);
            } else {
                const auto ids = tok_.encode(p.text, /*parse_special=*/false);
                out.insert(out.end(), ids.begin(), ids.end());
            }
        }
        return out;
    }
    std::string rendered() const {
        std::string out;
        for (const Part& p : parts_) out += p.token >= 0 ? tok_.vocab().tokens[p.token] : p.text;
        return out;
    }

private:
    struct Part {
        std::string text;
        int32_t token;
    };
    const Tokenizer& tok_;
    std::vector<Part> parts_;
};

}  // namespace ld
