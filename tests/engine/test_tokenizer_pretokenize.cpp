// The hand-written regex pre-tokenizers and the Unicode tables behind them.
#include <string>
#include <vector>

#include "inference/tokenizer/pretokenize.h"
#include "inference/tokenizer/unicode.h"
#include "test_util.h"

namespace {

using Pieces = std::vector<std::string>;

Pieces split(ld::PreTokenizer kind, std::string_view text) {
    Pieces out;
    for (auto p : ld::pretokenize(kind, text)) out.emplace_back(p);
    return out;
}

TEST(Pretokenize, Llama3Pattern) {
    using K = ld::PreTokenizer;
    EXPECT_EQ(split(K::Llama3, "Hello world"), (Pieces{"Hello", " world"}));
    EXPECT_EQ(split(K::Llama3, "hello   world\n\nnew"), (Pieces{"hello", "  ", " world", "\n\n", "new"}));
    EXPECT_EQ(split(K::Llama3, "1234567"), (Pieces{"123", "456", "7"}));
    EXPECT_EQ(split(K::Llama3, "I'm HE'LL they'RE"), (Pieces{"I", "'m", " HE", "'LL", " they", "'RE"}));
    EXPECT_EQ(split(K::Llama3, "x  \n  y"), (Pieces{"x", "  \n", " ", " y"}));
    EXPECT_EQ(split(K::Llama3, "a.\n\nb"), (Pieces{"a", ".\n\n", "b"}));
    EXPECT_EQ(split(K::Llama3, "   trailing   "), (Pieces{"  ", " trailing", "   "}));
    EXPECT_EQ(split(K::Llama3, "(x)"), (Pieces{"(x", ")"}));
    EXPECT_EQ(split(K::Llama3, " ---"), (Pieces{" ---"}));
    // A non-breaking space is \s but also "[^\r\n\p{L}\p{N}]", so it prefixes the word.
    EXPECT_EQ(split(K::Llama3, "a\xC2\xA0non"), (Pieces{"a", "\xC2\xA0non"}));
    EXPECT_EQ(split(K::Llama3, "\xE4\xB8\xAD\xE6\x96\x87\xEF\xBC\x81"),
              (Pieces{"\xE4\xB8\xAD\xE6\x96\x87", "\xEF\xBC\x81"}));
    EXPECT_TRUE(split(K::Llama3, "").empty());
}

TEST(Pretokenize, Qwen2AndGpt2Patterns) {
    using K = ld::PreTokenizer;
    EXPECT_EQ(split(K::Qwen2, "x 123"), (Pieces{"x", " ", "1", "2", "3"}));
    EXPECT_EQ(split(K::Gpt2, "Hello world 123 ab's  !!"),
              (Pieces{"Hello", " world", " 123", " ab", "'s", " ", " !!"}));
    EXPECT_EQ(split(K::Gpt2, "IT'S"), (Pieces{"IT", "'", "S"}));  // GPT-2 is case-sensitive
}

TEST(Pretokenize, PiecesAlwaysConcatenateBack) {
    const std::string text = "Mixed \xF0\x9F\x98\x80 text\r\n\t 42 \xff\xfe broken \xe2\x82 end  ";
    for (auto kind : {ld::PreTokenizer::Llama3, ld::PreTokenizer::Qwen2, ld::PreTokenizer::Gpt2}) {
        std::string joined;
        for (auto p : ld::pretokenize(kind, text)) joined += p;
        EXPECT_EQ(joined, text);
    }
}

TEST(Pretokenize, NamesMapToPatterns) {
    ld::PreTokenizer k;
    ASSERT_TRUE(ld::pre_tokenizer_from_name("llama-bpe", &k));
    EXPECT_EQ(k, ld::PreTokenizer::Llama3);
    ASSERT_TRUE(ld::pre_tokenizer_from_name("qwen2", &k));
    EXPECT_EQ(k, ld::PreTokenizer::Qwen2);
    EXPECT_FALSE(ld::pre_tokenizer_from_name("no-such-pre", &k));
}

TEST(Unicode, Categories) {
    using namespace ld::unicode;
    EXPECT_TRUE(is_letter('a'));
    EXPECT_TRUE(is_letter(0x00E9));   // é
    EXPECT_TRUE(is_letter(0x4E2D));   // 中
    EXPECT_TRUE(is_letter(0x0928));   // न
    EXPECT_FALSE(is_letter(0x093E));  // Devanagari vowel sign: a mark, not a letter
    EXPECT_TRUE(is_number('7'));
    EXPECT_TRUE(is_number(0x0663));   // Arabic-Indic three
    EXPECT_TRUE(is_number(0x00BD));   // ½ (No)
    EXPECT_TRUE(is_whitespace(0x00A0));
    EXPECT_TRUE(is_whitespace(0x3000));
    EXPECT_TRUE(is_whitespace(0x0085));
    EXPECT_FALSE(is_whitespace(0x200B));  // zero width space is not White_Space
    EXPECT_EQ(codepoint_flags(0x1F600), 0);  // emoji
    EXPECT_EQ(codepoint_flags(0x10FFFF), 0);
}

TEST(Unicode, Utf8RepairFollowsMaximalSubparts) {
    using ld::unicode::repair_utf8;
    EXPECT_EQ(repair_utf8("ok \xC3\xA9"), "ok \xC3\xA9");
    EXPECT_EQ(repair_utf8("\xE2\x82"), "\xEF\xBF\xBD");             // one truncated sequence
    EXPECT_EQ(repair_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: byte by byte
    EXPECT_EQ(repair_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_EQ(repair_utf8("\xF0\x9F\x98x"), "\xEF\xBF\xBDx");
}

}  // namespace
