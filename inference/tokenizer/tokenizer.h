#pragma once
// Tokenizers built from a GGUF vocabulary: Llama 3 byte-level BPE (tokenizer.ggml.model = gpt2,
// pre = llama-bpe) and SentencePiece (tokenizer.ggml.model = llama, through libsentencepiece
// with a ModelProto built from the GGUF tokens/scores/types).
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ld {
namespace gguf { class File; }

enum class TokenType : int32_t {
    Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

// The tokenizer.* metadata of a GGUF file.
struct Vocab {
    std::string model;                 // "gpt2" | "llama"
    std::string pre;                   // pre-tokenizer name, e.g. "llama-bpe"
    std::vector<std::string> tokens;
    std::vector<float> scores;         // may be empty (BPE)
    std::vector<int32_t> types;        // TokenType per token; may be empty
    std::vector<std::string> merges;   // BPE only: "a b" pairs, rank = index
    int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
    bool add_bos = true;
    bool add_eos = false;
    bool add_space_prefix = true;      // SentencePiece: prepend "▁" to the text
    std::string chat_template;         // tokenizer.chat_template, may be empty
};

// Reads tokenizer.* keys; throws ld::Error naming what is missing or inconsistent.
Vocab load_vocab(const gguf::File& file);

// Fills eot/eom from well-known token texts ("<|eot_id|>", "<|im_end|>", "<|eom_id|>") when
// the file did not name them.
void fill_missing_special_ids(Vocab& vocab);

// A vocabulary from a Hugging Face tokenizer.json (byte-level BPE with the Llama 3 split
// pattern): vocab, merges, added tokens (special ones become Control). Throws ld::Error.
Vocab vocab_from_hf_tokenizer_json(std::string_view json);

// A vocabulary from a SentencePiece .model file (a serialized ModelProto). Throws ld::Error.
Vocab vocab_from_sentencepiece_model(std::string_view model_proto);

// The ModelProto that libsentencepiece loads for a SentencePiece-style (model = "llama")
// vocabulary: BPE with byte fallback, identity normalizer, dummy prefix per add_space_prefix.
std::string sentencepiece_model_proto(const Vocab& vocab);

class Tokenizer {
public:
    virtual ~Tokenizer() = default;
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;
    // Creates the tokenizer the vocabulary names; throws ld::Error for an unsupported one.
    static std::unique_ptr<Tokenizer> create(const Vocab& vocab);

    // Encodes text without BOS/EOS. With parse_special, special-token text (e.g. "<|eot_id|>",
    // control/user-defined tokens) becomes that token; without it, it is plain text — user input
    // is always encoded with parse_special = false.
    virtual std::vector<int32_t> encode(std::string_view text, bool parse_special) const = 0;
    // The bytes a token stands for (byte tokens and byte-level BPE mapped back to raw bytes;
    // "▁" to space). May be an incomplete UTF-8 sequence; control tokens give "" unless
    // render_special, which gives their text.
    virtual std::string token_bytes(int32_t id, bool render_special = false) const = 0;
    // Decodes a whole sequence (SentencePiece drops the leading space of the first piece).
    // Always valid UTF-8: invalid bytes become U+FFFD.
    virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
    // Whether decode() drops the leading space of the first non-empty piece.
    virtual bool strips_leading_space() const { return false; }

    const Vocab& vocab() const { return vocab_; }
    int32_t n_vocab() const { return int32_t(vocab_.tokens.size()); }
    int32_t bos() const { return vocab_.bos; }
    // Whether a token ends generation (EOS, EOT, EOM).
    bool is_end_of_generation(int32_t id) const;
    // Token id of an exact token text, or -1.
    int32_t find_token(std::string_view text) const;

    // Whether a token is special (Control or UserDefined): matched in text only with
    // parse_special.
    bool is_special(int32_t id) const;
    TokenType token_type(int32_t id) const;

protected:
    // Validates the vocabulary (ids in range, array sizes) and indexes it; throws ld::Error.
    explicit Tokenizer(Vocab vocab);

    // A piece of input: plain text (token < 0) or a special token found in it.
    struct Fragment {
        std::string_view text;
        int32_t token = -1;
    };
    // Splits text at special-token texts (leftmost, longest first) when parse_special; else
    // one plain fragment.
    std::vector<Fragment> split_special(std::string_view text, bool parse_special) const;

    Vocab vocab_;

private:
    std::unordered_map<std::string_view, int32_t> token_ids_;  // views into vocab_.tokens
    std::vector<int32_t> specials_;                            // longest text first
    std::array<bool, 256> special_first_byte_{};
};

// Turns a stream of token ids into text that is always valid UTF-8: bytes of an incomplete
// multi-byte sequence are held back until the sequence completes; invalid bytes become U+FFFD.
// SentencePiece drops the dummy-prefix space of the first text of a sequence only, i.e. right
// after BOS or at the start of a decoder made for a whole sequence (llama2.c's rule). A reply
// streamed after a prompt keeps its leading space: it separates the reply from the prompt
// ("The cat" + " and"), so prompt text + streamed text is the whole text.
class StreamDecoder {
public:
    // Decodes a sequence from its start, as decode() does.
    explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
    // Continues a sequence whose last token so far is `previous` (a prompt's last token): the
    // first text keeps its leading space unless `previous` is BOS.
    StreamDecoder(const Tokenizer& tok, int32_t previous) : tok_(tok), at_start_(previous >= 0 && previous == tok.bos()) {}
    std::string push(int32_t id);      // text now complete (may be empty)
    std::string flush();               // whatever is held back, repaired
private:
    const Tokenizer& tok_;
    std::string pending_;
    bool at_start_ = true;  // no text since the sequence (or a BOS) began
};

}  // namespace ld
