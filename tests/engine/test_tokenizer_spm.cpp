// SentencePiece vocabularies: the ModelProto built from a vocabulary must make libsentencepiece
// tokenize exactly as the real Llama 2 tokenizer.model does.
#include <sentencepiece_processor.h>

#include <memory>

#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

constexpr const char* kModel = "tokenizers/llama2/tokenizer.model";

const std::vector<std::string>& texts() {
    static const std::vector<std::string> t = {
        "Hello world",
        "Once upon a time",
        " leading space",
        "trailing spaces   ",
        "many     inner      spaces",
        "tabs\tand\nnewlines\n\n\nand\r\ncrlf",
        "digits 0123456789 3.14159 1,000,000",
        "naïve café résumé façade coöperate",
        "中文分词测试：你好，世界！",
        "Привет, как дела?",
        "नमस्ते दुनिया",
        "emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD and \xF0\x9F\x87\xBA\xF0\x9F\x87\xB8",
        "rare \xF0\x9D\x95\xB3\xF0\x9D\x96\x8A\xF0\x9D\x96\x91 chars \xE2\x80\x8B\xEF\xBB\xBF",
        "def f(x):\n    return x**2  # square\n",
        "<s> and </s> and <unk> written as text",
        "[INST] <<SYS>>\nsys\n<</SYS>>\n\nhi [/INST]",
        "",
        " ",
        "     ",
        "a",
    };
    return t;
}

class Llama2Spm : public ::testing::Test {
protected:
    void SetUp() override {
        LD_REQUIRE_SHARED(kModel);
        const auto bytes = ld::test::read_file(ld::test::shared_path(kModel));
        model_.assign(bytes.begin(), bytes.end());
        ASSERT_TRUE(oracle_.LoadFromSerializedProto(model_).ok());
        vocab_ = ld::vocab_from_sentencepiece_model(model_);
        tok_ = ld::Tokenizer::create(vocab_);
    }
    std::string model_;
    sentencepiece::SentencePieceProcessor oracle_;
    ld::Vocab vocab_;
    std::unique_ptr<ld::Tokenizer> tok_;
};

TEST_F(Llama2Spm, ParsesTheModelFile) {
    EXPECT_EQ(vocab_.model, "llama");
    ASSERT_EQ(vocab_.tokens.size(), 32000u);
    EXPECT_EQ(vocab_.tokens[1], "<s>");
    EXPECT_EQ(vocab_.types[3], int32_t(ld::TokenType::Byte));
    EXPECT_EQ(vocab_.unk, 0);
    EXPECT_EQ(vocab_.bos, 1);
    EXPECT_EQ(vocab_.eos, 2);
    EXPECT_EQ(vocab_.pad, -1);
    EXPECT_TRUE(vocab_.add_space_prefix);
    for (int i = 0; i < 32000; i += 997) EXPECT_FLOAT_EQ(vocab_.scores[i], oracle_.GetScore(i)) << i;
}

TEST_F(Llama2Spm, EncodesLikeTheOriginalModel) {
    for (const std::string& text : texts()) {
        std::vector<int> want;
        ASSERT_TRUE(oracle_.Encode(text, &want).ok());
        const auto got = tok_->encode(text, false);
        EXPECT_EQ(got, std::vector<int32_t>(want.begin(), want.end())) << "text: " << text;
        std::string oracle_text;
        ASSERT_TRUE(oracle_.Decode(want, &oracle_text).ok());
        EXPECT_EQ(tok_->decode(got), oracle_text) << "text: " << text;
    }
}

TEST_F(Llama2Spm, KnownIdsAndByteFallback) {
    EXPECT_EQ(tok_->encode("Hello world", false), (std::vector<int32_t>{15043, 3186}));
    // "😀" is not a piece: byte fallback gives its four UTF-8 bytes (<0xF0> = id 243, ...).
    const auto ids = tok_->encode("\xF0\x9F\x98\x80", false);
    ASSERT_EQ(ids.size(), 5u);  // "▁" then four byte tokens
    EXPECT_EQ(ids[1], 3 + 0xF0);
    EXPECT_EQ(tok_->token_bytes(ids[1]), "\xF0");
    EXPECT_EQ(tok_->decode(ids), "\xF0\x9F\x98\x80");
}

TEST_F(Llama2Spm, SpecialTokensAndDecoding) {
    EXPECT_EQ(tok_->encode("<s>", true), (std::vector<int32_t>{1}));
    const auto plain = tok_->encode("<s>", false);
    EXPECT_NE(plain, (std::vector<int32_t>{1}));
    EXPECT_EQ(tok_->decode(plain), "<s>");
    // Each text after a special token gets the dummy prefix, as in "<s>[INST]" -> "▁[".
    const auto ids = tok_->encode("<s>[INST] hi [/INST]", true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(ids[1], 518);  // "▁["
    // Decoding: control tokens vanish and only the first piece's space is dropped.
    std::vector<int> with_bos = {1, 15043, 3186, 2};
    std::string oracle_text;
    ASSERT_TRUE(oracle_.Decode(with_bos, &oracle_text).ok());
    EXPECT_EQ(tok_->decode({1, 15043, 3186, 2}), oracle_text);
    EXPECT_EQ(tok_->token_bytes(1), "");
    EXPECT_EQ(tok_->token_bytes(1, true), "<s>");
    EXPECT_EQ(tok_->token_bytes(3186), " world");
    EXPECT_EQ(tok_->token_bytes(0), " \xE2\x81\x87 ");
}

TEST_F(Llama2Spm, ProtoRoundTripsThroughTheParser) {
    const std::string proto = ld::sentencepiece_model_proto(vocab_);
    const ld::Vocab back = ld::vocab_from_sentencepiece_model(proto);
    EXPECT_EQ(back.tokens, vocab_.tokens);
    EXPECT_EQ(back.scores, vocab_.scores);
    EXPECT_EQ(back.types, vocab_.types);
    EXPECT_EQ(back.unk, vocab_.unk);
    EXPECT_EQ(back.bos, vocab_.bos);
    EXPECT_EQ(back.eos, vocab_.eos);
    EXPECT_EQ(back.pad, vocab_.pad);
}

TEST(SpmErrors, RejectsBrokenInput) {
    EXPECT_THROW(ld::vocab_from_sentencepiece_model(std::string("\x0a\xff\xff\xff\xff\x0f", 6)), ld::Error);
    EXPECT_THROW(ld::vocab_from_sentencepiece_model(""), ld::Error);
    ld::Vocab v;
    v.model = "llama";
    v.tokens = {"a", "b"};
    v.types = {1, 1};
    v.bos = v.eos = v.unk = -1;
    EXPECT_THROW(ld::Tokenizer::create(v), ld::Error);  // no unknown token
    v.types = {1};
    EXPECT_THROW(ld::Tokenizer::create(v), ld::Error);  // types do not match tokens
}

}  // namespace
