#include "inference/tokenizer/pretokenize.h"

#include <cstdint>

#include "inference/tokenizer/unicode.h"

namespace ld {
namespace {

using unicode::codepoint_flags;
using unicode::kLetter;
using unicode::kNumber;
using unicode::kWhitespace;

// Cursor over the decoded code points; reads past either end give "no character" (flags 0,
// is_char false) so the matchers need no bounds checks.
struct Text {
    std::vector<uint32_t> cps;
    std::vector<uint8_t> flags;
    size_t n = 0;

    bool in(size_t i) const { return i < n; }
    uint32_t cp(size_t i) const { return i < n ? cps[i] : 0xFFFFFFFFu; }
    bool letter(size_t i) const { return i < n && (flags[i] & kLetter); }
    bool number(size_t i) const { return i < n && (flags[i] & kNumber); }
    bool space(size_t i) const { return i < n && (flags[i] & kWhitespace); }
    // [^\s\p{L}\p{N}]: any character that is none of the three.
    bool other(size_t i) const { return i < n && !(flags[i] & (kLetter | kNumber | kWhitespace)); }
    bool crlf(size_t i) const { return i < n && (cps[i] == '\r' || cps[i] == '\n'); }
};

uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length of a contraction match at i ('s 't 're 've 'm 'll 'd), 0 if none.
size_t contraction(const Text& t, size_t i, bool ignore_case) {
    if (t.cp(i) != '\'') return 0;
    auto low = [&](size_t k) {
        uint32_t c = t.cp(k);
        if (!ignore_case) return c;
        if (c == 0x17F) return uint32_t('s');  // LATIN SMALL LETTER LONG S case-folds to s
        return ascii_lower(c);
    };
    const uint32_t a = low(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    const uint32_t b = low(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

// Whitespace alternatives shared by both patterns: \s+(?!\S)|\s+ — a run followed by a
// non-space keeps its last space for the next piece (so " world" stays one piece).
size_t whitespace_run(const Text& t, size_t i) {
    size_t j = i;
    while (t.space(j)) ++j;
    const size_t run = j - i;
    if (run == 0) return 0;
    if (t.in(j) && run > 1) return run - 1;
    return run;
}

size_t match_llama3(const Text& t, size_t i, size_t max_digits) {
    if (size_t len = contraction(t, i, true)) return len;
    // [^\r\n\p{L}\p{N}]?\p{L}+
    {
        size_t j = i;
        if (!t.letter(j) && !t.number(j) && !t.crlf(j) && t.letter(j + 1)) ++j;
        if (t.letter(j)) {
            while (t.letter(j)) ++j;
            return j - i;
        }
    }
    // \p{N}{1,3}
    if (t.number(i)) {
        size_t j = i;
        while (t.number(j) && j - i < max_digits) ++j;
        return j - i;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    {
        size_t j = i;
        if (t.cp(j) == ' ' && t.other(j + 1)) ++j;
        if (t.other(j)) {
            while (t.other(j)) ++j;
            while (t.crlf(j)) ++j;
            return j - i;
        }
    }
    // \s*[\r\n]+ : backtracking makes it end right after the run's last \r or \n.
    {
        size_t j = i, last_crlf_end = 0;
        while (t.space(j)) {
            if (t.crlf(j)) last_crlf_end = j + 1;
            ++j;
        }
        if (last_crlf_end) return last_crlf_end - i;
    }
    if (size_t len = whitespace_run(t, i)) return len;
    return 1;  // unreachable: every character is a letter, number, space or other
}

size_t match_gpt2(const Text& t, size_t i) {
    if (size_t len = contraction(t, i, false)) return len;
    const size_t s = t.cp(i) == ' ' ? i + 1 : i;
    // ' ?\p{L}+' | ' ?\p{N}+' | ' ?[^\s\p{L}\p{N}]+'
    for (auto cls : {&Text::letter, &Text::number, &Text::other}) {
        if ((t.*cls)(s)) {
            size_t j = s;
            while ((t.*cls)(j)) ++j;
            return j - i;
        }
    }
    if (size_t len = whitespace_run(t, i)) return len;
    return 1;
}

}  // namespace

bool pre_tokenizer_from_name(std::string_view name, PreTokenizer* out) {
    if (name == "llama-bpe" || name == "llama3" || name == "llama-v3" || name == "smaug-bpe" ||
        name == "dbrx") {
        *out = PreTokenizer::Llama3;
        return true;
    }
    if (name == "qwen2" || name == "deepseek-r1-qwen") {
        *out = PreTokenizer::Qwen2;
        return true;
    }
    if (name == "gpt-2" || name == "gpt2" || name == "default" || name.empty()) {
        *out = PreTokenizer::Gpt2;
        return true;
    }
    return false;
}

std::vector<std::string_view> pretokenize(PreTokenizer kind, std::string_view text) {
    Text t;
    std::vector<size_t> offsets;
    t.cps = unicode::decode_utf8(text, &offsets);
    t.n = t.cps.size();
    t.flags.resize(t.n);
    for (size_t i = 0; i < t.n; ++i) t.flags[i] = codepoint_flags(t.cps[i]);

    std::vector<std::string_view> pieces;
    size_t i = 0;
    while (i < t.n) {
        size_t len = kind == PreTokenizer::Gpt2 ? match_gpt2(t, i)
                                                : match_llama3(t, i, kind == PreTokenizer::Llama3 ? 3 : 1);
        const size_t j = i + len;
        pieces.push_back(text.substr(offsets[i], offsets[j] - offsets[i]));
        i = j;
    }
    return pieces;
}

}  // namespace ld
