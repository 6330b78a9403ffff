// Vocabularies read from real GGUF files: the Llama 3.1 BPE vocabulary of the tiny random
// model and the SentencePiece vocabulary of stories260K.
#include <map>
#include <sstream>
#include <memory>

#include "inference/core/error.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/json_lite.h"
#include "inference/tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

constexpr const char* kLlama31 = "models/tiny-llama31-random-f16.gguf";
constexpr const char* kStories = "models/stories260K.gguf";
constexpr const char* kReference = "tokenizers/llama3.1/reference-encodings.json";
constexpr const char* kStoriesReference = "models/stories260K.reference.txt";

ld::Vocab vocab_of(const char* rel) {
    auto file = ld::gguf::File::open(ld::test::shared_path(rel));
    return ld::load_vocab(*file);
}

TEST(GgufVocab, Llama31Metadata) {
    LD_REQUIRE_SHARED(kLlama31);
    const ld::Vocab v = vocab_of(kLlama31);
    EXPECT_EQ(v.model, "gpt2");
    EXPECT_EQ(v.pre, "llama-bpe");
    ASSERT_EQ(v.tokens.size(), 128256u);
    ASSERT_EQ(v.types.size(), 128256u);
    EXPECT_FALSE(v.merges.empty());
    EXPECT_EQ(v.bos, 128000);
    EXPECT_EQ(v.eot, 128009);
    EXPECT_EQ(v.tokens[128009], "<|eot_id|>");
    EXPECT_EQ(v.types[128009], int32_t(ld::TokenType::Control));
    if (v.tokens[128008] == "<|eom_id|>") {
        EXPECT_EQ(v.eom, 128008);
    }
    EXPECT_FALSE(v.add_space_prefix);
    EXPECT_NE(v.chat_template.find("<|start_header_id|>"), std::string::npos);
}

TEST(GgufVocab, Llama31MatchesReferenceEncodings) {
    LD_REQUIRE_SHARED(kLlama31);
    LD_REQUIRE_SHARED(kReference);
    auto tok = ld::Tokenizer::create(vocab_of(kLlama31));
    const auto bytes = ld::test::read_file(ld::test::shared_path(kReference));
    const auto root = ld::json::parse(std::string_view(bytes.data(), bytes.size()));
    size_t checked = 0;
    for (const auto& c : root.find("cases")->array) {
        const std::string& text = c.find("text")->as_string("text");
        std::vector<int32_t> want;
        for (const auto& id : c.find("ids")->array) want.push_back(int32_t(id.as_int("id")));
        EXPECT_EQ(tok->encode(text, false), want) << "text: " << text;
        EXPECT_EQ(tok->decode(want), c.find("decoded")->as_string("decoded"));
        ++checked;
    }
    EXPECT_GE(checked, 20u);
    EXPECT_EQ(tok->encode("<|eot_id|>", true), (std::vector<int32_t>{128009}));
    for (int32_t id : tok->encode("<|eot_id|>", false)) EXPECT_NE(id, 128009);
    EXPECT_TRUE(tok->is_end_of_generation(128009));
}

// llama2.c's encoder, an independent oracle for SentencePiece-style BPE: the dummy prefix,
// one piece per character (bytes + 3 when missing), then repeatedly the adjacent pair with
// the highest score whose concatenation is a piece.
std::vector<int32_t> llama2c_encode(const ld::Vocab& v, const std::string& text) {
    std::map<std::string, int32_t> ids;
    for (size_t i = 0; i < v.tokens.size(); ++i) ids.emplace(v.tokens[i], int32_t(i));
    std::string s = " " + text;
    std::string escaped;
    for (char c : s) escaped += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    std::vector<int32_t> toks;
    for (size_t i = 0; i < escaped.size();) {
        size_t len = 1;
        const uint8_t c = uint8_t(escaped[i]);
        if (c >= 0xF0) len = 4; else if (c >= 0xE0) len = 3; else if (c >= 0xC0) len = 2;
        auto it = ids.find(escaped.substr(i, len));
        if (it != ids.end()) toks.push_back(it->second);
        else for (size_t k = 0; k < len; ++k) toks.push_back(int32_t(uint8_t(escaped[i + k])) + 3);
        i += len;
    }
    while (true) {
        float best = -1e30f;
        int best_i = -1;
        int32_t best_id = -1;
        for (size_t i = 0; i + 1 < toks.size(); ++i) {
            auto it = ids.find(v.tokens[toks[i]] + v.tokens[toks[i + 1]]);
            if (it != ids.end() && v.scores[it->second] > best) {
                best = v.scores[it->second];
                best_i = int(i);
                best_id = it->second;
            }
        }
        if (best_i < 0) break;
        toks[best_i] = best_id;
        toks.erase(toks.begin() + best_i + 1);
    }
    return toks;
}

TEST(GgufVocab, Stories260KSentencePiece) {
    LD_REQUIRE_SHARED(kStories);
    LD_REQUIRE_SHARED(kStoriesReference);
    const ld::Vocab v = vocab_of(kStories);
    EXPECT_EQ(v.model, "llama");
    ASSERT_EQ(v.tokens.size(), 512u);
    EXPECT_EQ(v.bos, 1);
    EXPECT_EQ(v.eos, 2);
    EXPECT_TRUE(v.add_bos);
    EXPECT_TRUE(v.add_space_prefix);
    auto tok = ld::Tokenizer::create(v);

    const auto prompt = tok->encode("Once upon a time", false);
    EXPECT_EQ(prompt, llama2c_encode(v, "Once upon a time"));
    EXPECT_EQ(tok->decode(prompt), "Once upon a time");

    // The reference story (after its '#' header lines) tokenizes like llama2.c and back.
    const auto bytes = ld::test::read_file(ld::test::shared_path(kStoriesReference));
    std::string story, line;
    std::istringstream in(std::string(bytes.begin(), bytes.end()));
    while (std::getline(in, line))
        if (!line.starts_with("#")) story += line + "\n";
    ASSERT_TRUE(story.starts_with("Once upon a time"));
    story.pop_back();
    const auto ids = tok->encode(story, false);
    EXPECT_EQ(ids, llama2c_encode(v, story));
    EXPECT_EQ(tok->decode(ids), story);
    std::vector<int32_t> with_bos = {1};
    with_bos.insert(with_bos.end(), ids.begin(), ids.end());
    EXPECT_EQ(tok->decode(with_bos), story);
}

TEST(GgufVocab, MissingTokenizerIsAClearError) {
    // A GGUF with no tokenizer keys at all.
    std::vector<uint8_t> buf = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    buf.resize(24, 0);  // zero tensors, zero metadata
    auto file = ld::gguf::File::parse(buf.data(), buf.size());
    try {
        ld::load_vocab(*file);
        FAIL() << "expected ld::Error";
    } catch (const ld::Error& e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer.ggml.model"), std::string::npos) << e.what();
    }
}

}  // namespace
