#include "app/cli/server/api_request.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace ld::server {

namespace {

using nlohmann::json;

constexpr int kMaxDepth = 32;          // deeper than any real request; bounds the parser's stack
constexpr size_t kMaxStops = 4;        // OpenAI's limit
constexpr int kMaxTopLogprobs = 20;    // chat; completions allow 5

struct Fail {
    ApiError e;
};

[[noreturn]] void bad(std::string param, std::string message, std::string code = "") {
    ApiError e;
    e.param = std::move(param);
    e.message = std::move(message);
    e.code = std::move(code);
    throw Fail{std::move(e)};
}

// Nesting depth of arrays and objects outside strings. nlohmann's parser would accept any depth;
// this keeps hostile input ("[[[[...") from costing stack or time later.
bool depth_ok(std::string_view s) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxDepth) return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

const char* type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "an array";
        case json::value_t::object: return "an object";
        case json::value_t::number_float: return "a number";
        default: return "an integer";
    }
}

// A field present and not null (OpenAI clients send null for "not set").
const json* field(const json& obj, const char* name) {
    auto it = obj.find(name);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

double number(const json& obj, const char* name, double fallback, double lo, double hi) {
    const json* v = field(obj, name);
    if (!v) return fallback;
    if (!v->is_number()) bad(name, std::string("'") + name + "' must be a number, not " + type_name(*v));
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        bad(name, std::string("'") + name + "' must be between " + json(lo).dump() + " and " + json(hi).dump());
    return d;
}

std::optional<int64_t> integer(const json& obj, const char* name, int64_t lo, int64_t hi) {
    const json* v = field(obj, name);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) bad(name, std::string("'") + name + "' must be an integer, not " + type_name(*v));
    int64_t i;
    if (v->is_number_unsigned()) {
        const uint64_t u = v->get<uint64_t>();
        if (u > uint64_t(std::numeric_limits<int64_t>::max())) i = std::numeric_limits<int64_t>::max();
        else i = int64_t(u);
    } else {
        i = v->get<int64_t>();
    }
    if (i < lo || i > hi)
        bad(name, std::string("'") + name + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return i;
}

bool boolean(const json& obj, const char* name, bool fallback) {
    const json* v = field(obj, name);
    if (!v) return fallback;
    if (!v->is_boolean()) bad(name, std::string("'") + name + "' must be a boolean, not " + type_name(*v));
    return v->get<bool>();
}

// Message content: a string, or an array of {"type":"text","text":...} parts (joined).
std::string content_text(const json& c, const std::string& param) {
    if (c.is_string()) return c.get<std::string>();
    if (!c.is_array()) bad(param, "'content' must be a string or an array of text parts, not " + std::string(type_name(c)));
    std::string text;
    for (const json& part : c) {
        if (!part.is_object()) bad(param, "a content part must be an object");
        const json* type = field(part, "type");
        if (!type || !type->is_string() || type->get<std::string>() != "text")
            bad(param, "only content parts of type 'text' are supported");
        const json* t = field(part, "text");
        if (!t || !t->is_string()) bad(param, "a text part needs a string 'text'");
        text += t->get<std::string>();
    }
    return text;
}

bool known_call(const std::vector<ApiMessage>& earlier, const std::string& id);
std::vector<ApiToolCall> tool_calls(const json& calls, const std::string& p);

void parse_messages(const json& body, ApiRequest* out) {
    const json* msgs = field(body, "messages");
    if (!msgs) bad("messages", "'messages' is required");
    if (!msgs->is_array()) bad("messages", std::string("'messages' must be an array, not ") + type_name(*msgs));
    if (msgs->empty()) bad("messages", "'messages' must contain at least one message");
    for (size_t i = 0; i < msgs->size(); ++i) {
        const json& m = (*msgs)[i];
        const std::string p = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) bad(p, p + " must be an object");
        const json* role = field(m, "role");
        if (!role || !role->is_string()) bad(p + ".role", p + " needs a string 'role'");
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";
        if (r == "function") bad(p + ".role", "role 'function' is not supported; use 'tool' with 'tool_call_id'");
        if (r != "system" && r != "user" && r != "assistant" && r != "tool")
            bad(p + ".role", "unknown role '" + r + "' (system, user, assistant or tool)");
        if (field(m, "function_call")) bad(p + ".function_call", "'function_call' is not supported; use 'tool_calls'");
        ApiMessage msg{r, {}};
        if (const json* calls = field(m, "tool_calls")) {
            if (r != "assistant") bad(p + ".tool_calls", "only assistant messages have 'tool_calls'");
            msg.tool_calls = tool_calls(*calls, p + ".tool_calls");
        }
        if (r == "tool") {
            const json* id = field(m, "tool_call_id");
            if (!id || !id->is_string()) bad(p + ".tool_call_id", p + " (role 'tool') needs a string 'tool_call_id'");
            msg.tool_call_id = id->get<std::string>();
            if (!known_call(out->messages, msg.tool_call_id))
                bad(p + ".tool_call_id", "no assistant message before " + p + " has a tool call with id '" +
                                             msg.tool_call_id + "'");
        }
        const json* content = field(m, "content");
        if (!content && r != "assistant") bad(p + ".content", p + " needs 'content'");
        if (content) msg.content = content_text(*content, p + ".content");
        out->messages.push_back(std::move(msg));
    }
}

bool known_call(const std::vector<ApiMessage>& earlier, const std::string& id) {
    for (const ApiMessage& m : earlier)
        for (const ApiToolCall& c : m.tool_calls)
            if (c.id == id) return true;
    return false;
}

// An object as text, for a function's parameters or a call's arguments.
std::string object_text(const json& v, const std::string& param, const char* what) {
    if (v.is_string()) {  // OpenAI's function.arguments is a JSON string
        const json parsed = json::parse(v.get<std::string>(), nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) bad(param, std::string(what) + " must be a JSON object");
        return parsed.dump();
    }
    if (!v.is_object()) bad(param, std::string(what) + " must be a JSON object, not " + type_name(v));
    return v.dump();
}

std::vector<ApiToolCall> tool_calls(const json& calls, const std::string& p) {
    if (!calls.is_array()) bad(p, "'tool_calls' must be an array, not " + std::string(type_name(calls)));
    std::vector<ApiToolCall> out;
    for (size_t i = 0; i < calls.size(); ++i) {
        const json& c = calls[i];
        const std::string q = p + "[" + std::to_string(i) + "]";
        if (!c.is_object()) bad(q, q + " must be an object");
        const json* type = field(c, "type");
        if (type && (!type->is_string() || type->get<std::string>() != "function"))
            bad(q + ".type", "only tool calls of type 'function' are supported");
        const json* id = field(c, "id");
        if (!id || !id->is_string()) bad(q + ".id", q + " needs a string 'id'");
        const json* fn = field(c, "function");
        if (!fn || !fn->is_object()) bad(q + ".function", q + " needs a 'function' object");
        const json* name = field(*fn, "name");
        if (!name || !name->is_string() || name->get<std::string>().empty())
            bad(q + ".function.name", q + ".function needs a string 'name'");
        const json* args = field(*fn, "arguments");
        out.push_back({id->get<std::string>(), name->get<std::string>(),
                       args ? object_text(*args, q + ".function.arguments", "'arguments'") : std::string("{}")});
    }
    return out;
}

void parse_tools(const json& body, ApiRequest* out) {
    for (const char* name : {"functions", "function_call"})
        if (field(body, name))
            bad(name, std::string("'") + name + "' is not supported; use 'tools' and 'tool_choice'", "unsupported_value");
    if (const json* tools = field(body, "tools")) {
        if (!tools->is_array()) bad("tools", "'tools' must be an array, not " + std::string(type_name(*tools)));
        for (size_t i = 0; i < tools->size(); ++i) {
            const json& t = (*tools)[i];
            const std::string p = "tools[" + std::to_string(i) + "]";
            if (!t.is_object()) bad(p, p + " must be an object");
            const json* type = field(t, "type");
            if (!type || !type->is_string() || type->get<std::string>() != "function")
                bad(p + ".type", "only tools of type 'function' are supported", "unsupported_value");
            const json* fn = field(t, "function");
            if (!fn || !fn->is_object()) bad(p + ".function", p + " needs a 'function' object");
            const json* name = field(*fn, "name");
            if (!name || !name->is_string() || name->get<std::string>().empty())
                bad(p + ".function.name", p + ".function needs a string 'name'");
            ApiTool tool{name->get<std::string>(), {}, {}};
            for (const ApiTool& earlier : out->tools)
                if (earlier.name == tool.name) bad(p + ".function.name", "two tools are named '" + tool.name + "'");
            if (const json* d = field(*fn, "description")) {
                if (!d->is_string()) bad(p + ".function.description", "'description' must be a string");
                tool.description = d->get<std::string>();
            }
            if (const json* params = field(*fn, "parameters"))
                tool.parameters = object_text(*params, p + ".function.parameters", "'parameters'");
            out->tools.push_back(std::move(tool));
        }
    }
    const json* choice = field(body, "tool_choice");
    if (!choice) return;
    if (choice->is_string()) {
        const std::string c = choice->get<std::string>();
        if (c == "none") {
            out->tool_choice = ToolChoice::None;
            return;
        }
        if (c == "auto") return;
        if (c == "required")
            bad("tool_choice", "tool_choice 'required' is not supported: the Llama 3 tool prompts cannot make the model "
                               "call a tool; use 'auto'", "unsupported_value");
        bad("tool_choice", "tool_choice must be 'auto', 'none' or a function");
    }
    if (choice->is_object()) {
        if (out->tools.empty()) bad("tool_choice", "a function as 'tool_choice' needs 'tools'");
        bad("tool_choice", "a named function as tool_choice is not supported: the Llama 3 tool prompts cannot make the "
                           "model call it; use 'auto'", "unsupported_value");
    }
    bad("tool_choice", "tool_choice must be a string or an object, not " + std::string(type_name(*choice)));
}

void parse_prompt(const json& body, ApiRequest* out) {
    const json* p = field(body, "prompt");
    if (!p) bad("prompt", "'prompt' is required");
    if (p->is_string()) {
        out->prompt = p->get<std::string>();
    } else if (p->is_array()) {
        if (p->empty()) bad("prompt", "'prompt' must not be an empty array");
        if ((*p)[0].is_string()) {
            if (p->size() != 1) bad("prompt", "only one prompt per request is supported", "unsupported_value");
            out->prompt = (*p)[0].get<std::string>();
        } else if ((*p)[0].is_array()) {
            bad("prompt", "only one prompt per request is supported", "unsupported_value");
        } else {
            for (const json& t : *p) {
                if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max())
                    bad("prompt", "'prompt' as an array must hold one string or token ids (non-negative integers)");
                out->prompt_tokens.push_back(int32_t(t.get<int64_t>()));
            }
        }
    } else {
        bad("prompt", std::string("'prompt' must be a string or an array, not ") + type_name(*p));
    }
}

void parse_stop(const json& body, ApiRequest* out) {
    const json* s = field(body, "stop");
    if (!s) return;
    if (s->is_string()) {
        out->stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
        if (s->size() > kMaxStops) bad("stop", "'stop' may hold at most 4 strings");
        for (const json& x : *s) {
            if (!x.is_string()) bad("stop", "'stop' must be a string or an array of strings");
            out->stop.push_back(x.get<std::string>());
        }
    } else {
        bad("stop", std::string("'stop' must be a string or an array of strings, not ") + type_name(*s));
    }
    for (const std::string& x : out->stop)
        if (x.empty()) bad("stop", "stop strings must not be empty");
}

void parse_body(Endpoint endpoint, const json& body, ApiRequest* out) {
    if (!body.is_object()) bad("", std::string("the request body must be a JSON object, not ") + type_name(body));
    out->endpoint = endpoint;
    const json* model = field(body, "model");
    if (!model) bad("model", "'model' is required");
    if (!model->is_string()) bad("model", std::string("'model' must be a string, not ") + type_name(*model));
    out->model = model->get<std::string>();

    if (endpoint == Endpoint::Chat) parse_messages(body, out);
    else parse_prompt(body, out);

    if (auto n = integer(body, "n", 1, 128); n && *n != 1)
        bad("n", "n > 1 is not supported: this server generates one choice per request", "unsupported_value");
    if (endpoint == Endpoint::Completion) {
        if (auto b = integer(body, "best_of", 1, 128); b && *b != 1)
            bad("best_of", "best_of > 1 is not supported", "unsupported_value");
        if (boolean(body, "echo", false)) bad("echo", "echo is not supported", "unsupported_value");
        if (const json* s = field(body, "suffix"); s && !(s->is_string() && s->get<std::string>().empty()))
            bad("suffix", "suffix is not supported", "unsupported_value");
    } else {
        parse_tools(body, out);
        if (const json* rf = field(body, "response_format")) {
            const json* t = rf->is_object() ? field(*rf, "type") : nullptr;
            if (!t || !t->is_string() || t->get<std::string>() != "text")
                bad("response_format", "only response_format {\"type\": \"text\"} is supported", "unsupported_value");
        }
    }

    constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
    auto mt = integer(body, "max_tokens", 1, kMaxInt);
    if (auto mct = integer(body, "max_completion_tokens", 1, kMaxInt)) mt = mct;
    if (mt) out->max_tokens = int(*mt);
    out->temperature = number(body, "temperature", 1.0, 0.0, 2.0);
    out->top_p = number(body, "top_p", 1.0, 0.0, 1.0);
    out->frequency_penalty = number(body, "frequency_penalty", 0.0, -2.0, 2.0);
    out->presence_penalty = number(body, "presence_penalty", 0.0, -2.0, 2.0);
    out->seed = integer(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    parse_stop(body, out);

    if (endpoint == Endpoint::Chat) {
        out->logprobs = boolean(body, "logprobs", false);
        if (auto t = integer(body, "top_logprobs", 0, kMaxTopLogprobs)) {
            if (!out->logprobs) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
            out->top_logprobs = int(*t);
        }
        if (out->logprobs && !out->tools.empty() && out->tool_choice != ToolChoice::None)
            bad("logprobs", "'logprobs' together with 'tools' is not supported", "unsupported_value");
    } else if (auto lp = integer(body, "logprobs", 0, 5)) {
        out->logprobs = true;
        out->top_logprobs = int(*lp);
    }

    out->stream = boolean(body, "stream", false);
    if (const json* so = field(body, "stream_options")) {
        if (!out->stream) bad("stream_options", "'stream_options' is only allowed with 'stream': true");
        if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
        out->include_usage = boolean(*so, "include_usage", false);
    }
}

}  // namespace

bool parse_api_request(Endpoint endpoint, std::string_view body, ApiRequest* out, ApiError* err) {
    *out = ApiRequest{};
    try {
        if (!depth_ok(body)) bad("", "the request body is nested too deeply");
        json j;
        try {
            j = json::parse(body.begin(), body.end());
        } catch (const json::exception& e) {
            bad("", std::string("the request body is not valid JSON: ") + e.what());
        }
        parse_body(endpoint, j, out);
        return true;
    } catch (Fail& f) {
        *err = std::move(f.e);
    } catch (const json::exception& e) {  // e.g. invalid UTF-8 met while reading a string
        *err = ApiError{};
        err->message = std::string("invalid request: ") + e.what();
    }
    *out = ApiRequest{};
    return false;
}

}  // namespace ld::server
