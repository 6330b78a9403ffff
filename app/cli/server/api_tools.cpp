#include "app/cli/server/api_tools.h"

#include <nlohmann/json.hpp>

#include "app/cli/server/api_format.h"

namespace ld::server {

bool offers_tools(const ApiRequest& r) { return !r.tools.empty() && r.tool_choice != ToolChoice::None; }

bool uses_tools(const ApiRequest& r) {
    if (offers_tools(r)) return true;
    for (const ApiMessage& m : r.messages)
        if (m.role == "tool" || !m.tool_calls.empty()) return true;
    return false;
}

std::vector<ChatMessage> chat_messages(const ApiRequest& r) {
    std::vector<ChatMessage> out;
    for (const ApiMessage& m : r.messages) {
        ChatMessage c{m.role == "tool" ? "ipython" : m.role, m.content};
        for (const ApiToolCall& t : m.tool_calls) c.tool_calls.push_back({t.name, t.arguments});
        out.push_back(std::move(c));
    }
    return out;
}

ToolPromptOptions tool_prompt_options(const ApiRequest& r, ToolCallFormat format, std::string date_string) {
    ToolPromptOptions o;
    o.format = format;
    o.date_string = std::move(date_string);
    if (offers_tools(r))
        for (const ApiTool& t : r.tools) o.tools.push_back({t.name, t.description, t.parameters});
    return o;
}

std::vector<ApiToolCall> reply_tool_calls(const ToolCallParse& parse) {
    std::vector<ApiToolCall> out;
    if (parse.kind != ToolCallParse::Kind::Calls) return out;
    for (const ToolCall& c : parse.calls) {
        std::string id = random_id("call_");
        // The parser checked that the arguments are a JSON object; dump() makes them compact.
        const nlohmann::json args = nlohmann::json::parse(c.arguments_json, nullptr, false);
        out.push_back({std::move(id), c.name, args.is_object() ? args.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : std::string("{}")});
    }
    return out;
}

std::string ToolCallStream::feed(std::string_view piece) {
    if (released_) return std::string(piece);
    held_.append(piece);
    if (may_become_tool_call(held_)) return {};
    released_ = true;
    return std::move(held_);
}

ToolCallStream::End ToolCallStream::finish() {
    End end;
    if (released_) return end;
    released_ = true;
    end.calls = reply_tool_calls(parse_tool_calls(held_));
    if (end.calls.empty()) end.text = std::move(held_);  // text after all, or a malformed call: as text
    return end;
}

}  // namespace ld::server
