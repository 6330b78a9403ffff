#pragma once
// OpenAI-style request bodies (/v1/chat/completions, /v1/completions) parsed and validated into a
// plain struct. No engine or HTTP types here, so the parser can be fuzzed on its own
// (tests/fuzz/api_request_fuzz.cpp). Every problem becomes an ApiError, never an exception or abort.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ld::server {

// The body of an OpenAI error response: {"error":{"message","type","param","code"}}.
struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;  // empty: null
    std::string code;   // empty: null
};

enum class Endpoint { Chat, Completion };

// A call an assistant message made (request history) or that a reply makes (response).
struct ApiToolCall {
    std::string id;         // "call_..."
    std::string name;
    std::string arguments;  // a JSON object, as text (OpenAI's function.arguments string)
};

struct ApiMessage {
    std::string role;  // system | user | assistant | tool ("developer" is read as system)
    std::string content;
    std::vector<ApiToolCall> tool_calls = {};  // assistant
    std::string tool_call_id = {};             // tool: the call it answers
};

// A function the model may call: tools[i].function.
struct ApiTool {
    std::string name;
    std::string description;
    std::string parameters;  // a JSON object as text; empty: none
};

// tool_choice: "auto" (the default with tools), "none" (tools are not offered). "required" and a
// named function are refused: the Llama 3 tool prompts cannot make the model call.
enum class ToolChoice { Auto, None };

struct ApiRequest {
    Endpoint endpoint = Endpoint::Chat;
    std::string model;
    std::vector<ApiMessage> messages;    // chat
    std::string prompt;                  // completion, as text ...
    std::vector<int32_t> prompt_tokens;  // ... or as token ids (then prompt is empty)
    std::optional<int> max_tokens;       // max_tokens or max_completion_tokens
    double temperature = 1.0;
    double top_p = 1.0;
    std::optional<int64_t> seed;
    std::vector<std::string> stop;
    double frequency_penalty = 0;
    double presence_penalty = 0;
    bool logprobs = false;  // chat: logprobs=true; completions: logprobs=N (N >= 0)
    int top_logprobs = 0;   // chat: top_logprobs; completions: the N of logprobs=N
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    std::vector<ApiTool> tools;  // chat
    ToolChoice tool_choice = ToolChoice::Auto;
};

// Parses `body` for `endpoint`. Returns false with *err filled (status 400) on malformed JSON,
// wrong types, out-of-range values and unsupported features (n > 1, tool_choice "required", echo, best_of, ...).
bool parse_api_request(Endpoint endpoint, std::string_view body, ApiRequest* out, ApiError* err);

}  // namespace ld::server
