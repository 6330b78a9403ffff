#pragma once
// A tool's result before it goes back to the model: cut to a token budget so that one large
// result (a file, a web page) cannot fill the context, with a note saying so.
#include <cstddef>
#include <string>
#include <string_view>

#include "inference/tokenizer/tokenizer.h"

namespace ld {

struct TruncatedToolResult {
    std::string text;           // the result, or its beginning plus "\n[truncated: N of M tokens]"
    size_t kept_tokens = 0;     // N: tokens of the result that were kept
    size_t total_tokens = 0;    // M: tokens of the whole result
    bool truncated = false;
};

// Counts with `tok` (content is encoded as plain text, as the prompt encodes it). When the result
// has more than `max_tokens` tokens, keeps as many leading tokens as fit beside the note, so the
// text stays within the budget (only a budget smaller than the note itself is exceeded, by the
// note). A character is never cut in half.
TruncatedToolResult truncate_tool_result(const Tokenizer& tok, std::string_view result, size_t max_tokens);

}  // namespace ld
