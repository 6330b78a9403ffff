#pragma once
// Llama 3.x custom tool calling, the prompt side: tool definitions, assistant turns that called
// tools and the tools' results ("ipython" turns), rendered exactly as the reference chat templates
// do (vLLM's examples derived from Meta's: tool_chat_template_llama3.1_json.jinja and
// tool_chat_template_llama3.2_pythonic.jinja; tests compare byte for byte with @huggingface/jinja).
//   Json:     Llama 3.1 (and 3.3, 3.2 11B/90B) answer {"name": ..., "parameters": {...}}; the tool
//             list goes into the first user message.
//   Pythonic: Llama 3.2 1B/3B answer [get_sum(a=1, b=2)]; the tool list goes into the system
//             message.
// Results go back in the ipython role as {"output": "..."}. Built-in tools (<|python_tag|>,
// <|eom_id|>) are not used.
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inference/chat/chat_format.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {

namespace gguf {
class File;
}

enum class ToolCallFormat { Json, Pythonic };

// One tool the model may call (an MCP tool: name, description, inputSchema).
struct ToolDefinition {
    std::string name;
    std::string description;
    std::string parameters_json;  // a JSON-schema object; empty: the tool takes no parameters
};

struct ToolPromptOptions {
    ToolCallFormat format = ToolCallFormat::Json;
    // None: the prompt has no tool list and no "Environment: ipython" line (a conversation with
    // tool turns in its history still renders them).
    std::vector<ToolDefinition> tools;
    // "Today Date: ..." in the system message, as "%d %b %Y"; empty: today (tool_date_string() of
    // now), as the templates do where strftime_now exists (transformers, @huggingface/jinja).
    std::string date_string;
    // Whether the tool list goes into the first user message rather than the system message;
    // unset: the template's default (Json: yes, Pythonic: no).
    std::optional<bool> tools_in_user_message;
};

// The prompt's token ids (markers as special tokens, all content and tool text as plain text)
// and the same prompt as text. Throws ld::Error on bad input: a tool's parameters or a call's
// arguments that are not a JSON object, or tools in the user message with no message to hold them.
std::vector<int32_t> apply_tool_chat_template(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                              const ToolPromptOptions& options, bool add_generation_prompt);
std::string render_tool_chat_template(const Tokenizer& tok, const std::vector<ChatMessage>& messages,
                                      const ToolPromptOptions& options, bool add_generation_prompt);

// A tool as the templates list it: {"type": "function", "function": {"name", "description",
// "parameters"}} as JSON (indent 4 in the prompt).
std::string tool_definition_json(const ToolDefinition& tool, int indent);

// "06 Dec 2026": the date as the templates' strftime_now("%d %b %Y") writes it, in local time
// (English month names whatever the locale).
std::string tool_date_string(std::time_t t);

// What decides the tool-call format: GGUF metadata (general.name, general.basename,
// general.size_label, tokenizer.chat_template).
struct ToolFormatHints {
    std::string chat_template;
    std::string name;
    std::string basename;
    std::string size_label;
};
ToolFormatHints tool_format_hints(const gguf::File& file);

// Pythonic when the chat template asks for "a python list" of calls, or for a Llama 3.2 model
// that is not the 11B/90B vision one (those answer as Llama 3.1 does); Json otherwise.
ToolCallFormat detect_tool_call_format(const ToolFormatHints& hints);

// "json" | "pythonic" (case-insensitive; "python" too), for an explicit override.
bool parse_tool_call_format_name(std::string_view name, ToolCallFormat* out);
const char* tool_call_format_name(ToolCallFormat f);

}  // namespace ld
