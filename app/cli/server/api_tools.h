#pragma once
// Tool calling on /v1/chat/completions (issue 18): an OpenAI request's tools and tool turns to
// the Llama 3 tool prompt (the same formatter as the app and the CLI: tool_format.h), and a
// reply's calls (tool_call_parser.h) to OpenAI's tool_calls. The server never runs a tool: the
// client does and sends the result back as a "tool" message.
#include <string>
#include <string_view>
#include <vector>

#include "app/cli/server/api_request.h"
#include "inference/chat/chat_format.h"
#include "inference/chat/tool_call_parser.h"
#include "inference/chat/tool_format.h"

namespace ld::server {

// Whether the prompt needs the tool formatter: tools offered, or tool calls / results in the
// history (they render even when tool_choice is "none").
bool uses_tools(const ApiRequest& r);
// Whether the reply is read for calls: tools given and tool_choice is not "none".
bool offers_tools(const ApiRequest& r);

// The messages as the formatter takes them: assistant tool_calls become ToolCalls, a "tool"
// message an ipython turn.
std::vector<ChatMessage> chat_messages(const ApiRequest& r);
// The tool list (empty with tool_choice "none") in `format`; date_string empty: today.
ToolPromptOptions tool_prompt_options(const ApiRequest& r, ToolCallFormat format, std::string date_string = {});

// A parsed reply's calls as OpenAI returns them: ids "call_" + 24 random letters and digits,
// arguments as compact JSON text.
std::vector<ApiToolCall> reply_tool_calls(const ToolCallParse& parse);

// A streamed reply read for tool calls: text is held back while the reply may still become a call
// (OpenAI's clients expect either content deltas or tool_calls deltas, not both); once it cannot,
// what was held and every later piece pass straight through.
class ToolCallStream {
public:
    // The text to send now for this piece (empty while held).
    std::string feed(std::string_view piece);
    struct End {
        std::vector<ApiToolCall> calls;  // the reply was calls: send these, finish_reason tool_calls
        std::string text;                // else what is still held, to send as text
    };
    End finish();

private:
    bool released_ = false;
    std::string held_;
};

}  // namespace ld::server
