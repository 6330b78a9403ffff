// SentencePiece vocabularies (GGUF tokenizer.ggml.model = "llama") through libsentencepiece,
// loaded from a ModelProto built from the GGUF tokens, scores and types.
#include <sentencepiece_processor.h>

#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer_impl.h"
#include "inference/tokenizer/unicode.h"

namespace ld {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 "▁"
constexpr std::string_view kUnkSurface = " \xE2\x81\x87 ";   // libsentencepiece's " ⁇ "

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

class SpmTokenizer final : public Tokenizer {
public:
    explicit SpmTokenizer(const Vocab& vocab) : Tokenizer(vocab) {
        const auto status = sp_.LoadFromSerializedProto(sentencepiece_model_proto(vocab_));
        if (!status.ok()) fail("tokenizer: sentencepiece rejected the vocabulary: ", status.ToString());
        if (sp_.GetPieceSize() != n_vocab())
            fail("tokenizer: sentencepiece has ", sp_.GetPieceSize(), " pieces, the vocabulary ", n_vocab());
    }

    std::vector<int32_t> encode(std::string_view text, bool parse_special) const override {
        std::vector<int32_t> out;
        std::vector<int> ids;
        // Each plain fragment gets its own dummy prefix (as after "<s>" in "<s>[INST]"), the
        // behaviour of llama.cpp and of Hugging Face's legacy Llama tokenizer.
        for (const Fragment& f : split_special(text, parse_special)) {
            if (f.token >= 0) {
                out.push_back(f.token);
                continue;
            }
            ids.clear();
            const auto status = sp_.Encode(absl::string_view(f.text.data(), f.text.size()), &ids);
            if (!status.ok()) fail("tokenizer: sentencepiece could not encode text: ", status.ToString());
            out.insert(out.end(), ids.begin(), ids.end());
        }
        return out;
    }

    std::string token_bytes(int32_t id, bool render_special) const override {
        if (id < 0 || id >= n_vocab()) return {};
        const std::string& piece = vocab_.tokens[id];
        switch (token_type(id)) {
            case TokenType::Control:
                return render_special ? piece : std::string();
            case TokenType::Unknown:
                return std::string(kUnkSurface);
            case TokenType::Byte:
                if (piece.size() == 6 && piece.starts_with("<0x") && piece[5] == '>') {
                    const int hi = hex_digit(piece[3]), lo = hex_digit(piece[4]);
                    if (hi >= 0 && lo >= 0) return std::string(1, char(hi * 16 + lo));
                }
                return piece;
            default:
                break;
        }
        std::string out;
        out.reserve(piece.size());
        for (size_t i = 0; i < piece.size();) {
            if (std::string_view(piece).substr(i).starts_with(kSpaceSymbol)) {
                out += ' ';
                i += kSpaceSymbol.size();
            } else {
                out += piece[i++];
            }
        }
        return out;
    }

    std::string decode(const std::vector<int32_t>& ids) const override {
        std::string raw;
        bool first = true;
        for (int32_t id : ids) {
            std::string piece = token_bytes(id, false);
            if (piece.empty()) continue;
            if (first && strips_leading_space() && piece[0] == ' ') piece.erase(0, 1);
            first = false;
            raw += piece;
        }
        return unicode::repair_utf8(raw);
    }

    bool strips_leading_space() const override { return vocab_.add_space_prefix; }

private:
    sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_spm_tokenizer(const Vocab& vocab) {
    return std::make_unique<SpmTokenizer>(vocab);
}

}  // namespace ld
