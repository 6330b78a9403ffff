#include "inference/tokenizer/unicode.h"

#include <algorithm>

namespace ld::unicode {
namespace {

struct CodepointRange {
    uint32_t first, last;
    uint8_t flags;
};
#include "inference/tokenizer/unicode_tables.inc"

constexpr uint32_t kReplacement = 0xFFFD;

}  // namespace

uint8_t codepoint_flags(uint32_t cp) {
    if (cp < 0x80) {
        // The hot path: ASCII needs no table search.
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return kLetter;
        if (cp >= '0' && cp <= '9') return kNumber;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return kWhitespace;
        return 0;
    }
    const auto* begin = std::begin(kCodepointRanges);
    const auto* end = std::end(kCodepointRanges);
    const auto* it = std::upper_bound(begin, end, cp,
                                      [](uint32_t v, const CodepointRange& r) { return v < r.first; });
    if (it == begin) return 0;
    --it;
    return cp <= it->last ? it->flags : 0;
}

Utf8Seq utf8_sequence(const char* s, size_t n) {
    const auto* b = reinterpret_cast<const uint8_t*>(s);
    if (n == 0) return {Utf8Seq::Incomplete, 0, 0};
    const uint8_t c0 = b[0];
    if (c0 < 0x80) return {Utf8Seq::Valid, 1, c0};
    size_t need;
    uint32_t cp;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c0 >= 0xC2 && c0 <= 0xDF) { need = 2; cp = c0 & 0x1F; }
    else if (c0 >= 0xE0 && c0 <= 0xEF) {
        need = 3; cp = c0 & 0x0F;
        if (c0 == 0xE0) lo = 0xA0;       // no overlong forms
        if (c0 == 0xED) hi = 0x9F;       // no surrogates
    } else if (c0 >= 0xF0 && c0 <= 0xF4) {
        need = 4; cp = c0 & 0x07;
        if (c0 == 0xF0) lo = 0x90;
        if (c0 == 0xF4) hi = 0x8F;       // nothing above U+10FFFF
    } else {
        return {Utf8Seq::Invalid, 1, 0};
    }
    for (size_t i = 1; i < need; ++i) {
        if (i >= n) return {Utf8Seq::Incomplete, i, 0};
        const uint8_t c = b[i];
        const uint8_t l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (c < l || c > h) return {Utf8Seq::Invalid, i, 0};
        cp = (cp << 6) | (c & 0x3F);
    }
    return {Utf8Seq::Valid, need, cp};
}

std::vector<uint32_t> decode_utf8(std::string_view text, std::vector<size_t>* offsets) {
    std::vector<uint32_t> cps;
    cps.reserve(text.size());
    if (offsets) {
        offsets->clear();
        offsets->reserve(text.size() + 1);
    }
    size_t i = 0;
    while (i < text.size()) {
        const Utf8Seq seq = utf8_sequence(text.data() + i, text.size() - i);
        if (offsets) offsets->push_back(i);
        cps.push_back(seq.status == Utf8Seq::Valid ? seq.cp : kReplacement);
        i += seq.len;
    }
    if (offsets) offsets->push_back(text.size());
    return cps;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

std::string repair_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        const Utf8Seq seq = utf8_sequence(text.data() + i, text.size() - i);
        if (seq.status == Utf8Seq::Valid) out.append(text.data() + i, seq.len);
        else append_utf8(out, kReplacement);
        i += seq.len;
    }
    return out;
}

}  // namespace ld::unicode
