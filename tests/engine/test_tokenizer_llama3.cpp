// Llama 3 byte-level BPE against the Hugging Face reference encodings, special-token parsing,
// and speed on long input.
#include <chrono>
#include <cstdio>
#include <memory>

#include "inference/core/error.h"
#include "inference/tokenizer/json_lite.h"
#include "inference/tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

constexpr const char* kTokenizerJson = "tokenizers/llama3.1/tokenizer.json";
constexpr const char* kReference = "tokenizers/llama3.1/reference-encodings.json";

class Llama3Tokenizer : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!std::filesystem::exists(ld::test::shared_path(kTokenizerJson))) return;
        const auto bytes = ld::test::read_file(ld::test::shared_path(kTokenizerJson));
        tok_ = ld::Tokenizer::create(
            ld::vocab_from_hf_tokenizer_json(std::string_view(bytes.data(), bytes.size()))).release();
    }
    static void TearDownTestSuite() {
        delete tok_;
        tok_ = nullptr;
    }
    void SetUp() override { LD_REQUIRE_SHARED(kTokenizerJson); }
    static const ld::Tokenizer& tok() { return *tok_; }
    static ld::Tokenizer* tok_;
};
ld::Tokenizer* Llama3Tokenizer::tok_ = nullptr;

TEST_F(Llama3Tokenizer, VocabularyShape) {
    EXPECT_EQ(tok().n_vocab(), 128256);
    EXPECT_EQ(tok().bos(), 128000);
    EXPECT_EQ(tok().find_token("<|eot_id|>"), 128009);
    EXPECT_EQ(tok().vocab().eot, 128009);
    // This tokenizer.json names 128008 "<|reserved_special_token_4|>": no EOM token to find.
    EXPECT_EQ(tok().vocab().eom, -1);
    EXPECT_TRUE(tok().is_end_of_generation(128009));
    EXPECT_TRUE(tok().is_end_of_generation(128001));
    EXPECT_FALSE(tok().is_end_of_generation(9906));
}

TEST_F(Llama3Tokenizer, MatchesEveryReferenceEncoding) {
    LD_REQUIRE_SHARED(kReference);
    const auto bytes = ld::test::read_file(ld::test::shared_path(kReference));
    const auto root = ld::json::parse(std::string_view(bytes.data(), bytes.size()));
    const auto* cases = root.find("cases");
    ASSERT_TRUE(cases && cases->is_array());
    ASSERT_GE(cases->array.size(), 20u);
    for (const auto& c : cases->array) {
        const std::string& text = c.find("text")->as_string("text");
        std::vector<int32_t> want;
        for (const auto& id : c.find("ids")->array) want.push_back(int32_t(id.as_int("id")));
        EXPECT_EQ(tok().encode(text, false), want) << "text: " << text;
        EXPECT_EQ(tok().decode(want), c.find("decoded")->as_string("decoded")) << "text: " << text;
    }
}

TEST_F(Llama3Tokenizer, KnownSplits) {
    EXPECT_EQ(tok().encode("Hello world", false), (std::vector<int32_t>{9906, 1917}));
    EXPECT_TRUE(tok().encode("", false).empty());
    // Contractions are case-insensitive in the Llama 3 pattern: "'S" stays one piece.
    const auto upper = tok().encode("IT'S", false);
    const auto lower = tok().encode("it's", false);
    EXPECT_EQ(tok().decode(upper), "IT'S");
    EXPECT_EQ(lower.size(), 2u);
    EXPECT_EQ(tok().decode({lower[1]}), "'s");
}

TEST_F(Llama3Tokenizer, SpecialTokensOnlyWithParseSpecial) {
    const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>";
    const auto with = tok().encode(text, true);
    EXPECT_EQ(with, (std::vector<int32_t>{128006, 882, 128007, 271, 6151, 128009}));
    const auto without = tok().encode(text, false);
    for (int32_t id : without) EXPECT_LT(id, 128000) << "special token from plain text";
    EXPECT_EQ(tok().decode(without), text);
    EXPECT_EQ(tok().encode("<|eot_id|>", true), (std::vector<int32_t>{128009}));
    EXPECT_NE(tok().encode("<|eot_id|>", false), (std::vector<int32_t>{128009}));
    // Leftmost-longest: a special token glued to text on both sides.
    EXPECT_EQ(tok().encode("a<|eot_id|>b", true),
              (std::vector<int32_t>{64, 128009, 65}));
}

TEST_F(Llama3Tokenizer, ControlTokensRenderOnlyOnRequest) {
    EXPECT_EQ(tok().token_bytes(128009), "");
    EXPECT_EQ(tok().token_bytes(128009, true), "<|eot_id|>");
    EXPECT_EQ(tok().token_bytes(1917), " world");
    EXPECT_EQ(tok().decode({128000, 9906, 1917, 128009}), "Hello world");
    EXPECT_EQ(tok().token_bytes(-1), "");
    EXPECT_EQ(tok().token_bytes(tok().n_vocab()), "");
}

TEST_F(Llama3Tokenizer, InvalidUtf8InputRoundTripsAsBytes) {
    const std::string bad = "ab\xff\xfe" "cd\xe2\x82";
    const auto ids = tok().encode(bad, false);
    std::string raw;
    for (int32_t id : ids) raw += tok().token_bytes(id);
    EXPECT_EQ(raw, bad);
    EXPECT_EQ(tok().decode(ids), "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd\xEF\xBF\xBD");
}

TEST_F(Llama3Tokenizer, LongDocumentsEncodeFast) {
    std::string doc;
    const std::string para =
        "The quick brown fox jumps over the lazy dog. Numbers 1234567 and symbols --==++ "
        "naïve café 中文分词测试 Привет emoji \xF0\x9F\x98\x80 and tabs\tand\nnewlines.\n\n";
    while (doc.size() < (1u << 20)) doc += para;
    // One enormous "word" and one enormous run of symbols: merge cost must not be quadratic.
    const std::string word(200000, 'a');
    const std::string symbols(200000, '=');

    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok().encode(doc, false);
    const auto t1 = std::chrono::steady_clock::now();
    const auto wids = tok().encode(word, false);
    const auto sids = tok().encode(symbols, false);
    const auto t2 = std::chrono::steady_clock::now();
    const double doc_s = std::chrono::duration<double>(t1 - t0).count();
    const double word_s = std::chrono::duration<double>(t2 - t1).count();
    std::printf("encode: %.2f MB/s (%zu bytes -> %zu tokens), long words %.3f s\n",
                doc.size() / doc_s / 1e6, doc.size(), ids.size(), word_s);
    EXPECT_EQ(tok().decode(ids), doc);
    EXPECT_EQ(tok().decode(wids), word);
    EXPECT_EQ(tok().decode(sids), symbols);
    EXPECT_LT(doc_s, 10.0);
    EXPECT_LT(word_s, 10.0);
}

TEST(Llama3TokenizerErrors, RejectsBadVocabularies) {
    ld::Vocab v;
    v.model = "wordpiece";
    v.tokens = {"a"};
    EXPECT_THROW(ld::Tokenizer::create(v), ld::Error);
    v.model = "gpt2";
    v.pre = "some-unknown-pre";
    EXPECT_THROW(ld::Tokenizer::create(v), ld::Error);
    v.pre = "llama-bpe";
    v.bos = 5;  // outside the vocabulary
    EXPECT_THROW(ld::Tokenizer::create(v), ld::Error);
    EXPECT_THROW(ld::vocab_from_hf_tokenizer_json("{\"model\": 3"), ld::Error);
}

}  // namespace
