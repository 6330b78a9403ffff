// Tool prompts: for both reference templates (Llama 3.1 JSON tool calls, Llama 3.2 pythonic ones),
// render_tool_chat_template's text equals, byte for byte, what @huggingface/jinja renders from the
// template in ../shared/tokenizers/chat-templates for the same conversation, tools and date
// (tests/tools/render_template.mjs, installed by `npm ci` from tests/tools into build/tools-npm).
// Each case is written once, as the template's context in JSON, and turned into ChatMessages and
// ToolDefinitions here. The token ids keep markers special and content plain.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include <unistd.h>

#include "inference/chat/json_writer.h"
#include "inference/chat/tool_format.h"
#include "inference/core/error.h"
#include "inference/tokenizer/json_lite.h"
#include "inference/tokenizer/tokenizer.h"
#include "test_util.h"

namespace {

constexpr const char* kTokenizerJson = "tokenizers/llama3.1/tokenizer.json";
constexpr const char* kJsonTemplate = "tokenizers/chat-templates/llama3.1-json-tools.jinja";
constexpr const char* kPythonicTemplate = "tokenizers/chat-templates/llama3.2-pythonic-tools.jinja";

std::string npm_dir() {
    const char* env = std::getenv("LLAMADESK_TOOLS_NPM_DIR");
    return env && *env ? env : LLAMADESK_TOOLS_NPM_DIR;
}

// Tools as an MCP client hands them over, in the templates' OpenAI-style wrapping.
constexpr const char* kWeatherTool = R"({"type": "function", "function": {"name": "get_weather",
  "description": "Current weather in a city. Says \"unknown\" for places it can't find.",
  "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g. Zürich"},
  "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}})";
constexpr const char* kSumTool = R"({"type": "function", "function": {"name": "get-sum",
  "description": "Adds two numbers", "parameters": {"type": "object", "properties": {"a": {"type": "number",
  "minimum": -1e21, "maximum": 1.5e300, "multipleOf": 0.25}, "b": {"type": "number", "default": 1e-7}},
  "required": ["a", "b"], "additionalProperties": false, "examples": [[], {}, [1, 2.5, null, true]]}}})";
constexpr const char* kNoParamsTool = R"({"type": "function", "function": {"name": "get_time",
  "description": "", "parameters": {"type": "object", "properties": {}}}})";

struct Case {
    std::string name;
    bool pythonic;
    std::string context;  // the template's variables as JSON (bos_token is added)
};

std::string tools(std::initializer_list<const char*> list) {
    std::string out = "\"tools\": [";
    for (const char* t : list) out += (out.back() == '[' ? "" : ", ") + std::string(t);
    return out + "], ";
}

// The conversations, each rendered with both templates unless it is about one of them.
std::vector<Case> cases() {
    const std::string weather = tools({kWeatherTool});
    const std::string all = tools({kWeatherTool, kSumTool, kNoParamsTool});
    const std::string date = R"("date_string": "06 Dec 2026", )";
    const std::vector<std::pair<std::string, std::string>> both = {
        {"tools_question", weather + date + R"("add_generation_prompt": true,
            "messages": [{"role": "user", "content": "What's the weather in Paris?"}])"},
        {"tools_system_question", all + date + R"("add_generation_prompt": true,
            "messages": [{"role": "system", "content": "  You answer briefly.\n"},
                         {"role": "user", "content": "\n Add 2 and 3.  "}])"},
        {"tools_call_result_answer", weather + date + R"("add_generation_prompt": true,
            "messages": [{"role": "user", "content": "Weather in Paris?"},
              {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                "arguments": {"city": "Paris", "unit": "celsius"}}}]},
              {"role": "ipython", "content": "{\"temp\": 21, \"sky\": \"clear\"}\n<|eot_id|> \u00e9\t\u0001"},
              {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
              {"role": "user", "content": "And in Rome?"}])"},
        {"system_call_tool_role", all + date + R"("add_generation_prompt": false,
            "messages": [{"role": "system", "content": "Be exact."},
              {"role": "user", "content": "Sum 1.5 and 2"},
              {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get-sum",
                "arguments": {"a": 1.5, "b": 2}}}]},
              {"role": "tool", "content": "3.5"},
              {"role": "assistant", "content": "3.5"}])"},
        {"no_tools_system", date + R"("add_generation_prompt": true,
            "messages": [{"role": "system", "content": "You are a pirate."},
                         {"role": "user", "content": "Hello"}])"},
        {"no_tools_no_system", date + R"("add_generation_prompt": true,
            "messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": " Hi! "},
                         {"role": "user", "content": "\u00a0Bye\u3000"}])"},
        {"default_date", weather + R"("add_generation_prompt": true,
            "messages": [{"role": "user", "content": "Weather?"}])"},
        {"tools_in_user_message", weather + date + R"("tools_in_user_message": true, "add_generation_prompt": true,
            "messages": [{"role": "user", "content": "Weather in Oslo?"}])"},
        {"tools_in_system_message", all + date + R"("tools_in_user_message": false, "add_generation_prompt": true,
            "messages": [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Time?"},
              {"role": "assistant", "tool_calls": [{"function": {"name": "get_time", "arguments": {}}}]},
              {"role": "ipython", "content": "12:00"}])"},
    };
    std::vector<Case> out;
    for (const auto& [name, ctx] : both) {
        out.push_back({"json_" + name, false, ctx});
        out.push_back({"pythonic_" + name, true, ctx});
    }
    // Several calls in one turn: the Llama 3.2 form lists them.
    out.push_back({"pythonic_two_calls", true, weather + date + R"("add_generation_prompt": true,
        "messages": [{"role": "user", "content": "Paris and Rome?"},
          {"role": "assistant", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"function": {"name": "get_weather", "arguments": {"city": "Rome", "unit": "celsius"}}}]},
          {"role": "ipython", "content": "sunny"}, {"role": "ipython", "content": "rain"}])"});
    return out;
}

ld::json::Value parse_json(const std::string& text) { return ld::json::parse(text); }

std::string member_json(const ld::json::Value& obj, std::string_view key) {
    const ld::json::Value* v = obj.find(key);
    return v ? ld::json::write(*v) : std::string();
}

// The case's context as the engine's input.
void to_engine(const ld::json::Value& ctx, bool pythonic, std::vector<ld::ChatMessage>* msgs,
               ld::ToolPromptOptions* opt, bool* gen) {
    opt->format = pythonic ? ld::ToolCallFormat::Pythonic : ld::ToolCallFormat::Json;
    if (const auto* d = ctx.find("date_string")) opt->date_string = d->string;
    if (const auto* t = ctx.find("tools_in_user_message")) opt->tools_in_user_message = t->boolean;
    *gen = ctx.find("add_generation_prompt")->boolean;
    if (const auto* tools = ctx.find("tools"))
        for (const auto& t : tools->array) {
            const auto& fn = *t.find("function");
            opt->tools.push_back({fn.find("name")->string, fn.find("description")->string, member_json(fn, "parameters")});
        }
    for (const auto& m : ctx.find("messages")->array) {
        ld::ChatMessage cm{m.find("role")->string, m.find("content") ? m.find("content")->string : ""};
        if (const auto* calls = m.find("tool_calls"))
            for (const auto& c : calls->array) {
                const auto& fn = *c.find("function");
                cm.tool_calls.push_back({fn.find("name")->string, member_json(fn, "arguments")});
            }
        msgs->push_back(std::move(cm));
    }
}

class ToolPrompt : public ::testing::Test {
protected:
    void SetUp() override {
        LD_REQUIRE_SHARED(kTokenizerJson);
        LD_REQUIRE_SHARED(kJsonTemplate);
        LD_REQUIRE_SHARED(kPythonicTemplate);
        if (!tok_) {
            const auto bytes = ld::test::read_file(ld::test::shared_path(kTokenizerJson));
            tok_ = ld::Tokenizer::create(ld::vocab_from_hf_tokenizer_json(std::string_view(bytes.data(), bytes.size())))
                       .release();
        }
    }
    static void TearDownTestSuite() {
        delete tok_;
        tok_ = nullptr;
        delete reference_;
        reference_ = nullptr;
    }

    // Every case rendered by @huggingface/jinja in one node run; empty with `why` set when the npm
    // peer is missing.
    static const ld::json::Value* reference(std::string* why) {
        if (reference_) return reference_;
        const std::string dir = npm_dir();
        if (!std::filesystem::exists(dir + "/node_modules/@huggingface/jinja/package.json")) {
            *why = "@huggingface/jinja is not installed in " + dir +
                   " (scripts/test.sh runs npm ci there from tests/tools; or set LLAMADESK_TOOLS_NPM_DIR)";
            return nullptr;
        }
        std::string request = "{\"cases\": [";
        for (const Case& c : cases()) {
            if (request.back() != '[') request += ", ";
            const std::string tmpl = ld::test::shared_path(c.pythonic ? kPythonicTemplate : kJsonTemplate);
            request += "{\"name\": " + ld::json::quote(c.name) + ", \"template\": " + ld::json::quote(tmpl) +
                       ", \"context\": {\"bos_token\": \"<|begin_of_text|>\", " + c.context + "}}";
        }
        request += "]}";
        const auto tmp = std::filesystem::temp_directory_path() / ("ld_tool_prompt_" + std::to_string(getpid()));
        std::filesystem::create_directories(tmp);
        const std::string req_path = (tmp / "request.json").string(), out_path = (tmp / "out.json").string();
        std::ofstream(req_path, std::ios::binary) << request;
        const std::string cmd = "node '" + std::string(LLAMADESK_SOURCE_DIR) + "/tests/tools/render_template.mjs' '" +
                                dir + "' '" + req_path + "' > '" + out_path + "' 2> '" + (tmp / "err.txt").string() + "'";
        const int rc = std::system(cmd.c_str());
        const auto out = ld::test::read_file(out_path);
        const auto err = ld::test::read_file((tmp / "err.txt").string());
        std::filesystem::remove_all(tmp);
        if (rc != 0) {
            *why = "node render_template.mjs failed (" + std::to_string(rc) + "): " + std::string(err.begin(), err.end());
            return nullptr;
        }
        reference_ = new ld::json::Value(parse_json(std::string(out.begin(), out.end())));
        return reference_;
    }

    static ld::Tokenizer* tok_;
    static ld::json::Value* reference_;
};
ld::Tokenizer* ToolPrompt::tok_ = nullptr;
ld::json::Value* ToolPrompt::reference_ = nullptr;

TEST_F(ToolPrompt, EqualsReferenceTemplatesByteForByte) {
    if (std::system("node --version > /dev/null 2>&1") != 0) LD_SKIP_OR_FAIL_IN_CI("node is not installed (npm peer @huggingface/jinja)");
    std::string why;
    const ld::json::Value* ref = reference(&why);
    if (!ref) {
        if (why.starts_with("@huggingface")) LD_SKIP_OR_FAIL_IN_CI(why);
        FAIL() << why;
    }
    size_t compared = 0;
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        const ld::json::Value* expected = ref->find(c.name);
        ASSERT_NE(expected, nullptr);
        ASSERT_TRUE(expected->is_string()) << "the reference template failed: " << ld::json::write(*expected);
        std::vector<ld::ChatMessage> msgs;
        ld::ToolPromptOptions opt;
        bool gen = false;
        to_engine(parse_json("{" + c.context + "}"), c.pythonic, &msgs, &opt, &gen);
        EXPECT_EQ(ld::render_tool_chat_template(*tok_, msgs, opt, gen), expected->string);
        ++compared;
    }
    EXPECT_EQ(compared, cases().size());
}

// Only markers are special tokens: the same text encoded with special-token parsing gives the
// same ids when no content spells a marker, and a result that spells <|eot_id|> stays text.
TEST_F(ToolPrompt, MarkersSpecialContentPlain) {
    for (const Case& c : cases()) {
        SCOPED_TRACE(c.name);
        std::vector<ld::ChatMessage> msgs;
        ld::ToolPromptOptions opt;
        bool gen = false;
        to_engine(parse_json("{" + c.context + "}"), c.pythonic, &msgs, &opt, &gen);
        const std::string text = ld::render_tool_chat_template(*tok_, msgs, opt, gen);
        const std::vector<int32_t> ids = ld::apply_tool_chat_template(*tok_, msgs, opt, gen);
        const int32_t eot = tok_->find_token("<|eot_id|>");
        ASSERT_TRUE(text.starts_with("<|begin_of_text|>"));
        EXPECT_EQ(ids.front(), tok_->bos());
        if (c.name.ends_with("tools_call_result_answer")) {
            // Six turns end (system, user, call, result, answer, user); the result's own
            // "<|eot_id|>" is text, not a seventh.
            EXPECT_NE(text.find(R"(\n<|eot_id|> é\t\u0001)"), std::string::npos);
            EXPECT_EQ(std::count(ids.begin(), ids.end(), eot), 6);
            continue;
        }
        std::vector<int32_t> expected = {tok_->bos()};
        const auto rest = tok_->encode(std::string_view(text).substr(std::string("<|begin_of_text|>").size()), true);
        expected.insert(expected.end(), rest.begin(), rest.end());
        EXPECT_EQ(ids, expected);
    }
}

TEST_F(ToolPrompt, ToolsInUserMessageNeedAMessage) {
    ld::ToolPromptOptions opt;
    opt.tools = {{"get_time", "", ""}};
    const std::vector<ld::ChatMessage> only_system = {{"system", "Sys"}};
    EXPECT_THROW(ld::render_tool_chat_template(*tok_, only_system, opt, true), ld::Error);
    opt.tools_in_user_message = false;
    EXPECT_NO_THROW(ld::render_tool_chat_template(*tok_, only_system, opt, true));
}

TEST_F(ToolPrompt, BadToolJsonIsAClearError) {
    ld::ToolPromptOptions opt;
    opt.tools = {{"broken", "d", "{\"type\": \"object\","}};
    const std::vector<ld::ChatMessage> msgs = {{"user", "hi"}};
    try {
        ld::render_tool_chat_template(*tok_, msgs, opt, true);
        FAIL() << "no error";
    } catch (const ld::Error& e) {
        EXPECT_NE(std::string(e.what()).find("parameters of tool broken"), std::string::npos) << e.what();
    }
    opt.tools = {{"list", "d", "[1]"}};
    EXPECT_THROW(ld::render_tool_chat_template(*tok_, msgs, opt, true), ld::Error);
    opt.tools.clear();
    std::vector<ld::ChatMessage> call = {{"user", "hi"}, {"assistant", "", {{"f", "not json"}}}};
    EXPECT_THROW(ld::render_tool_chat_template(*tok_, call, opt, true), ld::Error);
}

// The Llama 3.1 template refuses two calls in one turn; the engine writes them as the parser reads
// them, separated by "; ".
TEST_F(ToolPrompt, JsonFormatWritesSeveralCallsWithSemicolons) {
    ld::ToolPromptOptions opt;
    const std::vector<ld::ChatMessage> msgs = {
        {"user", "q"}, {"assistant", "", {{"a", R"({"x": 1})"}, {"b", "{}"}}}};
    const std::string text = ld::render_tool_chat_template(*tok_, msgs, opt, false);
    EXPECT_NE(text.find(R"({"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {}}<|eot_id|>)"),
              std::string::npos)
        << text;
}

}  // namespace
