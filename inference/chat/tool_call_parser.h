#pragma once
// Reading Llama 3.x tool calls out of a finished reply, and telling early whether a reply that is
// still streaming could become one. Both forms are accepted whatever the model's format:
//   JSON (Llama 3.1):      {"name": "get_sum", "parameters": {"a": 1, "b": 2}}
//                          ("arguments" for "parameters" too, also as a JSON string; several
//                          calls separated by ';'; an optional leading <|python_tag|>)
//   pythonic (Llama 3.2):  [get_sum(a=1, b=2), get_time(zone='UTC')]
// A reply that starts like a call but does not parse is Malformed with the reason: front ends show
// it as text with malformed_tool_call_note(), never drop it.
#include <string>
#include <string_view>
#include <vector>

#include "inference/chat/chat_format.h"

namespace ld {

struct ToolCallParse {
    enum class Kind { Text, Calls, Malformed };
    Kind kind = Kind::Text;
    std::vector<ToolCall> calls;  // Calls: at least one; arguments as a compact JSON object
    std::string error;            // Malformed: what is wrong, e.g. "unterminated string at byte 31"
};

ToolCallParse parse_tool_calls(std::string_view reply);

// The line shown under a malformed call's text: "[malformed tool call: REASON]".
std::string malformed_tool_call_note(const ToolCallParse& parse);

// Whether a reply that begins with `partial` may still turn out to be a tool call, so that a front
// end holds the text back instead of showing it (an empty or blank beginning may).
bool may_become_tool_call(std::string_view partial);

}  // namespace ld
