// Byte-level BPE (GPT-2 / Llama 3): regex pre-tokenizer, bytes mapped to printable code
// points, merges applied by rank with a heap so long words stay O(n log n).
#include <array>
#include <queue>

#include "inference/core/error.h"
#include "inference/tokenizer/pretokenize.h"
#include "inference/tokenizer/tokenizer_impl.h"
#include "inference/tokenizer/unicode.h"

namespace ld {
namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the rest are
// shifted to U+0100 and up so that every byte has a visible, non-space code point.
std::array<uint32_t, 256> byte_to_codepoint() {
    std::array<uint32_t, 256> map{};
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        map[b] = printable ? b : next++;
    }
    return map;
}

class BpeTokenizer final : public Tokenizer {
public:
    explicit BpeTokenizer(const Vocab& vocab) : Tokenizer(vocab) {
        if (!pre_tokenizer_from_name(vocab_.pre, &pre_))
            fail("tokenizer: unsupported BPE pre-tokenizer \"", vocab_.pre, "\"");
        // Llama 3's tokenizer.json sets ignore_merges: a word that is itself a token is not
        // re-derived from merges (which could give a different split).
        ignore_merges_ = pre_ == PreTokenizer::Llama3;

        const auto b2c = byte_to_codepoint();
        codepoint_to_byte_.assign(512, -1);
        for (int b = 0; b < 256; ++b) {
            std::string s;
            unicode::append_utf8(s, b2c[b]);
            byte_text_[b] = s;
            codepoint_to_byte_[b2c[b]] = int16_t(b);
            byte_token_[b] = find_token(s);
            if (byte_token_[b] < 0) {
                if (vocab_.unk < 0)
                    fail("tokenizer: byte-level BPE vocabulary has no token for byte ", b,
                         " and no unknown token");
                byte_token_[b] = vocab_.unk;
            }
        }

        merges_.reserve(vocab_.merges.size());
        for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
            const std::string& m = vocab_.merges[rank];
            const size_t sp = m.find(' ', 1);  // a leading space would be a byte token itself
            if (sp == std::string::npos) fail("tokenizer: BPE merge ", rank, " (\"", m, "\") has no space");
            const std::string_view a(m.data(), sp), b(m.data() + sp + 1, m.size() - sp - 1);
            const int32_t ia = find_token(a), ib = find_token(b);
            std::string joined;
            joined.reserve(a.size() + b.size());
            joined.append(a).append(b);
            const int32_t ij = find_token(joined);
            // Merges naming tokens outside the vocabulary cannot fire; skip them.
            if (ia < 0 || ib < 0 || ij < 0) continue;
            merges_.emplace(pair_key(ia, ib), Merge{int32_t(rank), ij});
        }
    }

    std::vector<int32_t> encode(std::string_view text, bool parse_special) const override {
        std::vector<int32_t> out;
        out.reserve(text.size() / 3 + 1);
        std::string mapped;
        for (const Fragment& f : split_special(text, parse_special)) {
            if (f.token >= 0) {
                out.push_back(f.token);
                continue;
            }
            for (std::string_view word : pretokenize(pre_, f.text)) encode_word(word, mapped, out);
        }
        return out;
    }

    std::string token_bytes(int32_t id, bool render_special) const override {
        if (id < 0 || id >= n_vocab()) return {};
        const std::string& text = vocab_.tokens[id];
        switch (token_type(id)) {
            case TokenType::Control:
                return render_special ? text : std::string();
            case TokenType::UserDefined:
            case TokenType::Unknown:
                return text;
            default:
                break;
        }
        std::string out;
        out.reserve(text.size());
        size_t i = 0;
        while (i < text.size()) {
            const auto seq = unicode::utf8_sequence(text.data() + i, text.size() - i);
            const int b = (seq.status == unicode::Utf8Seq::Valid && seq.cp < codepoint_to_byte_.size())
                              ? codepoint_to_byte_[seq.cp] : -1;
            if (b >= 0) out += char(b);
            else out.append(text, i, seq.len ? seq.len : 1);  // not a byte-level code point: as is
            i += seq.len ? seq.len : 1;
        }
        return out;
    }

    std::string decode(const std::vector<int32_t>& ids) const override {
        std::string raw;
        for (int32_t id : ids) raw += token_bytes(id, false);
        return unicode::repair_utf8(raw);
    }

private:
    struct Merge {
        int32_t rank;
        int32_t result;
    };
    static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

    void encode_word(std::string_view word, std::string& mapped, std::vector<int32_t>& out) const {
        if (ignore_merges_) {
            mapped.clear();
            for (char c : word) mapped += byte_text_[uint8_t(c)];
            const int32_t whole = find_token(mapped);
            if (whole >= 0) {
                out.push_back(whole);
                return;
            }
        }
        if (word.size() == 1) {
            out.push_back(byte_token_[uint8_t(word[0])]);
            return;
        }

        // Symbols form a linked list; the heap holds candidate merges (rank, left position),
        // lowest rank first and leftmost on ties, checked for staleness when popped.
        const int n = int(word.size());
        std::vector<int32_t> id(n);
        std::vector<int> prev(n), next(n);
        for (int i = 0; i < n; ++i) {
            id[i] = byte_token_[uint8_t(word[i])];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        struct Cand {
            int32_t rank;
            int left;
            int32_t a, b, result;
            bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
        };
        std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
        auto push = [&](int left) {
            const int right = next[left];
            if (left < 0 || right < 0) return;
            auto it = merges_.find(pair_key(id[left], id[right]));
            if (it != merges_.end()) heap.push({it->second.rank, left, id[left], id[right], it->second.result});
        };
        for (int i = 0; i + 1 < n; ++i) push(i);

        while (!heap.empty()) {
            const Cand c = heap.top();
            heap.pop();
            const int right = next[c.left];
            if (id[c.left] != c.a || right < 0 || id[right] != c.b) continue;  // stale
            id[c.left] = c.result;
            id[right] = -1;  // removed
            next[c.left] = next[right];
            if (next[right] >= 0) prev[next[right]] = c.left;
            if (prev[c.left] >= 0) push(prev[c.left]);
            push(c.left);
        }
        for (int i = 0; i >= 0; i = next[i]) out.push_back(id[i]);
    }

    PreTokenizer pre_ = PreTokenizer::Llama3;
    bool ignore_merges_ = false;
    std::array<std::string, 256> byte_text_;
    std::array<int32_t, 256> byte_token_{};
    std::vector<int16_t> codepoint_to_byte_;
    std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const Vocab& vocab) {
    return std::make_unique<BpeTokenizer>(vocab);
}

}  // namespace ld
