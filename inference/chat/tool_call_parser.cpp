#include "inference/chat/tool_call_parser.h"

#include "inference/chat/json_writer.h"
#include "inference/chat/python_literal.h"
#include "inference/core/error.h"
#include "inference/tokenizer/json_lite.h"

namespace ld {
namespace {

constexpr std::string_view kPythonTag = "<|python_tag|>";

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t skip_space(std::string_view s, size_t i) {
    while (i < s.size() && space(s[i])) ++i;
    return i;
}

ToolCallParse malformed(std::string why) {
    ToolCallParse r;
    r.kind = ToolCallParse::Kind::Malformed;
    r.error = std::move(why);
    return r;
}

std::string without_prefix(std::string s, std::string_view prefix) {
    return s.starts_with(prefix) ? s.substr(prefix.size()) : s;
}

// ----- JSON form -----

// The call's pieces, split at each ';' outside strings and brackets, with their offsets.
std::vector<std::pair<size_t, std::string_view>> split_calls(std::string_view s, size_t from) {
    std::vector<std::pair<size_t, std::string_view>> out;
    int depth = 0;
    bool in_string = false, escaped = false;
    size_t start = from;
    for (size_t i = from; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        } else if (c == ';' && depth == 0) {
            out.emplace_back(start, s.substr(start, i - start));
            start = i + 1;
        }
    }
    out.emplace_back(start, s.substr(start));
    return out;
}

// The arguments as a compact JSON object: "parameters" (Llama 3.1) or "arguments" (OpenAI style,
// an object or a JSON string holding one); absent only when the call has nothing but its name.
bool call_arguments(const json::Value& call, const std::string& name, std::string* out, std::string* why) {
    const json::Value* args = call.find("parameters");
    if (!args) args = call.find("arguments");
    if (!args) {
        if (call.object.size() == 1) {
            *out = "{}";
            return true;
        }
        *why = "the call to " + name + " has no \"parameters\"";
        return false;
    }
    if (args->is_string()) {
        try {
            const json::Value inner = json::parse(args->string);
            if (inner.is_object()) {
                *out = json::write(inner);
                return true;
            }
        } catch (const Error&) {
        }
        *why = "the arguments of " + name + " are a string that is not a JSON object";
        return false;
    }
    if (args->is_null()) {
        *out = "{}";
        return true;
    }
    if (!args->is_object()) {
        *why = "the parameters of " + name + " are not a JSON object";
        return false;
    }
    *out = json::write(*args);
    return true;
}

// `reply` from `at` starts with '{'. Text unless it is (or starts like) a call.
ToolCallParse parse_json_calls(std::string_view reply, size_t at) {
    // Llama 3.1 writes the name first: text that begins so is a call, and a broken one malformed.
    // Other JSON is a call only when it parses with a name and parameters.
    const size_t k = skip_space(reply, at + 1);
    const bool name_first = reply.substr(k).starts_with("\"name\"") &&
                            skip_space(reply, k + 6) < reply.size() && reply[skip_space(reply, k + 6)] == ':';
    auto fail_as = [&](std::string why) { return name_first ? malformed(std::move(why)) : ToolCallParse{}; };

    ToolCallParse out;
    const auto pieces = split_calls(reply, at);
    for (size_t i = 0; i < pieces.size(); ++i) {
        const auto& [offset, piece] = pieces[i];
        if (skip_space(piece, 0) == piece.size()) {
            if (i + 1 == pieces.size() && i > 0) break;  // a ';' after the last call
            return fail_as("an empty call between ';'");
        }
        json::Value v;
        try {
            v = json::parse(piece);
        } catch (const json::ParseError& e) {
            // The reader counts bytes from the piece's start; say where in the reply.
            return fail_as(e.reason + " at byte " + std::to_string(offset + e.offset));
        } catch (const Error& e) {
            return fail_as(without_prefix(e.what(), "JSON: "));
        }
        const json::Value* name = v.is_object() ? v.find("name") : nullptr;
        if (!name) return fail_as(i == 0 ? "the call has no \"name\"" : "call " + std::to_string(i + 1) + " has no \"name\"");
        if (!name->is_string() || name->string.empty()) return fail_as("the call's \"name\" is not a non-empty string");
        ToolCall call{name->string, {}};
        std::string why;
        if (!call_arguments(v, call.name, &call.arguments_json, &why)) return fail_as(why);
        out.calls.push_back(std::move(call));
    }
    out.kind = ToolCallParse::Kind::Calls;
    return out;
}

// ----- pythonic form -----

// '[' then a name then '(' at `at`: the list of calls, to its ']' and the end of the reply.
ToolCallParse parse_pythonic_calls(std::string_view s, size_t at) {
    ToolCallParse out;
    size_t i = at + 1;
    auto expect_error = [&](const char* what) { return malformed(std::string(what) + " at byte " + std::to_string(i)); };
    try {
        while (true) {
            i = skip_space(s, i);
            const size_t n = python::identifier_length(s, i);
            if (n == 0) return expect_error("expected a function name");
            ToolCall call{std::string(s.substr(i, n)), {}};
            i = skip_space(s, i + n);
            if (i >= s.size() || s[i] != '(') return expect_error("expected '('");
            ++i;
            json::Value args;
            args.type = json::Value::Type::Object;
            while (true) {
                i = skip_space(s, i);
                if (i < s.size() && s[i] == ')') break;
                const size_t kn = python::identifier_length(s, i);
                const size_t after = skip_space(s, i + kn);
                if (kn == 0 || after >= s.size() || s[after] != '=' ||
                    (after + 1 < s.size() && s[after + 1] == '='))
                    return expect_error(kn == 0 || (after < s.size() && s[after] != '=')
                                            ? "expected name=value (positional arguments are not supported)"
                                            : "expected '='");
                std::string key(s.substr(i, kn));
                if (args.find(key)) return expect_error(("argument " + key + " given twice").c_str());
                i = after + 1;
                json::Value value = python::parse_literal(s, i);
                args.object.emplace_back(std::move(key), std::move(value));
                i = skip_space(s, i);
                if (i < s.size() && s[i] == ')') break;
                if (i >= s.size() || s[i] != ',') return expect_error("expected ',' or ')'");
                ++i;
            }
            ++i;  // ')'
            call.arguments_json = json::write(args);
            out.calls.push_back(std::move(call));
            i = skip_space(s, i);
            if (i < s.size() && s[i] == ',') i = skip_space(s, i + 1);
            else if (i < s.size() && s[i] != ']') return expect_error("expected ',' or ']'");
            if (i >= s.size()) return expect_error("unterminated call list (no ']')");
            if (s[i] == ']') break;
        }
    } catch (const Error& e) {
        return malformed(e.what());
    }
    i = skip_space(s, i + 1);
    if (i < s.size()) return expect_error("text after the call list");
    out.kind = ToolCallParse::Kind::Calls;
    return out;
}

// '[' + spaces + a name + spaces + '(' at `at`.
bool starts_pythonic_call(std::string_view s, size_t at) {
    if (at >= s.size() || s[at] != '[') return false;
    size_t i = skip_space(s, at + 1);
    const size_t n = python::identifier_length(s, i);
    if (n == 0) return false;
    i = skip_space(s, i + n);
    return i < s.size() && s[i] == '(';
}

size_t after_python_tag(std::string_view s) {
    size_t i = skip_space(s, 0);
    if (s.substr(i).starts_with(kPythonTag)) i = skip_space(s, i + kPythonTag.size());
    return i;
}

}  // namespace

ToolCallParse parse_tool_calls(std::string_view reply) {
    const size_t i = after_python_tag(reply);
    if (i < reply.size() && reply[i] == '{') return parse_json_calls(reply, i);
    if (starts_pythonic_call(reply, i)) return parse_pythonic_calls(reply, i);
    return {};
}

std::string malformed_tool_call_note(const ToolCallParse& parse) {
    return "[malformed tool call: " + parse.error + "]";
}

bool may_become_tool_call(std::string_view partial) {
    size_t i = skip_space(partial, 0);
    if (i == partial.size()) return true;
    const std::string_view rest = partial.substr(i);
    if (rest.size() < kPythonTag.size() && kPythonTag.starts_with(rest)) return true;
    i = after_python_tag(partial);
    if (i == partial.size()) return true;
    if (partial[i] == '{') {
        // {"name": ... - or any JSON object, whose keys are not known yet.
        i = skip_space(partial, i + 1);
        return i == partial.size() || partial[i] == '"';
    }
    if (partial[i] != '[') return false;
    i = skip_space(partial, i + 1);
    if (i == partial.size()) return true;
    const size_t n = python::identifier_length(partial, i);
    if (n == 0) return false;
    // A name may still be growing ("get_wea", "fs." before "fs.read").
    if (i + n == partial.size() || ((partial[i + n] == '.' || partial[i + n] == '-') && i + n + 1 == partial.size()))
        return true;
    i = skip_space(partial, i + n);
    return i == partial.size() || partial[i] == '(';
}

}  // namespace ld
