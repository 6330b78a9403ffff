#include "inference/chat/tool_format.h"

#include <cctype>

#include "inference/chat/json_writer.h"
#include "inference/chat/prompt_builder.h"
#include "inference/chat/python_literal.h"
#include "inference/core/error.h"
#include "inference/gguf/gguf.h"
#include "inference/tokenizer/json_lite.h"
#include "inference/tokenizer/unicode.h"

namespace ld {
namespace {

// The reference templates' texts, word for word.
constexpr const char* kDefaultSystem =
    "You are a helpful assistant with tool calling capabilities. Only reply with a tool call if the function "
    "exists in the library provided by the user. If it doesn't exist, just reply directly in natural language. "
    "When you receive a tool call response, use the output to format an answer to the original user question.";
constexpr const char* kJsonSystemIntro =
    "You have access to the following functions. To call a function, please respond with JSON for a function "
    "call. Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its "
    "value}. Do not use variables.\n\n";
constexpr const char* kJsonUserIntro =
    "Given the following functions, please respond with a JSON for a function call with its proper arguments "
    "that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": "
    "dictionary of argument name and its value}. Do not use variables.\n\n";
constexpr const char* kPythonicSystemIntro =
    "You have access to the following functions. To call functions, please respond with a python list of the "
    "calls. Respond in the format [func_name1(params_name1=params_value1, params_name2=params_value2...), "
    "func_name2(params)] Do not use variables.\n\n";
constexpr const char* kPythonicUserIntro =
    "Given the following functions, please respond with a python list for function calls with their proper "
    "arguments to best answer the given prompt.\n\nRespond in the format [func_name1(params_name1=params_value1, "
    "params_name2=params_value2...), func_name2(params)] Do not use variables.\n\n";

// The templates' |trim is JavaScript's String.prototype.trim under @huggingface/jinja (Python's
// str.strip under jinja2): it also removes Unicode spaces such as U+00A0 and U+3000.
bool js_space(uint32_t cp) {
    return cp == 0x09 || cp == 0x0A || cp == 0x0B || cp == 0x0C || cp == 0x0D || cp == 0x20 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

// The code point starting at s[i] and its length; invalid bytes count as one non-space byte.
uint32_t code_point_at(std::string_view s, size_t i, size_t* len) {
    const unicode::Utf8Seq q = unicode::utf8_sequence(s.data() + i, s.size() - i);
    *len = q.status == unicode::Utf8Seq::Valid ? q.len : 1;
    return q.status == unicode::Utf8Seq::Valid ? q.cp : 0xFFFD;
}

std::string_view js_trim(std::string_view s) {
    size_t len = 0;
    while (!s.empty() && js_space(code_point_at(s, 0, &len))) s.remove_prefix(len);
    while (!s.empty()) {
        size_t start = s.size() - 1;  // back up to the last code point's first byte
        while (start > 0 && s.size() - start < 4 && (uint8_t(s[start]) & 0xC0) == 0x80) --start;
        if (!js_space(code_point_at(s, start, &len)) || start + len != s.size()) break;
        s.remove_suffix(len);
    }
    return s;
}

json::Value parse_object(std::string_view text, std::string_view what) {
    json::Value v;
    try {
        v = json::parse(text);
    } catch (const Error& e) {
        fail(what, " is not valid JSON: ", e.what());
    }
    if (!v.is_object()) fail(what, " is not a JSON object");
    return v;
}

void header(Prompt& p, std::string_view role) {
    p.special("<|start_header_id|>");
    p.text(role);
    p.special("<|end_header_id|>");
    p.text("\n\n");
}

void tool_list(Prompt& p, const std::vector<ToolDefinition>& tools) {
    for (const ToolDefinition& t : tools) {
        p.text(tool_definition_json(t, 4));
        p.text("\n\n");
    }
}

// Llama 3.1's {"name": "...", "parameters": {...}}. The reference template refuses several calls
// in one turn; the parser accepts them separated by ';', so that is how they are written back.
std::string json_calls(const std::vector<ToolCall>& calls) {
    std::string out;
    for (size_t i = 0; i < calls.size(); ++i) {
        const ToolCall& c = calls[i];
        const json::Value args = parse_object(c.arguments_json, "the arguments of tool call " + c.name);
        if (i) out += "; ";
        out += "{\"name\": \"" + std::string(js_trim(c.name)) + "\", \"parameters\": " + json::write(args) + "}";
    }
    return out;
}

// Llama 3.2's [name(key=value, ...), ...]. Values are printed as the template's "%s" | format()
// prints them, that is Python's str(): a string without quotes (get_weather(city=Paris)).
std::string pythonic_calls(const std::vector<ToolCall>& calls) {
    std::string out = "[";
    for (size_t i = 0; i < calls.size(); ++i) {
        const ToolCall& c = calls[i];
        const json::Value args = parse_object(c.arguments_json, "the arguments of tool call " + c.name);
        if (i) out += ", ";
        out += c.name + "(";
        for (size_t k = 0; k < args.object.size(); ++k) {
            if (k) out += ", ";
            out += args.object[k].first + "=" + python::str(args.object[k].second);
        }
        out += ")";
    }
    return out + "]";
}

Prompt build(const Tokenizer& tok, const std::vector<ChatMessage>& msgs, const ToolPromptOptions& o, bool gen) {
    const bool is_json = o.format == ToolCallFormat::Json;
    const bool have_tools = !o.tools.empty();
    const bool in_user = o.tools_in_user_message.value_or(is_json);
    Prompt p(tok);
    p.bos_if(tok.vocab().add_bos);

    size_t next = 0;
    std::string system;
    if (!msgs.empty() && msgs[0].role == "system") {
        system = std::string(js_trim(msgs[0].content));
        next = 1;
    } else if (have_tools || !is_json) {
        system = kDefaultSystem;  // the Llama 3.2 template writes it even without tools
    }
    header(p, "system");
    if (have_tools) p.text("Environment: ipython\n");
    p.text("Cutting Knowledge Date: December 2023\n");
    p.text("Today Date: " + (o.date_string.empty() ? tool_date_string(std::time(nullptr)) : o.date_string) + "\n\n");
    if (have_tools && !in_user) {
        p.text(is_json ? kJsonSystemIntro : kPythonicSystemIntro);
        tool_list(p, o.tools);
    }
    p.text(system);
    p.special("<|eot_id|>");

    if (have_tools && in_user) {
        // The first message after the system prompt carries the tools, whatever its role.
        if (next >= msgs.size())
            fail("the tool list goes into the first user message, but the conversation has none");
        const std::string first(js_trim(msgs[next].content));
        ++next;
        header(p, "user");
        p.text(is_json ? kJsonUserIntro : kPythonicUserIntro);
        tool_list(p, o.tools);
        p.text(first);
        p.special("<|eot_id|>");
    }

    for (size_t i = next; i < msgs.size(); ++i) {
        const ChatMessage& m = msgs[i];
        if (!m.tool_calls.empty()) {
            header(p, "assistant");
            p.text(is_json ? json_calls(m.tool_calls) : pythonic_calls(m.tool_calls));
        } else if (m.role == "ipython" || m.role == "tool") {
            header(p, "ipython");
            p.text("{\"output\": " + json::quote(m.content) + "}");
        } else {
            header(p, m.role);
            p.text(js_trim(m.content));
        }
        p.special("<|eot_id|>");
    }
    if (gen) header(p, "assistant");
    return p;
}

// Lower case without spaces, '-' and '_': "Llama-3.2 3B" -> "llama3.23b".
std::string squeeze(std::string_view s) {
    std::string out;
    for (char c : s)
        if (c != ' ' && c != '-' && c != '_') out += char(std::tolower(uint8_t(c)));
    return out;
}

}  // namespace

std::vector<int32_t> apply_tool_chat_template(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                              const ToolPromptOptions& options, bool add_generation_prompt) {
    return build(tok, messages, options, add_generation_prompt).ids();
}

std::string render_tool_chat_template(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                      const ToolPromptOptions& options, bool add_generation_prompt) {
    return build(tok, messages, options, add_generation_prompt).rendered();
}

std::string tool_definition_json(const ToolDefinition& tool, int indent) {
    if (tool.name.empty()) fail("a tool has no name");
    json::Value fn;
    fn.type = json::Value::Type::Object;
    json::Value name, description;
    name.type = description.type = json::Value::Type::String;
    name.string = tool.name;
    description.string = tool.description;
    fn.object.emplace_back("name", std::move(name));
    fn.object.emplace_back("description", std::move(description));
    if (!js_trim(tool.parameters_json).empty())
        fn.object.emplace_back("parameters", parse_object(tool.parameters_json, "the parameters of tool " + tool.name));
    json::Value type;
    type.type = json::Value::Type::String;
    type.string = "function";
    json::Value root;
    root.type = json::Value::Type::Object;
    root.object.emplace_back("type", std::move(type));
    root.object.emplace_back("function", std::move(fn));
    return json::write(root, indent);
}

std::string tool_date_string(std::time_t t) {
    static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    localtime_r(&t, &tm);
    const std::string day = std::to_string(tm.tm_mday);
    return (day.size() < 2 ? "0" : "") + day + " " + months[tm.tm_mon] + " " + std::to_string(tm.tm_year + 1900);
}

ToolFormatHints tool_format_hints(const gguf::File& file) {
    auto get = [&](std::string_view key) {
        try {
            const auto v = file.get_string(key);
            return v ? std::string(*v) : std::string();
        } catch (const Error&) {
            return std::string();  // a key of another type gives no hint
        }
    };
    return {get("tokenizer.chat_template"), get("general.name"), get("general.basename"), get("general.size_label")};
}

ToolCallFormat detect_tool_call_format(const ToolFormatHints& h) {
    const std::string tmpl = squeeze(h.chat_template);
    if (tmpl.find("pythonlist") != std::string::npos || tmpl.find("[funcname1(") != std::string::npos)
        return ToolCallFormat::Pythonic;
    const std::string name = squeeze(h.name) + "|" + squeeze(h.basename);
    if (name.find("llama3.2") == std::string::npos) return ToolCallFormat::Json;
    // Llama 3.2 11B/90B Vision call tools as Llama 3.1 does; the 1B/3B text models pythonically.
    const std::string size = squeeze(h.size_label) + "|" + name;
    for (const char* big : {"11b", "90b"})
        if (size.find(big) != std::string::npos) return ToolCallFormat::Json;
    return ToolCallFormat::Pythonic;
}

bool parse_tool_call_format_name(std::string_view name, ToolCallFormat* out) {
    const std::string n = squeeze(name);
    if (n == "json") *out = ToolCallFormat::Json;
    else if (n == "pythonic" || n == "python") *out = ToolCallFormat::Pythonic;
    else return false;
    return true;
}

const char* tool_call_format_name(ToolCallFormat f) {
    return f == ToolCallFormat::Pythonic ? "pythonic" : "json";
}

}  // namespace ld
