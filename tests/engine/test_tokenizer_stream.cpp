// StreamDecoder: streamed text is always valid UTF-8 and adds up to decode(). SentencePiece's
// dummy-prefix space goes only at a sequence start (after BOS): a reply streamed after a prompt
// keeps its leading space, so prompt text + reply is the whole text.
#include <algorithm>
#include <map>
#include <memory>

#include "inference/tokenizer/tokenizer.h"
#include "inference/tokenizer/unicode.h"
#include "model_fixture.h"
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

const char* kStoriesModel = "models/stories260K.gguf";
const char* kTiny31Model = "models/tiny-llama31-random-f16.gguf";

std::string stream_all(ld::StreamDecoder& dec, const std::vector<int32_t>& ids) {
    std::string out;
    for (int32_t id : ids) out += dec.push(id);
    return out + dec.flush();
}

// A generated continuation: decoding prompt + reply as one sequence gives the prompt's text
// followed by exactly the streamed reply.
void expect_reply_continues_prompt(ld::test::LoadedModel& m, const std::vector<int32_t>& prompt,
                                   const ld::GenerateResult& r) {
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), r.tokens.begin(), r.tokens.end());
    EXPECT_EQ(m.tok->decode(prompt) + r.text, m.tok->decode(all));
}

TEST(SpmStream, ContinuationKeepsItsLeadingSpace) {
    LD_REQUIRE_SHARED(kStoriesModel);
    ld::test::LoadedModel m = ld::test::load(ld::test::shared_path(kStoriesModel));
    const ld::Tokenizer& tok = *m.tok;
    ASSERT_TRUE(tok.strips_leading_space());
    const std::vector<int32_t> ids = tok.encode("The cat and a boy", false);
    const std::vector<int32_t> cat = tok.encode("The cat", false);
    ASSERT_LT(cat.size(), ids.size());
    ASSERT_TRUE(std::equal(cat.begin(), cat.end(), ids.begin()));
    const std::vector<int32_t> rest(ids.begin() + long(cat.size()), ids.end());  // after "The cat"
    ld::StreamDecoder after_cat(tok, cat.back());
    EXPECT_EQ(stream_all(after_cat, rest), " and a boy");
    // The start of a sequence still drops the dummy prefix: after BOS, from a fresh decoder,
    // and after a BOS pushed in the middle of a stream.
    ld::StreamDecoder after_bos(tok, tok.bos());
    EXPECT_EQ(stream_all(after_bos, ids), "The cat and a boy");
    ld::StreamDecoder fresh(tok);
    EXPECT_EQ(stream_all(fresh, ids), "The cat and a boy");
    ld::StreamDecoder restarted(tok, cat.back());
    std::string text = stream_all(restarted, rest);
    EXPECT_EQ(restarted.push(tok.bos()), "");
    text += stream_all(restarted, ids);
    EXPECT_EQ(text, " and a boyThe cat and a boy");
}

TEST(SpmStream, GreedyReplyAfterThePromptStartsWithItsSpace) {
    LD_REQUIRE_SHARED(kStoriesModel);
    ld::test::LoadedModel m = ld::test::load(ld::test::shared_path(kStoriesModel));
    ld::Session s(*m.model, *m.backend, *m.tok);
    ld::GenerateOptions o;
    o.max_tokens = 10;
    o.sampling.temperature = 0;
    const auto prompt = ld::tokenize_prompt(*m.tok, "The cat");
    std::string streamed;
    const ld::GenerateResult r = s.generate(prompt, o, [&](std::string_view t) { streamed += t; return true; });
    EXPECT_EQ(streamed, r.text);
    EXPECT_EQ(r.text.rfind(" and a boy", 0), 0u) << r.text;  // llama2.c: "The cat and a boy"
    expect_reply_continues_prompt(m, prompt, r);

    // From BOS alone the reply is the sequence's first text: no leading space.
    s.clear();
    const ld::GenerateResult first = s.generate({m.tok->bos()}, o, nullptr);
    ASSERT_FALSE(first.text.empty());
    EXPECT_NE(first.text[0], ' ') << first.text;
    EXPECT_EQ(first.text, m.tok->decode(first.tokens));
    ASSERT_FALSE(first.tokens.empty());
    EXPECT_EQ(m.tok->token_bytes(first.tokens[0])[0], ' ') << "the first piece had a dummy prefix to drop";
}

TEST(SpmStream, ReferenceTextIsPromptPlusGreedyReply) {
    LD_REQUIRE_SHARED(kStoriesModel);
    ld::test::LoadedModel m = ld::test::load(ld::test::shared_path(kStoriesModel));
    const std::string reference = ld::test::stories_reference();
    const std::string opening = "Once upon a time";
    ASSERT_EQ(reference.rfind(opening, 0), 0u);
    const auto prompt = ld::tokenize_prompt(*m.tok, opening);
    // llama2.c ran 80 positions: BOS, the prompt, then its greedy tokens.
    const std::string text = opening + ld::test::greedy(m, prompt, 81 - int(prompt.size()));
    EXPECT_EQ(text, reference);
}

TEST(Llama3GgufStream, KeepsSpacesWithOrWithoutSequenceStart) {
    LD_REQUIRE_SHARED(kTiny31Model);
    ld::test::LoadedModel m = ld::test::load(ld::test::shared_path(kTiny31Model));
    const ld::Tokenizer& tok = *m.tok;
    EXPECT_FALSE(tok.strips_leading_space());
    const std::vector<int32_t> ids = tok.encode(" The cat and a boy", false);
    ASSERT_EQ(ids.size(), 5u);  // " The", " cat", " and", " a", " boy"
    ld::StreamDecoder after_bos(tok, tok.bos());
    EXPECT_EQ(stream_all(after_bos, ids), " The cat and a boy");  // byte-level BPE has no dummy prefix
    ld::StreamDecoder fresh(tok);
    EXPECT_EQ(stream_all(fresh, ids), " The cat and a boy");
    ld::StreamDecoder after_cat(tok, ids[1]);
    EXPECT_EQ(stream_all(after_cat, std::vector<int32_t>(ids.begin() + 2, ids.end())), " and a boy");

    // A generated reply continues the prompt's text exactly.
    ld::Session s(*m.model, *m.backend, tok);
    ld::GenerateOptions o;
    o.max_tokens = 12;
    o.sampling.temperature = 0;
    const auto prompt = ld::tokenize_prompt(tok, "The cat");
    const ld::GenerateResult r = s.generate(prompt, o, nullptr);
    ASSERT_EQ(r.tokens.size(), 12u);
    expect_reply_continues_prompt(m, prompt, r);
}

}  // namespace
