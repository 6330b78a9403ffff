#include "inference/chat/tool_result.h"

#include <vector>

namespace ld {
namespace {

// `s` without a UTF-8 sequence cut off at its end.
std::string_view whole_characters(std::string_view s) {
    size_t start = s.size();
    while (start > 0 && s.size() - start < 4 && (uint8_t(s[start - 1]) & 0xC0) == 0x80) --start;
    if (start == 0) return s;  // only continuation bytes: not UTF-8 to repair
    const uint8_t lead = uint8_t(s[start - 1]);
    const size_t need = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
    const size_t have = s.size() - (start - 1);
    return have < need ? s.substr(0, start - 1) : s;
}

// The text of the result's first `keep` tokens, taken from the result itself where the tokens'
// bytes spell a prefix of it (byte-level BPE always; SentencePiece after its added space).
std::string prefix_text(const Tokenizer& tok, std::string_view result, const std::vector<int32_t>& ids, size_t keep) {
    std::string bytes;
    for (size_t i = 0; i < keep; ++i) bytes += tok.token_bytes(ids[i]);
    if (tok.strips_leading_space() && bytes.starts_with(' ') && !result.starts_with(' ')) bytes.erase(0, 1);
    std::string_view cut = whole_characters(bytes);
    if (result.starts_with(cut)) return std::string(result.substr(0, cut.size()));
    return std::string(whole_characters(tok.decode(std::vector<int32_t>(ids.begin(), ids.begin() + long(keep)))));
}

}  // namespace

TruncatedToolResult truncate_tool_result(const Tokenizer& tok, std::string_view result, size_t max_tokens) {
    TruncatedToolResult out;
    const std::vector<int32_t> ids = tok.encode(result, /*parse_special=*/false);
    out.total_tokens = ids.size();
    if (ids.size() <= max_tokens) {
        out.text = std::string(result);
        out.kept_tokens = ids.size();
        return out;
    }
    out.truncated = true;
    auto note = [&](size_t kept) {
        return "\n[truncated: " + std::to_string(kept) + " of " + std::to_string(ids.size()) + " tokens]";
    };
    // Room for the note first (its count with the widest number), then shrink until the whole
    // text fits: tokens can merge differently at the cut.
    const size_t note_tokens = tok.encode(note(ids.size()), false).size();
    size_t keep = max_tokens > note_tokens ? max_tokens - note_tokens : 0;
    while (true) {
        std::string text = prefix_text(tok, result, ids, keep) + note(keep);
        const size_t n = tok.encode(text, false).size();
        if (n <= max_tokens || keep == 0) {
            out.text = std::move(text);
            out.kept_tokens = keep;
            return out;
        }
        keep -= std::min(keep, n - max_tokens);
    }
}

}  // namespace ld
