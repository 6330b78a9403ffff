#pragma once
// Python literals, as Llama 3.2's pythonic tool calls write them: `[get_sum(a=1, b=2.5)]` with
// strings ('..', "..", triple-quoted, escapes), ints (also 0x.., 1_000), floats, True/False/None,
// lists, tuples and dicts. Read into json::Value (a tuple becomes an array; a dict key that is a
// number or True/False/None becomes its JSON text, as json.dumps does), and written back the way
// Python's str() / "%s" prints them.
#include <cstddef>
#include <string>
#include <string_view>

#include "inference/tokenizer/json_lite.h"

namespace ld::python {

// Reads one literal at `pos` (leading spaces skipped) and moves `pos` past it. Throws ld::Error
// naming what is wrong and where ("unterminated string at byte 12").
json::Value parse_literal(std::string_view text, size_t& pos);

// Python identifiers as tool names use them: [A-Za-z_][A-Za-z0-9_]*, plus '.' and '-' inside
// (MCP tool names like "get-sum" or "fs.read"). Returns the length at `pos`, 0 if none.
size_t identifier_length(std::string_view text, size_t pos);

// str(value) in Python: a string is itself, other values their repr ('a', 1.5, True, None,
// ['x', 2], {'k': 'v'}). A number with no fraction below 1e16 prints as an int.
std::string str(const json::Value& v);
std::string repr(const json::Value& v);

}  // namespace ld::python
