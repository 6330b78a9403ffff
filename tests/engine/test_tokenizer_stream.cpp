// StreamDecoder: streamed text is always valid UTF-8 and adds up to decode().
#include <algorithm>
#include <map>
#include <memory>

#include "inference/tokenizer/tokenizer.h"
#include "inference/tokenizer/unicode.h"
#include "test_util.h"

namespace {

constexpr const char* kTokenizerJson = "tokenizers/llama3.1/tokenizer.json";
constexpr const char* kSpmModel = "tokenizers/llama2/tokenizer.model";
const std::string kFffd = "\xEF\xBF\xBD";

bool valid_utf8(const std::string& s) { return ld::unicode::repair_utf8(s) == s; }

std::unique_ptr<ld::Tokenizer> llama3() {
    const auto bytes = ld::test::read_file(ld::test::shared_path(kTokenizerJson));
    return ld::Tokenizer::create(ld::vocab_from_hf_tokenizer_json(std::string_view(bytes.data(), bytes.size())));
}

// The token of each single byte (byte-level BPE has one for all 256).
std::map<uint8_t, int32_t> byte_tokens(const ld::Tokenizer& tok) {
    std::map<uint8_t, int32_t> out;
    for (int32_t id = 0; id < tok.n_vocab() && out.size() < 256; ++id) {
        const std::string b = tok.token_bytes(id);
        if (b.size() == 1 && !out.count(uint8_t(b[0]))) out[uint8_t(b[0])] = id;
    }
    return out;
}

class Llama3Stream : public ::testing::Test {
protected:
    void SetUp() override {
        LD_REQUIRE_SHARED(kTokenizerJson);
        if (!tok_) {
            tok_ = llama3().release();
            bytes_ = new std::map<uint8_t, int32_t>(byte_tokens(*tok_));
        }
    }
    static void TearDownTestSuite() {
        delete tok_;
        delete bytes_;
        tok_ = nullptr;
        bytes_ = nullptr;
    }
    int32_t byte(uint8_t b) { return bytes_->at(b); }
    static ld::Tokenizer* tok_;
    static std::map<uint8_t, int32_t>* bytes_;
};
ld::Tokenizer* Llama3Stream::tok_ = nullptr;
std::map<uint8_t, int32_t>* Llama3Stream::bytes_ = nullptr;

TEST_F(Llama3Stream, EmojiSplitAcrossByteTokensIsEmittedWhole) {
    ASSERT_EQ(bytes_->size(), 256u);
    ld::StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(byte(0xF0)), "");
    EXPECT_EQ(dec.push(byte(0x9F)), "");
    EXPECT_EQ(dec.push(byte(0x98)), "");
    EXPECT_EQ(dec.push(byte(0x80)), "\xF0\x9F\x98\x80");
    EXPECT_EQ(dec.flush(), "");
}

TEST_F(Llama3Stream, TextAroundAPartialCharacter) {
    ld::StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(tok_->find_token("Hello")), "Hello");
    EXPECT_EQ(dec.push(byte(0xC3)), "");
    EXPECT_EQ(dec.push(byte(0xA9)), "\xC3\xA9");  // é
    EXPECT_EQ(dec.push(tok_->find_token("\xC4\xA0world")), " world");  // "Ġworld"
}

TEST_F(Llama3Stream, InvalidBytesBecomeReplacementCharacters) {
    ld::StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(byte(0xFF)), kFffd);                 // never valid: emitted at once
    EXPECT_EQ(dec.push(byte(0xF0)), "");
    EXPECT_EQ(dec.push(byte(0x9F)), "");
    EXPECT_EQ(dec.push(byte('a')), kFffd + "a");            // truncated sequence, one U+FFFD
    EXPECT_EQ(dec.push(byte(0xE2)), "");
    EXPECT_EQ(dec.flush(), kFffd);                          // held-back tail, repaired
    EXPECT_EQ(dec.push(byte(0xC0)), kFffd);                 // overlong lead byte
    EXPECT_EQ(dec.push(byte(0xED)), "");
    EXPECT_EQ(dec.push(byte(0xA0)), kFffd + kFffd);         // surrogate: not a prefix
}

TEST_F(Llama3Stream, ControlTokensAreSilent) {
    ld::StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(128009), "");
    EXPECT_EQ(dec.push(-5), "");
    EXPECT_EQ(dec.push(tok_->find_token("Hi")), "Hi");
}

TEST_F(Llama3Stream, StreamAddsUpToDecode) {
    const std::string text =
        "Mixed: naïve 中文 \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD Привет \xF0\x9F\x87\xBA\xF0\x9F\x87\xB8 done";
    const auto ids = tok_->encode(text, false);
    ld::StreamDecoder dec(*tok_);
    std::string streamed;
    for (int32_t id : ids) {
        const std::string piece = dec.push(id);
        EXPECT_TRUE(valid_utf8(piece)) << "token " << id;
        streamed += piece;
    }
    streamed += dec.flush();
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(streamed, tok_->decode(ids));
}

TEST(SpmStream, ByteFallbackAndFirstSpace) {
    LD_REQUIRE_SHARED(kSpmModel);
    const auto bytes = ld::test::read_file(ld::test::shared_path(kSpmModel));
    auto tok = ld::Tokenizer::create(ld::vocab_from_sentencepiece_model(std::string(bytes.begin(), bytes.end())));
    const std::string text = "Hi \xF0\x9F\x98\x80 there";
    const auto ids = tok->encode(text, false);
    ld::StreamDecoder dec(*tok);
    std::vector<std::string> pieces;
    std::string streamed = dec.push(1);  // BOS: silent, and the first text still loses its space
    for (int32_t id : ids) {
        pieces.push_back(dec.push(id));
        streamed += pieces.back();
    }
    streamed += dec.flush();
    EXPECT_EQ(streamed, text);
    EXPECT_EQ(pieces.front(), "Hi");
    // The emoji's four byte tokens give "", "", "", and then the whole character.
    const auto it = std::find(pieces.begin(), pieces.end(), "\xF0\x9F\x98\x80");
    ASSERT_NE(it, pieces.end());
    ASSERT_GE(it - pieces.begin(), 3);
    EXPECT_EQ(*(it - 1), "");
    EXPECT_EQ(*(it - 2), "");
    EXPECT_EQ(*(it - 3), "");
}

}  // namespace
