// Tool calling in the API server's request and response formats (no HTTP, no engine): an OpenAI
// request with tools and tool turns renders to exactly the prompt apply_tool_chat_template gives
// for the same conversation; a reply's text becomes OpenAI's tool_calls (non-streaming and as
// stream deltas); what the Llama 3 formats cannot do is refused with a 400 naming the parameter.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/cli/server/api_format.h"
#include "app/cli/server/api_request.h"
#include "app/cli/server/api_tools.h"
#include "engine/test_util.h"
#include "inference/tokenizer/tokenizer.h"

using namespace ld;
using namespace ld::server;
using nlohmann::json;

namespace {

ApiRequest parse_ok(const json& body) {
    ApiRequest r;
    ApiError e;
    EXPECT_TRUE(parse_api_request(Endpoint::Chat, body.dump(), &r, &e)) << e.message;
    return r;
}

ApiError parse_error(const json& body) {
    ApiRequest r;
    ApiError e;
    EXPECT_FALSE(parse_api_request(Endpoint::Chat, body.dump(), &r, &e));
    return e;
}

const json kSumSchema = {{"type", "object"},
                         {"properties", {{"a", {{"type", "number"}}}, {"b", {{"type", "number"}}}}},
                         {"required", {"a", "b"}}};

json request_with_tools() {
    return {{"model", "m"},
            {"tools", {{{"type", "function"},
                        {"function", {{"name", "get_sum"}, {"description", "Adds two numbers"}, {"parameters", kSumSchema}}}}}},
            {"messages",
             {{{"role", "system"}, {"content", "Be brief."}},
              {{"role", "user"}, {"content", "What is 2 + 3?"}},
              {{"role", "assistant"},
               {"content", nullptr},
               {"tool_calls", {{{"id", "call_1"}, {"type", "function"},
                                {"function", {{"name", "get_sum"}, {"arguments", "{\"a\": 2, \"b\": 3}"}}}}}}},
              {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "5"}}}}};
}

}  // namespace

TEST(ApiTools, RequestParsed) {
    const ApiRequest r = parse_ok(request_with_tools());
    ASSERT_EQ(r.tools.size(), 1u);
    EXPECT_EQ(r.tools[0].name, "get_sum");
    EXPECT_EQ(r.tools[0].description, "Adds two numbers");
    EXPECT_EQ(json::parse(r.tools[0].parameters), kSumSchema);
    EXPECT_EQ(r.tool_choice, ToolChoice::Auto);
    ASSERT_EQ(r.messages.size(), 4u);
    ASSERT_EQ(r.messages[2].tool_calls.size(), 1u);
    EXPECT_EQ(r.messages[2].tool_calls[0].id, "call_1");
    EXPECT_EQ(json::parse(r.messages[2].tool_calls[0].arguments), json({{"a", 2}, {"b", 3}}));
    EXPECT_EQ(r.messages[3].role, "tool");
    EXPECT_EQ(r.messages[3].tool_call_id, "call_1");
    EXPECT_TRUE(uses_tools(r));
    EXPECT_TRUE(offers_tools(r));
    // Arguments given as an object (some clients do) read the same.
    json body = request_with_tools();
    body["messages"][2]["tool_calls"][0]["function"]["arguments"] = {{"a", 2}, {"b", 3}};
    EXPECT_EQ(parse_ok(body).messages[2].tool_calls[0].arguments, r.messages[2].tool_calls[0].arguments);
}

TEST(ApiTools, PromptIsTheFormattersForBothFormats) {
    LD_REQUIRE_SHARED("tokenizers/llama3.1/tokenizer.json");
    const auto bytes = ld::test::read_file(ld::test::shared_path("tokenizers/llama3.1/tokenizer.json"));
    const auto tok = Tokenizer::create(vocab_from_hf_tokenizer_json(std::string_view(bytes.data(), bytes.size())));
    const ApiRequest r = parse_ok(request_with_tools());
    // The same conversation written by hand for the formatter.
    const std::vector<ChatMessage> want_msgs = {
        {"system", "Be brief."},
        {"user", "What is 2 + 3?"},
        {"assistant", "", {ToolCall{"get_sum", R"({"a":2,"b":3})"}}},
        {"ipython", "5"},
    };
    for (ToolCallFormat f : {ToolCallFormat::Json, ToolCallFormat::Pythonic}) {
        ToolPromptOptions want;
        want.format = f;
        want.date_string = "26 Jul 2024";
        want.tools = {{"get_sum", "Adds two numbers", kSumSchema.dump()}};
        const ToolPromptOptions got = tool_prompt_options(r, f, "26 Jul 2024");
        EXPECT_EQ(apply_tool_chat_template(*tok, chat_messages(r), got, true),
                  apply_tool_chat_template(*tok, want_msgs, want, true));
        const std::string text = render_tool_chat_template(*tok, chat_messages(r), got, true);
        EXPECT_EQ(text, render_tool_chat_template(*tok, want_msgs, want, true));
        EXPECT_NE(text.find("<|start_header_id|>ipython<|end_header_id|>\n\n{\"output\": \"5\"}<|eot_id|>"), std::string::npos);
        EXPECT_NE(text.find("\"name\": \"get_sum\""), std::string::npos);
    }
    // tool_choice "none": no tool list, the history's tool turns still rendered.
    json body = request_with_tools();
    body["tool_choice"] = "none";
    const ApiRequest none = parse_ok(body);
    EXPECT_FALSE(offers_tools(none));
    EXPECT_TRUE(uses_tools(none));
    EXPECT_TRUE(tool_prompt_options(none, ToolCallFormat::Json).tools.empty());
    const std::string text = render_tool_chat_template(*tok, chat_messages(none), tool_prompt_options(none, ToolCallFormat::Json, "26 Jul 2024"), true);
    EXPECT_EQ(text.find("Environment: ipython"), std::string::npos);
    EXPECT_NE(text.find("{\"output\": \"5\"}"), std::string::npos);
}

TEST(ApiTools, ReplyTextToToolCalls) {
    for (const char* reply : {R"({"name": "get_sum", "parameters": {"a": 2, "b": 3}})", R"([get_sum(a=2, b=3)])"}) {
        const std::vector<ApiToolCall> calls = reply_tool_calls(parse_tool_calls(reply));
        ASSERT_EQ(calls.size(), 1u) << reply;
        EXPECT_EQ(calls[0].name, "get_sum");
        EXPECT_EQ(calls[0].arguments, R"({"a":2,"b":3})");
        EXPECT_EQ(calls[0].id.rfind("call_", 0), 0u);
        EXPECT_EQ(calls[0].id.size(), 29u);
    }
    // Two calls get two different ids; text and malformed calls give none (they go out as text).
    const auto two = reply_tool_calls(parse_tool_calls(R"([get_sum(a=1, b=2), get_time(zone='UTC')])"));
    ASSERT_EQ(two.size(), 2u);
    EXPECT_NE(two[0].id, two[1].id);
    EXPECT_EQ(two[1].arguments, R"({"zone":"UTC"})");
    EXPECT_TRUE(reply_tool_calls(parse_tool_calls("The answer is 5.")).empty());
    EXPECT_TRUE(reply_tool_calls(parse_tool_calls(R"({"name": "get_sum", "parameters": {"a": )")).empty());

    ResponseMeta m;
    m.id = "chatcmpl-x";
    m.created = 1;
    m.model = "m";
    const json full = json::parse(full_tool_calls_response(m, two, {10, 7}));
    const json& choice = full["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls");
    EXPECT_TRUE(choice["message"]["content"].is_null());
    EXPECT_EQ(choice["message"]["role"], "assistant");
    ASSERT_EQ(choice["message"]["tool_calls"].size(), 2u);
    EXPECT_EQ(choice["message"]["tool_calls"][0],
              json({{"id", two[0].id}, {"type", "function"}, {"function", {{"name", "get_sum"}, {"arguments", R"({"a":1,"b":2})"}}}}));
    EXPECT_EQ(full["usage"]["total_tokens"], 17);

    // Streaming: per call, a head with id, type, name and empty arguments, then the arguments.
    const std::string sse = sse_tool_call_chunks(m, two);
    std::vector<json> events;
    for (size_t at = 0; (at = sse.find("data: ", at)) != std::string::npos;) {
        const size_t end = sse.find("\n\n", at);
        events.push_back(json::parse(sse.substr(at + 6, end - at - 6)));
        at = end;
    }
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
    EXPECT_EQ(events[0]["choices"][0]["delta"]["tool_calls"][0],
              json({{"index", 0}, {"id", two[0].id}, {"type", "function"}, {"function", {{"name", "get_sum"}, {"arguments", ""}}}}));
    EXPECT_EQ(events[1]["choices"][0]["delta"]["tool_calls"][0], json({{"index", 0}, {"function", {{"arguments", R"({"a":1,"b":2})"}}}}));
    EXPECT_EQ(events[2]["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
    EXPECT_EQ(events[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"], R"({"zone":"UTC"})");
}

// serve --draft / --lookup: usage.completion_tokens_details as OpenAI reports predicted outputs,
// in full responses and in the stream's usage chunk; without speculation no details at all.
TEST(ApiFormat, UsageHasPredictionTokensOnlyWhenSpeculating) {
    ResponseMeta m;
    m.id = "cmpl-x";
    m.endpoint = Endpoint::Completion;
    m.include_usage = true;
    Usage u{5, 20};
    EXPECT_FALSE(json::parse(full_response(m, "text", "length", u, {}))["usage"].contains("completion_tokens_details"));
    u.speculative = true;
    u.accepted_prediction_tokens = 12;
    u.rejected_prediction_tokens = 7;
    const json want = {{"prompt_tokens", 5}, {"completion_tokens", 20}, {"total_tokens", 25},
                       {"completion_tokens_details", {{"accepted_prediction_tokens", 12}, {"rejected_prediction_tokens", 7}}}};
    EXPECT_EQ(json::parse(full_response(m, "text", "length", u, {}))["usage"], want);
    const std::string sse = sse_usage_chunk(m, u);
    ASSERT_EQ(sse.rfind("data: ", 0), 0u);
    EXPECT_EQ(json::parse(sse.substr(6))["usage"], want);
}

TEST(ApiTools, RefusedWithTheParameter) {
    json body = request_with_tools();
    body["tool_choice"] = "required";
    ApiError e = parse_error(body);
    EXPECT_EQ(e.param, "tool_choice");
    EXPECT_EQ(e.code, "unsupported_value");
    body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "get_sum"}}}};
    EXPECT_EQ(parse_error(body).param, "tool_choice");
    body["tool_choice"] = "sometimes";
    EXPECT_EQ(parse_error(body).param, "tool_choice");

    body = request_with_tools();
    body["messages"][3]["tool_call_id"] = "call_unknown";
    e = parse_error(body);
    EXPECT_EQ(e.param, "messages[3].tool_call_id");
    EXPECT_NE(e.message.find("call_unknown"), std::string::npos);

    body = request_with_tools();
    body["messages"][2]["tool_calls"][0]["function"]["arguments"] = "not json";
    EXPECT_EQ(parse_error(body).param, "messages[2].tool_calls[0].function.arguments");

    body = request_with_tools();
    body["tools"].push_back(body["tools"][0]);
    EXPECT_EQ(parse_error(body).param, "tools[1].function.name");  // two tools of one name

    body = request_with_tools();
    body["logprobs"] = true;
    EXPECT_EQ(parse_error(body).param, "logprobs");

    body = request_with_tools();
    body["tools"] = {{"type", "function"}};
    EXPECT_EQ(parse_error(body).param, "tools");  // not an array

    body = request_with_tools();
    body["functions"] = json::array();
    EXPECT_EQ(parse_error(body).param, "functions");
}

// The streaming side: a call streamed in small pieces is never sent as text; a text reply is held
// only while it could still be a call, then passes through piece by piece.
TEST(ApiTools, StreamHoldsBackCalls) {
    auto run = [](const std::string& reply, size_t step, std::string* sent) {
        ToolCallStream s;
        for (size_t i = 0; i < reply.size(); i += step) *sent += s.feed(std::string_view(reply).substr(i, step));
        return s.finish();
    };
    for (const char* call : {R"({"name": "get_sum", "parameters": {"a": 1, "b": 2}})", R"([get_sum(a=1, b=2)])"}) {
        for (size_t step : {1, 3, 100}) {
            std::string sent;
            const ToolCallStream::End end = run(call, step, &sent);
            EXPECT_EQ(sent, "") << call << " step " << step;
            ASSERT_EQ(end.calls.size(), 1u);
            EXPECT_EQ(end.calls[0].arguments, R"({"a":1,"b":2})");
            EXPECT_EQ(end.text, "");
        }
    }
    // Plain text: released at the first piece that cannot begin a call, nothing lost.
    std::string sent;
    ToolCallStream s;
    sent += s.feed("The");
    EXPECT_EQ(sent, "The");
    sent += s.feed(" answer is 3.");
    ToolCallStream::End end = s.finish();
    EXPECT_EQ(sent + end.text, "The answer is 3.");
    EXPECT_TRUE(end.calls.empty());
    // A malformed call is held to the end, then sent as text.
    sent.clear();
    const std::string bad = R"({"name": "get_sum", "parameters": {"a": )";
    end = run(bad, 4, &sent);
    EXPECT_TRUE(end.calls.empty());
    EXPECT_EQ(sent + end.text, bad);
}
