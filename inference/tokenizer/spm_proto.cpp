// SentencePiece ModelProto in protobuf wire format, written and read by hand because only the
// sentencepiece library (not its protobuf headers) is available. Field numbers are those of
// sentencepiece_model.proto.
#include <cstring>

#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {
namespace {

enum : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

// ModelProto
constexpr uint32_t kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;
// ModelProto.SentencePiece
constexpr uint32_t kPiece = 1, kScore = 2, kType = 3;
// TrainerSpec
constexpr uint32_t kModelType = 3, kVocabSize = 4, kByteFallback = 35, kUnkId = 40, kBosId = 41,
                   kEosId = 42, kPadId = 43;
constexpr uint64_t kModelTypeUnigram = 1, kModelTypeBpe = 2;
// NormalizerSpec
constexpr uint32_t kName = 1, kAddDummyPrefix = 3, kRemoveExtraWhitespaces = 4,
                   kEscapeWhitespaces = 5;

struct Writer {
    std::string out;
    void varint(uint64_t v) {
        while (v >= 0x80) {
            out += char(uint8_t(v) | 0x80);
            v >>= 7;
        }
        out += char(v);
    }
    void tag(uint32_t field, uint32_t wire) { varint((uint64_t(field) << 3) | wire); }
    // int32 fields sign-extend negatives to 64 bits, as protobuf does.
    void int32_field(uint32_t field, int32_t v) { tag(field, kVarint); varint(uint64_t(int64_t(v))); }
    void bool_field(uint32_t field, bool v) { tag(field, kVarint); varint(v ? 1 : 0); }
    void bytes_field(uint32_t field, std::string_view s) {
        tag(field, kBytes);
        varint(s.size());
        out.append(s);
    }
    void float_field(uint32_t field, float f) {
        tag(field, kFixed32);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        for (int i = 0; i < 4; ++i) out += char((bits >> (8 * i)) & 0xFF);
    }
};

struct Reader {
    std::string_view in;
    size_t pos = 0;
    bool done() const { return pos >= in.size(); }
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= in.size()) fail("SentencePiece model: truncated varint");
            const uint8_t c = uint8_t(in[pos++]);
            v |= uint64_t(c & 0x7F) << shift;
            if (c < 0x80) return v;
        }
        fail("SentencePiece model: varint longer than 10 bytes");
    }
    // Reads one field; its payload is in `value` (varint/fixed) or `bytes`.
    bool next(uint32_t* field, uint32_t* wire, uint64_t* value, std::string_view* bytes) {
        if (done()) return false;
        const uint64_t key = varint();
        *field = uint32_t(key >> 3);
        *wire = uint32_t(key & 7);
        switch (*wire) {
            case kVarint: *value = varint(); break;
            case kFixed64: *value = take_fixed(8); break;
            case kFixed32: *value = take_fixed(4); break;
            case kBytes: {
                const uint64_t len = varint();
                if (len > in.size() - pos) fail("SentencePiece model: field ", *field, " runs past the end");
                *bytes = in.substr(pos, len);
                pos += len;
                break;
            }
            default: fail("SentencePiece model: unsupported wire type ", *wire, " (field ", *field, ")");
        }
        return true;
    }
    uint64_t take_fixed(size_t n) {
        if (n > in.size() - pos) fail("SentencePiece model: truncated fixed-width field");
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) v |= uint64_t(uint8_t(in[pos + i])) << (8 * i);
        pos += n;
        return v;
    }
};

float float_from_bits(uint64_t v) {
    const uint32_t bits = uint32_t(v);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace

std::string sentencepiece_model_proto(const Vocab& vocab) {
    const size_t n = vocab.tokens.size();
    if (n == 0) fail("SentencePiece vocabulary has no tokens");
    if (!vocab.types.empty() && vocab.types.size() != n)
        fail("SentencePiece vocabulary: ", vocab.types.size(), " token types for ", n, " tokens");
    if (!vocab.scores.empty() && vocab.scores.size() != n)
        fail("SentencePiece vocabulary: ", vocab.scores.size(), " scores for ", n, " tokens");

    std::vector<int32_t> types(n, int32_t(TokenType::Normal));
    for (size_t i = 0; i < vocab.types.size(); ++i) {
        const int32_t t = vocab.types[i];
        types[i] = (t >= int32_t(TokenType::Normal) && t <= int32_t(TokenType::Byte)) ? t : int32_t(TokenType::Normal);
    }
    // libsentencepiece wants exactly one UNKNOWN piece: the vocabulary's unk (or the first
    // token typed Unknown); any other Unknown-typed token becomes a control token.
    int32_t unk = vocab.unk;
    if (unk < 0 || size_t(unk) >= n) {
        unk = -1;
        for (size_t i = 0; i < n && unk < 0; ++i)
            if (types[i] == int32_t(TokenType::Unknown)) unk = int32_t(i);
    }
    if (unk < 0) fail("SentencePiece vocabulary has no unknown token (libsentencepiece requires one)");
    bool has_bytes = false;
    for (size_t i = 0; i < n; ++i) {
        if (types[i] == int32_t(TokenType::Unknown) && int32_t(i) != unk) types[i] = int32_t(TokenType::Control);
        has_bytes |= types[i] == int32_t(TokenType::Byte);
    }
    types[unk] = int32_t(TokenType::Unknown);

    Writer w;
    for (size_t i = 0; i < n; ++i) {
        // Empty pieces are rejected by libsentencepiece; a placeholder keeps the ids aligned.
        std::string placeholder;
        std::string_view piece = vocab.tokens[i];
        int32_t type = types[i];
        if (piece.empty()) {
            placeholder = "<ld_empty_" + std::to_string(i) + ">";
            piece = placeholder;
            type = int32_t(TokenType::Unused);
        }
        Writer p;
        p.bytes_field(kPiece, piece);
        p.float_field(kScore, vocab.scores.empty() ? 0.0f : vocab.scores[i]);
        p.int32_field(kType, type);
        w.bytes_field(kPieces, p.out);
    }
    Writer t;
    t.int32_field(kModelType, int32_t(kModelTypeBpe));
    t.int32_field(kVocabSize, int32_t(n));
    t.bool_field(kByteFallback, has_bytes);
    t.int32_field(kUnkId, unk);
    t.int32_field(kBosId, vocab.bos);
    t.int32_field(kEosId, vocab.eos);
    t.int32_field(kPadId, vocab.pad);
    w.bytes_field(kTrainerSpec, t.out);
    Writer ns;
    ns.bytes_field(kName, "identity");
    ns.bool_field(kAddDummyPrefix, vocab.add_space_prefix);
    ns.bool_field(kRemoveExtraWhitespaces, false);
    ns.bool_field(kEscapeWhitespaces, true);
    w.bytes_field(kNormalizerSpec, ns.out);
    return std::move(w.out);
}

Vocab vocab_from_sentencepiece_model(std::string_view model_proto) {
    Vocab v;
    v.model = "llama";
    v.bos = 1;  // TrainerSpec defaults
    v.eos = 2;
    v.unk = 0;
    v.pad = -1;
    v.add_bos = true;
    v.add_space_prefix = true;
    uint64_t model_type = kModelTypeUnigram;

    Reader r{model_proto};
    uint32_t field, wire;
    uint64_t value = 0;
    std::string_view bytes;
    while (r.next(&field, &wire, &value, &bytes)) {
        if (wire != kBytes) continue;
        if (field == kPieces) {
            std::string piece;
            float score = 0.0f;
            int32_t type = int32_t(TokenType::Normal);
            Reader pr{bytes};
            uint32_t f, w2;
            uint64_t val = 0;
            std::string_view b;
            while (pr.next(&f, &w2, &val, &b)) {
                if (f == kPiece && w2 == kBytes) piece = std::string(b);
                else if (f == kScore && w2 == kFixed32) score = float_from_bits(val);
                else if (f == kType && w2 == kVarint) type = int32_t(val);
            }
            v.tokens.push_back(std::move(piece));
            v.scores.push_back(score);
            v.types.push_back(type);
        } else if (field == kTrainerSpec) {
            Reader tr{bytes};
            uint32_t f, w2;
            uint64_t val = 0;
            std::string_view b;
            while (tr.next(&f, &w2, &val, &b)) {
                if (w2 != kVarint) continue;
                const int32_t i32 = int32_t(uint32_t(val));
                if (f == kModelType) model_type = val;
                else if (f == kUnkId) v.unk = i32;
                else if (f == kBosId) v.bos = i32;
                else if (f == kEosId) v.eos = i32;
                else if (f == kPadId) v.pad = i32;
            }
        } else if (field == kNormalizerSpec) {
            Reader nr{bytes};
            uint32_t f, w2;
            uint64_t val = 0;
            std::string_view b;
            while (nr.next(&f, &w2, &val, &b))
                if (f == kAddDummyPrefix && w2 == kVarint) v.add_space_prefix = val != 0;
        }
    }
    if (v.tokens.empty()) fail("SentencePiece model has no pieces");
    if (model_type != kModelTypeBpe)
        fail("SentencePiece model type ", model_type, " is not supported (only BPE, type 2)");
    for (int32_t* id : {&v.bos, &v.eos, &v.unk, &v.pad})
        if (*id < -1 || *id >= int32_t(v.tokens.size())) *id = -1;
    return v;
}

}  // namespace ld
