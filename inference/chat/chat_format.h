#pragma once
// Chat prompt formats: turn a conversation into token ids for Llama 3.x, Llama 2 and ChatML
// models. Message content is always encoded as plain text (typing "<|eot_id|>" cannot end a
// turn); only the format's own markers become special tokens.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inference/tokenizer/tokenizer.h"

namespace ld {

enum class ChatTemplate { Llama3, Llama2, ChatML };

// A call the assistant made to a tool (tool_format.h renders it, tool_call_parser.h reads it).
struct ToolCall {
    std::string name;
    std::string arguments_json;  // a JSON object, e.g. {"a": 1, "b": 2}
};

struct ChatMessage {
    // "system" | "user" | "assistant" | "ipython" (a tool's result; "tool" is the same) - others
    // are passed through
    std::string role;
    std::string content;
    // An assistant turn that called tools: rendered from these instead of content
    // (render_tool_chat_template; the plain formats above ignore them).
    std::vector<ToolCall> tool_calls = {};
};

// The format a model expects: from tokenizer.chat_template's text ("<|start_header_id|>",
// "<|im_start|>", "[INST]"), else from the special tokens the vocabulary has, else from the
// architecture (general.architecture, may be empty) and tokenizer kind.
ChatTemplate detect_chat_template(const Vocab& vocab, std::string_view architecture = {});

// "llama3" | "llama2" | "chatml" (case-insensitive; "llama-3", "llama31", "chat-ml" too).
bool parse_chat_template_name(std::string_view name, ChatTemplate* out);
const char* chat_template_name(ChatTemplate t);

// The prompt's token ids: BOS when the vocabulary adds one, markers as special tokens where
// the vocabulary has them, content with parse_special = false. With add_generation_prompt the
// prompt ends where the assistant's reply begins.
std::vector<int32_t> apply_chat_template(ChatTemplate t, const Tokenizer& tok,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt);

// The same prompt as text, special tokens written out (for display, logs and tests).
std::string render_chat_template(ChatTemplate t, const Tokenizer& tok,
                                 const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt);

// Texts that end the assistant's turn if the model writes them out as text.
std::vector<std::string> chat_stop_strings(ChatTemplate t);

}  // namespace ld
