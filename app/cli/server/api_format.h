#pragma once
// OpenAI response bodies and server-sent events: the JSON that /v1/chat/completions,
// /v1/completions and /v1/models return, built field for field as OpenAI sends them.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "app/cli/server/api_request.h"

namespace ld::server {

std::string error_json(const ApiError& e);

// prefix + 24 random letters and digits: response ids (chatcmpl-, cmpl-) and tool call ids (call_).
std::string random_id(const char* prefix);

struct TokenLogprob {
    std::string bytes;  // the token's bytes (may be part of a UTF-8 character)
    float logprob = 0;
    std::vector<std::pair<std::string, float>> top;  // most likely first
};

struct Usage {
    int prompt_tokens = 0;
    int completion_tokens = 0;
    // Speculative decoding (serve --draft / --lookup), reported as OpenAI reports predicted
    // outputs: completion_tokens_details.accepted_prediction_tokens / rejected_prediction_tokens
    // (drafted tokens the model kept / turned down). Absent when the server does not speculate.
    bool speculative = false;
    int accepted_prediction_tokens = 0;
    int rejected_prediction_tokens = 0;
};

// What every response and chunk of one request shares.
struct ResponseMeta {
    Endpoint endpoint = Endpoint::Chat;
    std::string id;      // chatcmpl-... / cmpl-...
    int64_t created = 0; // Unix seconds
    std::string model;
    bool include_usage = false;  // streams: "usage": null in chunks, then a usage chunk
    bool logprobs = false;
};

// finish_reason: "stop" | "length".
std::string full_response(const ResponseMeta& m, const std::string& text, const char* finish_reason,
                          const Usage& usage, const std::vector<TokenLogprob>& logprobs);

// A chat reply that called tools: message.content null, message.tool_calls, finish_reason
// "tool_calls".
std::string full_tool_calls_response(const ResponseMeta& m, const std::vector<ApiToolCall>& calls, const Usage& usage);

// One SSE event each ("data: {...}\n\n").
std::string sse_role_chunk(const ResponseMeta& m);  // chat only: {"role":"assistant","content":""}
// text_offset: where this piece starts in the whole text (completions' logprobs.text_offset).
std::string sse_text_chunk(const ResponseMeta& m, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                           size_t text_offset = 0);
std::string sse_finish_chunk(const ResponseMeta& m, const char* finish_reason);
// The calls as OpenAI streams them, two events per call: {"index", "id", "type", "function":
// {"name", "arguments": ""}}, then {"index", "function": {"arguments": "..."}}.
std::string sse_tool_call_chunks(const ResponseMeta& m, const std::vector<ApiToolCall>& calls);
std::string sse_usage_chunk(const ResponseMeta& m, const Usage& usage);
std::string sse_error(const ApiError& e);  // an error after the stream began
inline const char* sse_done() { return "data: [DONE]\n\n"; }

std::string models_json(const std::string& model_id, int64_t created, int max_model_len = 0);
// POST /tokenize (vLLM's and llama.cpp's shape): {"tokens": [...], "count": N, "max_model_len": N}.
std::string tokenize_json(const std::vector<int32_t>& tokens, int max_model_len);

}  // namespace ld::server
