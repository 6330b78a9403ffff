// Tool calling around the prompt: which format a model gets (GGUF metadata, override), the JSON
// writer's JavaScript number and string text, Python's str()/repr() for pythonic calls, the date
// line, and cutting a tool's result to a token budget with the Llama 3 and SentencePiece
// tokenizers.
#include <memory>

#include "inference/chat/json_writer.h"
#include "inference/chat/python_literal.h"
#include "inference/chat/tool_format.h"
#include "inference/chat/tool_result.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/json_lite.h"
#include "inference/tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

using ld::ToolCallFormat;

TEST(ToolFormat, DetectFromMetadata) {
    struct Row {
        ld::ToolFormatHints hints;
        ToolCallFormat want;
    };
    const std::vector<Row> rows = {
        {{"", "Meta Llama 3.1 8B Instruct", "Meta-Llama-3.1", "8B"}, ToolCallFormat::Json},
        {{"", "Llama 3.2 3B Instruct", "Llama-3.2", "3B"}, ToolCallFormat::Pythonic},
        {{"", "Llama-3.2-1B-Instruct", "", ""}, ToolCallFormat::Pythonic},
        {{"", "", "llama_3.2", "1B"}, ToolCallFormat::Pythonic},
        {{"", "Llama 3.2 11B Vision Instruct", "Llama-3.2", "11B"}, ToolCallFormat::Json},
        {{"", "Llama 3.2 90B Vision", "", ""}, ToolCallFormat::Json},
        {{"", "Llama 3.3 70B Instruct", "Llama-3.3", "70B"}, ToolCallFormat::Json},
        {{"", "", "", ""}, ToolCallFormat::Json},
        // The template decides when it asks for a python list, whatever the name says.
        {{"... please respond with a python list of the calls ...", "Meta Llama 3.1 8B", "", ""},
         ToolCallFormat::Pythonic},
        {{"Respond in the format [func_name1(params_name1=params_value1...)]", "x", "", ""}, ToolCallFormat::Pythonic},
        {{"Given the following functions, please respond with a JSON for a function call", "Llama 3.2 1B", "", ""},
         ToolCallFormat::Pythonic},
    };
    for (const Row& r : rows) EXPECT_EQ(ld::detect_tool_call_format(r.hints), r.want) << r.hints.name << " / " << r.hints.basename;
}

TEST(ToolFormat, DetectFromGgufFile) {
    LD_REQUIRE_SHARED("models/tiny-llama31-random-f16.gguf");
    const auto file = ld::gguf::File::open(ld::test::shared_path("models/tiny-llama31-random-f16.gguf"));
    const ld::ToolFormatHints h = ld::tool_format_hints(*file);
    EXPECT_FALSE(h.chat_template.empty());
    EXPECT_EQ(ld::detect_tool_call_format(h), ToolCallFormat::Json);
}

TEST(ToolFormat, OverrideNames) {
    ToolCallFormat f = ToolCallFormat::Json;
    EXPECT_TRUE(ld::parse_tool_call_format_name("Pythonic", &f));
    EXPECT_EQ(f, ToolCallFormat::Pythonic);
    EXPECT_TRUE(ld::parse_tool_call_format_name("JSON", &f));
    EXPECT_EQ(f, ToolCallFormat::Json);
    EXPECT_TRUE(ld::parse_tool_call_format_name("python", &f));
    EXPECT_EQ(f, ToolCallFormat::Pythonic);
    EXPECT_FALSE(ld::parse_tool_call_format_name("xml", &f));
    EXPECT_STREQ(ld::tool_call_format_name(ToolCallFormat::Pythonic), "pythonic");
    EXPECT_STREQ(ld::tool_call_format_name(ToolCallFormat::Json), "json");
}

TEST(ToolFormat, DateString) {
    setenv("TZ", "UTC", 1);
    tzset();
    EXPECT_EQ(ld::tool_date_string(0), "01 Jan 1970");
    EXPECT_EQ(ld::tool_date_string(1721952000), "26 Jul 2024");
    EXPECT_EQ(ld::tool_date_string(1796558400), "06 Dec 2026");
}

// What JavaScript prints (Number.prototype.toString), as @huggingface/jinja's tojson does.
TEST(JsonWriter, NumbersAsJavaScriptPrintsThem) {
    const std::vector<std::pair<double, const char*>> rows = {
        {0, "0"}, {-0.0, "0"}, {3, "3"}, {3.5, "3.5"}, {-2, "-2"}, {1e21, "1e+21"}, {-1e21, "-1e+21"},
        {1e20, "100000000000000000000"}, {123456789012345680000.0, "123456789012345680000"}, {1e-7, "1e-7"},
        {-0.000001, "-0.000001"}, {0.1 + 0.2, "0.30000000000000004"}, {1.5e300, "1.5e+300"}, {5e-324, "5e-324"},
        {2.5e-7, "2.5e-7"}, {9007199254740993.0, "9007199254740992"}, {123.456, "123.456"}};
    for (const auto& [v, want] : rows) EXPECT_EQ(ld::json::number_text(v), want) << v;
}

TEST(JsonWriter, StringsAndLayout) {
    EXPECT_EQ(ld::json::quote("a\"b\\c\n\r\t\b\f\x01\x1f\x7f é <>&/"), "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f é <>&/\"");
    const ld::json::Value v = ld::json::parse(R"({"a": [1, {"b": []}, {}], "c": "x"})");
    EXPECT_EQ(ld::json::write(v), R"({"a": [1, {"b": []}, {}], "c": "x"})");
    EXPECT_EQ(ld::json::write(v, 2), "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    },\n    {}\n  ],\n  \"c\": \"x\"\n}");
    // Read back, the same document.
    EXPECT_EQ(ld::json::write(ld::json::parse(ld::json::write(v, 4))), ld::json::write(v));
}

TEST(PythonLiteral, StrAndRepr) {
    auto lit = [](const char* text) {
        size_t pos = 0;
        return ld::python::parse_literal(text, pos);
    };
    EXPECT_EQ(ld::python::str(lit("'Paris'")), "Paris");
    EXPECT_EQ(ld::python::repr(lit("'Paris'")), "'Paris'");
    EXPECT_EQ(ld::python::repr(lit("\"it's\"")), "\"it's\"");
    EXPECT_EQ(ld::python::repr(lit("'a\"b'")), "'a\"b'");
    EXPECT_EQ(ld::python::repr(lit("'a\\'b\"c\\n'")), "'a\\'b\"c\\n'");
    EXPECT_EQ(ld::python::str(lit("[1, 'x', None, True, {'k': 2.5}]")), "[1, 'x', None, True, {'k': 2.5}]");
    EXPECT_EQ(ld::python::str(lit("1.5")), "1.5");
    EXPECT_EQ(ld::python::str(lit("1e-5")), "1e-05");
    EXPECT_EQ(ld::python::str(lit("0.0001")), "0.0001");
    EXPECT_EQ(ld::python::str(lit("1.5e300")), "1.5e+300");
    EXPECT_EQ(ld::python::str(lit("1e22")), "1e+22");
    EXPECT_EQ(ld::python::str(lit("-7")), "-7");
    EXPECT_EQ(ld::python::str(lit("False")), "False");
    size_t pos = 0;
    EXPECT_THROW(ld::python::parse_literal("Truex", pos), ld::Error);
}

class ToolResultBudget : public ::testing::Test {
protected:
    static std::unique_ptr<ld::Tokenizer> llama3() {
        const auto bytes = ld::test::read_file(ld::test::shared_path("tokenizers/llama3.1/tokenizer.json"));
        return ld::Tokenizer::create(ld::vocab_from_hf_tokenizer_json(std::string_view(bytes.data(), bytes.size())));
    }
    static std::unique_ptr<ld::Tokenizer> spm() {
        const auto bytes = ld::test::read_file(ld::test::shared_path("tokenizers/llama2/tokenizer.model"));
        return ld::Tokenizer::create(ld::vocab_from_sentencepiece_model(std::string_view(bytes.data(), bytes.size())));
    }

    static void check(const ld::Tokenizer& tok, const std::string& result, size_t budget) {
        SCOPED_TRACE(budget);
        const size_t total = tok.encode(result, false).size();
        const ld::TruncatedToolResult r = ld::truncate_tool_result(tok, result, budget);
        EXPECT_EQ(r.total_tokens, total);
        if (total <= budget) {
            EXPECT_FALSE(r.truncated);
            EXPECT_EQ(r.text, result);
            EXPECT_EQ(r.kept_tokens, total);
            return;
        }
        ASSERT_TRUE(r.truncated);
        const std::string note = "\n[truncated: " + std::to_string(r.kept_tokens) + " of " + std::to_string(total) + " tokens]";
        ASSERT_TRUE(r.text.ends_with(note)) << r.text;
        const std::string kept = r.text.substr(0, r.text.size() - note.size());
        EXPECT_TRUE(result.starts_with(kept));  // the result's own beginning, no character cut
        const size_t note_tokens = tok.encode(note, false).size();
        if (budget >= note_tokens) {
            EXPECT_LE(tok.encode(r.text, false).size(), budget);
            // Close to the budget: at most a few tokens lost at the cut.
            EXPECT_GE(r.kept_tokens + note_tokens + 4, budget);
        } else {
            EXPECT_EQ(r.kept_tokens, 0u);
            EXPECT_EQ(r.text, note);
        }
    }

    static std::string sample() {
        std::string s;
        for (int i = 0; i < 300; ++i)
            s += "Line " + std::to_string(i) + ": Zürich 東京 🚀 <|eot_id|> {\"k\": [1, 2]}\n";
        return s;
    }
};

TEST_F(ToolResultBudget, Llama3Tokenizer) {
    LD_REQUIRE_SHARED("tokenizers/llama3.1/tokenizer.json");
    const auto tok = llama3();
    const std::string s = sample();
    for (size_t budget : {0, 5, 12, 13, 20, 50, 333, 1000, 100000}) check(*tok, s, budget);
    check(*tok, "short", 10);
    check(*tok, "", 0);
    // Cuts that fall inside multi-byte characters keep whole characters.
    std::string cjk;
    for (int i = 0; i < 200; ++i) cjk += "東京🚀é";
    for (size_t budget : {20, 21, 22, 23, 24, 25, 26, 27}) check(*tok, cjk, budget);
}

TEST_F(ToolResultBudget, SentencePieceTokenizer) {
    LD_REQUIRE_SHARED("tokenizers/llama2/tokenizer.model");
    const auto tok = spm();
    const std::string s = sample();
    for (size_t budget : {0, 16, 40, 200, 100000}) check(*tok, s, budget);
}

}  // namespace
