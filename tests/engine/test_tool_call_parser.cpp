// Reading tool calls from a model's reply: a table of good, plain-text and malformed replies in
// both forms (Llama 3.1 JSON, Llama 3.2 pythonic), the streaming check, and random cuts and byte
// flips of good calls that must never crash and never lose the text.
#include <gtest/gtest.h>

#include <random>

#include "inference/chat/tool_call_parser.h"

namespace {

using Kind = ld::ToolCallParse::Kind;

struct Good {
    const char* reply;
    std::vector<ld::ToolCall> calls;
};

void expect_calls(const char* reply, const std::vector<ld::ToolCall>& calls) {
    SCOPED_TRACE(reply);
    const ld::ToolCallParse r = ld::parse_tool_calls(reply);
    ASSERT_EQ(r.kind, Kind::Calls) << r.error;
    ASSERT_EQ(r.calls.size(), calls.size());
    for (size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(r.calls[i].name, calls[i].name);
        EXPECT_EQ(r.calls[i].arguments_json, calls[i].arguments_json);
    }
}

TEST(ToolCallParser, JsonCalls) {
    const std::vector<Good> good = {
        {R"({"name": "get_weather", "parameters": {"city": "Paris"}})", {{"get_weather", R"({"city": "Paris"})"}}},
        {"\n  {\"name\":\"get_sum\",\"parameters\":{\"a\":1,\"b\":2.5}}\n", {{"get_sum", R"({"a": 1, "b": 2.5})"}}},
        {R"(<|python_tag|>{"name": "f", "parameters": {}})", {{"f", "{}"}}},
        {R"({"name": "f", "arguments": {"x": [1, true, null]}})", {{"f", R"({"x": [1, true, null]})"}}},
        // OpenAI style: the arguments as a JSON string.
        {R"({"name": "f", "arguments": "{\"q\": \"a;b\"}"})", {{"f", R"({"q": "a;b"})"}}},
        {R"({"name": "get_time"})", {{"get_time", "{}"}}},
        {R"({"name": "f", "parameters": null})", {{"f", "{}"}}},
        {R"({"parameters": {"k": "v"}, "name": "f"})", {{"f", R"({"k": "v"})"}}},
        // Llama 3.1 8B sometimes writes the OpenAI "type" first.
        {R"({"type": "function", "name": "f", "parameters": {"k": 1}})", {{"f", R"({"k": 1})"}}},
        // Several calls separated by ';' (a ';' inside a string does not split).
        {R"({"name": "a", "parameters": {"s": "x;y}"}}; {"name": "b", "parameters": {"n": -3}};)",
         {{"a", R"({"s": "x;y}"})"}, {"b", R"({"n": -3})"}}},
        {"{\"name\": \"echo\", \"parameters\": {\"text\": \"\\u00e9\\n\\\"q\\\"\"}}", {{"echo", "{\"text\": \"\u00e9\\n\\\"q\\\"\"}"}}},
    };
    for (const Good& g : good) expect_calls(g.reply, g.calls);
}

TEST(ToolCallParser, PythonicCalls) {
    const std::vector<Good> good = {
        {"[get_sum(a=1, b=2)]", {{"get_sum", R"({"a": 1, "b": 2})"}}},
        {" [get_weather(city='Paris', unit=\"celsius\"), get_time()] \n",
         {{"get_weather", R"({"city": "Paris", "unit": "celsius"})"}, {"get_time", "{}"}}},
        {R"([f(s='it\'s \\ \n\t\x41\u00e9\U0001F600', d="say \"hi\"")])",
         {{"f", "{\"s\": \"it's \\\\ \\n\\tA\u00e9\U0001F600\", \"d\": \"say \\\"hi\\\"\"}"}}},
        {"[f(a=-1.5, b=1e3, c=.5, d=0x1F, e=1_000, f=True, g=False, h=None)]",
         {{"f", R"({"a": -1.5, "b": 1000, "c": 0.5, "d": 31, "e": 1000, "f": true, "g": false, "h": null})"}}},
        {"[f(xs=[1, 'two', [3.25]], t=(1, 2,), d={'k': 'v', 1: None, \"n\": {'x': []}},)]",
         {{"f", R"({"xs": [1, "two", [3.25]], "t": [1, 2], "d": {"k": "v", "1": null, "n": {"x": []}}})"}}},
        {"[get-sum(a=1), fs.read_file(path='''a\nb''')]", {{"get-sum", R"({"a": 1})"}, {"fs.read_file", R"({"path": "a\nb"})"}}},
        {"[f(\n    a = 'x' 'y',\n)]", {{"f", R"({"a": "xy"})"}}},
        {"[f(a=1),]", {{"f", R"({"a": 1})"}}},
    };
    for (const Good& g : good) expect_calls(g.reply, g.calls);
}

TEST(ToolCallParser, PlainText) {
    for (const char* text : {"", "   ", "The weather in Paris is sunny.", "[1, 2, 3] are numbers",
                             "[link](http://x) text", "{\"city\": \"Paris\"}", "{not json at all",
                             "[]", "Call get_sum(a=1)", "[ note ] (aside)", "{\"city\": \"Paris\", \"name\": \"x\"}",
                             "[\"get_sum(a=1)\"]"}) {
        SCOPED_TRACE(text);
        const ld::ToolCallParse r = ld::parse_tool_calls(text);
        EXPECT_EQ(r.kind, Kind::Text) << r.error;
        EXPECT_TRUE(r.calls.empty());
    }
}

TEST(ToolCallParser, MalformedCallsSayWhy) {
    const std::vector<std::pair<const char*, const char*>> bad = {
        {R"({"name": "get_weather", "parameters": {"city": "Par)", "unterminated string"},
        {R"({"name": "f", "parameters": {"a": 1}} and then some text)", "trailing characters"},
        {R"({"name": "f", "parameters": [1, 2]})", "not a JSON object"},
        {R"({"name": "f", "arguments": "not json"})", "string that is not a JSON object"},
        {R"({"name": "", "parameters": {}})", "non-empty string"},
        {R"({"name": 3, "parameters": {}})", "non-empty string"},
        {R"({"name": "f", "city": "Paris"})", "has no \"parameters\""},
        {R"({"name": "a", "parameters": {}}; {"x": 1})", "call 2 has no \"name\""},
        {R"({"name": "a", "parameters": {}};; {"name": "b", "parameters": {}})", "empty call"},
        {"[get_sum(a=1, b=2)", "unterminated call list"},
        {"[get_sum(a=1, b=", "unexpected end"},
        {"[get_sum(1, 2)]", "positional arguments are not supported"},
        {"[get_sum(a=x)]", "variables are not allowed"},
        {"[get_sum(a=1, a=2)]", "argument a given twice"},
        {"[get_sum(a='open)]", "unterminated string"},
        {"[get_sum(a=1) get_time()]", "expected ',' or ']'"},
        {"[get_sum(a=1)] I called it.", "text after the call list"},
        {"[f(a={'k' 1})]", "expected ':' in a dict"},
        {"[f(a=[[1, 2])]", "expected ',' or ']'"},
        {"[f(a=1.2.3)]", "expected ',' or ')'"},
        {"[f(a=12abc)]", "malformed number"},
        {"[f(a=={})]", "expected '='"},
        {"[f(a='\\U00110000')]", "beyond U+10FFFF"},
        {"[f(a={[1]: 2})]", "dict key must be"},
    };
    for (const auto& [reply, why] : bad) {
        SCOPED_TRACE(reply);
        const ld::ToolCallParse r = ld::parse_tool_calls(reply);
        ASSERT_EQ(r.kind, Kind::Malformed);
        EXPECT_TRUE(r.calls.empty());
        EXPECT_NE(r.error.find(why), std::string::npos) << r.error;
        EXPECT_EQ(ld::malformed_tool_call_note(r), "[malformed tool call: " + r.error + "]");
    }
    // Positions are bytes of the reply, counted from its start (spaces and the tag included).
    const ld::ToolCallParse r = ld::parse_tool_calls(R"(  {"name": "a", "parameters": {}}; {"name": "b", "parameters": {x}})");
    EXPECT_NE(r.error.find("at byte 64"), std::string::npos) << r.error;
}

TEST(ToolCallParser, DeepNestingIsMalformedNotACrash) {
    const std::string deep_py = "[f(a=" + std::string(100000, '[') + std::string(100000, ']') + ")]";
    EXPECT_EQ(ld::parse_tool_calls(deep_py).kind, Kind::Malformed);
    const std::string deep_json = "{\"name\": \"f\", \"parameters\": " + std::string(100000, '[') + "}";
    EXPECT_EQ(ld::parse_tool_calls(deep_json).kind, Kind::Malformed);
}

TEST(ToolCallParser, MayBecomeToolCallWhileStreaming) {
    for (const char* yes : {"", " \n", "<|pyth", "<|python_tag|>", "{", " {\n ", "{\"na", "{\"name\": \"get_w",
                            "[", "[ ", "[get", "[get_weather", "[fs.", "[get-", "[get_weather(", "[f (",
                            "[get_weather(city='Par", "<|python_tag|>{\"name\""}) {
        EXPECT_TRUE(ld::may_become_tool_call(yes)) << yes;
    }
    for (const char* no : {"The", " Sure", "[1", "[ 'a'", "[link]", "[get weather", "{1", "{ x", "<|eot", "-",
                           "[f]("}) {
        EXPECT_FALSE(ld::may_become_tool_call(no)) << no;
    }
    // Every prefix of a good call may still become one.
    for (const char* call : {R"({"name": "get_sum", "parameters": {"a": 1}})", "[get_sum(a=1, b='x'), g()]",
                             "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}"}) {
        const std::string s(call);
        for (size_t n = 0; n <= s.size(); ++n) EXPECT_TRUE(ld::may_become_tool_call(s.substr(0, n))) << s.substr(0, n);
    }
}

// Cuts and byte flips of good calls: never a crash, never a call that silently lost its text:
// each result is Text, Calls or Malformed with a reason.
TEST(ToolCallParser, RandomCutsAndFlipsNeverCrash) {
    const std::vector<std::string> seeds = {
        R"({"name": "get_weather", "parameters": {"city": "Z\u00fcrich", "days": [1, 2.5e3, -0.25], "x": {"y": null}}})",
        R"({"name": "a", "arguments": "{\"k\": [true, false]}"}; {"name": "b", "parameters": {}})",
        "[get_weather(city='Paris', unit=\"celsius\"), get_sum(a=1_000, b=0x1f, c=-.5e-3, d=(1, [2], {'k': None}))]",
        "[f(s='''multi\nline''', t=\"esc \\\" \\x41 \\u00e9 \\U0001F600 \\101\", u=True)]",
    };
    std::mt19937 rng(1234);
    size_t calls = 0, malformed = 0, text = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::string s = seeds[size_t(iter) % seeds.size()];
        s = s.substr(0, rng() % (s.size() + 1));
        if (iter % 3 == 0 && !s.empty()) s[rng() % s.size()] = char(rng() % 256);
        const ld::ToolCallParse r = ld::parse_tool_calls(s);
        switch (r.kind) {
            case Kind::Calls:
                ++calls;
                EXPECT_FALSE(r.calls.empty());
                for (const auto& c : r.calls) EXPECT_FALSE(c.name.empty()) << s;
                break;
            case Kind::Malformed:
                ++malformed;
                EXPECT_FALSE(r.error.empty()) << s;
                EXPECT_TRUE(r.calls.empty());
                break;
            case Kind::Text:
                ++text;
                EXPECT_TRUE(r.calls.empty());
                break;
        }
        (void)ld::may_become_tool_call(s);
    }
    // A cut call is nearly always malformed (never plain text once the name is there).
    EXPECT_GT(malformed, 10000u);
    EXPECT_GT(calls, 100u);
    (void)text;
}

}  // namespace
