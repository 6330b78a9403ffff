#include "app/cli/server/api_format.h"

#include <random>

#include <nlohmann/json.hpp>

namespace ld::server {

namespace {

using json = nlohmann::ordered_json;  // fields in the order OpenAI sends them

// Token pieces can be partial UTF-8 and error texts can quote the client's bytes: replace
// invalid sequences instead of letting dump() throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json null_or(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json byte_list(const std::string& s) {
    json a = json::array();
    for (unsigned char c : s) a.push_back(int(c));
    return a;
}

json chat_logprobs(const std::vector<TokenLogprob>& lps) {
    json content = json::array();
    for (const TokenLogprob& t : lps) {
        json top = json::array();
        for (const auto& [bytes, lp] : t.top)
            top.push_back({{"token", bytes}, {"logprob", lp}, {"bytes", byte_list(bytes)}});
        content.push_back({{"token", t.bytes}, {"logprob", t.logprob}, {"bytes", byte_list(t.bytes)},
                           {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
}

// The legacy completions shape; text_offset counts from the start of this piece's text.
json completion_logprobs(const std::vector<TokenLogprob>& lps, size_t offset0) {
    json tokens = json::array(), token_lps = json::array(), tops = json::array(), offsets = json::array();
    size_t offset = offset0;
    for (const TokenLogprob& t : lps) {
        tokens.push_back(t.bytes);
        token_lps.push_back(t.logprob);
        json top = json::object();
        for (const auto& [bytes, lp] : t.top) top[bytes] = lp;
        tops.push_back(top);
        offsets.push_back(offset);
        offset += t.bytes.size();
    }
    return {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json logprobs_json(const ResponseMeta& m, const std::vector<TokenLogprob>& lps, size_t offset = 0) {
    if (!m.logprobs) return nullptr;
    return m.endpoint == Endpoint::Chat ? chat_logprobs(lps) : completion_logprobs(lps, offset);
}

json usage_json(const Usage& u) {
    json j = {{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens}};
    if (u.speculative)
        j["completion_tokens_details"] = {{"accepted_prediction_tokens", u.accepted_prediction_tokens},
                                          {"rejected_prediction_tokens", u.rejected_prediction_tokens}};
    return j;
}

json chunk_base(const ResponseMeta& m) {
    json j = {{"id", m.id},
              {"object", m.endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
              {"created", m.created},
              {"model", m.model},
              {"system_fingerprint", "llamadesk"}};
    if (m.include_usage) j["usage"] = nullptr;
    return j;
}

std::string event(const json& j) { return "data: " + dump(j) + "\n\n"; }

json choice(const ResponseMeta& m, const std::string& text, const json& finish, const json& logprobs) {
    if (m.endpoint == Endpoint::Chat) {
        json delta = json::object();
        if (!text.empty()) delta["content"] = text;
        return {{"index", 0}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", finish}};
    }
    return {{"text", text}, {"index", 0}, {"logprobs", logprobs}, {"finish_reason", finish}};
}

}  // namespace

std::string error_json(const ApiError& e) {
    return dump({{"error", {{"message", e.message}, {"type", e.type}, {"param", null_or(e.param)}, {"code", null_or(e.code)}}}});
}

std::string full_response(const ResponseMeta& m, const std::string& text, const char* finish_reason,
                          const Usage& usage, const std::vector<TokenLogprob>& logprobs) {
    json j = {{"id", m.id}, {"created", m.created}, {"model", m.model}, {"system_fingerprint", "llamadesk"}};
    if (m.endpoint == Endpoint::Chat) {
        j["object"] = "chat.completion";
        j["choices"] = json::array({{{"index", 0},
                                     {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
                                     {"logprobs", logprobs_json(m, logprobs)},
                                     {"finish_reason", finish_reason}}});
    } else {
        j["object"] = "text_completion";
        j["choices"] = json::array({{{"text", text}, {"index", 0}, {"logprobs", logprobs_json(m, logprobs)},
                                     {"finish_reason", finish_reason}}});
    }
    j["usage"] = usage_json(usage);
    return dump(j);
}

std::string sse_role_chunk(const ResponseMeta& m) {
    json j = chunk_base(m);
    j["choices"] = json::array({{{"index", 0},
                                 {"delta", {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}},
                                 {"logprobs", nullptr},
                                 {"finish_reason", nullptr}}});
    return event(j);
}

std::string sse_text_chunk(const ResponseMeta& m, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                           size_t text_offset) {
    json j = chunk_base(m);
    j["choices"] = json::array({choice(m, text, nullptr, logprobs_json(m, logprobs, text_offset))});
    return event(j);
}

std::string sse_finish_chunk(const ResponseMeta& m, const char* finish_reason) {
    json j = chunk_base(m);
    j["choices"] = json::array({choice(m, "", finish_reason, nullptr)});
    return event(j);
}

std::string sse_usage_chunk(const ResponseMeta& m, const Usage& usage) {
    json j = chunk_base(m);
    j["choices"] = json::array();
    j["usage"] = usage_json(usage);
    return event(j);
}

std::string full_tool_calls_response(const ResponseMeta& m, const std::vector<ApiToolCall>& calls, const Usage& usage) {
    json list = json::array();
    for (const ApiToolCall& c : calls)
        list.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    json j = {{"id", m.id}, {"object", "chat.completion"}, {"created", m.created}, {"model", m.model},
              {"system_fingerprint", "llamadesk"}};
    j["choices"] = json::array(
        {{{"index", 0},
          {"message", {{"role", "assistant"}, {"content", nullptr}, {"refusal", nullptr}, {"tool_calls", list}}},
          {"logprobs", nullptr},
          {"finish_reason", "tool_calls"}}});
    j["usage"] = usage_json(usage);
    return dump(j);
}

std::string sse_tool_call_chunks(const ResponseMeta& m, const std::vector<ApiToolCall>& calls) {
    std::string out;
    for (size_t i = 0; i < calls.size(); ++i) {
        const ApiToolCall& c = calls[i];
        json head = chunk_base(m);
        json call = {{"index", i}, {"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", ""}}}};
        head["choices"] = json::array(
            {{{"index", 0}, {"delta", {{"tool_calls", json::array({call})}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
        out += event(head);
        json args = chunk_base(m);
        json part = {{"index", i}, {"function", {{"arguments", c.arguments}}}};
        args["choices"] = json::array(
            {{{"index", 0}, {"delta", {{"tool_calls", json::array({part})}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
        out += event(args);
    }
    return out;
}

std::string sse_error(const ApiError& e) { return "data: " + error_json(e) + "\n\n"; }

std::string models_json(const std::string& model_id, int64_t created, int max_model_len) {
    if (model_id.empty()) return dump({{"object", "list"}, {"data", json::array()}});  // none loaded (the app's server)
    // max_model_len as vLLM reports it: remote clients budget their prompts by it.
    json m = {{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "llamadesk"}};
    if (max_model_len > 0) m["max_model_len"] = max_model_len;
    return dump({{"object", "list"}, {"data", json::array({m})}});
}

std::string tokenize_json(const std::vector<int32_t>& tokens, int max_model_len) {
    return dump({{"tokens", tokens}, {"count", tokens.size()}, {"max_model_len", max_model_len}});
}

std::string random_id(const char* prefix) {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string id = prefix;
    for (int i = 0; i < 24; ++i) id += kChars[rng() % (sizeof kChars - 1)];
    return id;
}

}  // namespace ld::server
