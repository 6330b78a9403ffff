#include "inference/chat/chat_format.h"

#include <cctype>

#include "inference/chat/prompt_builder.h"
#include "inference/core/error.h"

namespace ld {
namespace {

std::string_view trim(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>...
void build_llama3(Prompt& p, const Tokenizer& tok, const std::vector<ChatMessage>& msgs, bool gen) {
    p.bos_if(tok.vocab().add_bos);
    for (const ChatMessage& m : msgs) {
        p.special("<|start_header_id|>");
        p.text(m.role);
        p.special("<|end_header_id|>");
        p.text("\n\n");
        p.text(trim(m.content));
        p.special("<|eot_id|>");
    }
    if (gen) {
        p.special("<|start_header_id|>");
        p.text("assistant");
        p.special("<|end_header_id|>");
        p.text("\n\n");
    }
}

// <s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] user [/INST]
// (Meta's reference format; the model's reply follows [/INST] without a further marker.)
void build_llama2(Prompt& p, const Tokenizer& tok, const std::vector<ChatMessage>& msgs) {
    std::string system;
    bool have_system = false, first_turn = true, open_turn = false;
    size_t start = 0;
    if (!msgs.empty() && msgs[0].role == "system") {
        system = std::string(trim(msgs[0].content));
        have_system = true;
        start = 1;
    }
    auto open = [&](std::string_view content) {
        p.bos_if(first_turn ? tok.vocab().add_bos : true);
        p.text("[INST] ");
        if (have_system) {
            p.text("<<SYS>>\n");
            p.text(system);
            p.text("\n<</SYS>>\n\n");
            have_system = false;
        }
        p.text(trim(content));
        p.text(" [/INST]");
        first_turn = false;
        open_turn = true;
    };
    for (size_t i = start; i < msgs.size(); ++i) {
        const ChatMessage& m = msgs[i];
        if (m.role == "assistant") {
            if (!open_turn) open("");
            p.text(" ");
            p.text(trim(m.content));
            p.text(" ");
            if (tok.vocab().eos >= 0) p.token(tok.vocab().eos);
            open_turn = false;
        } else {
            open(m.content);  // user, and any other role, asks
        }
    }
    if (have_system) open("");  // a system prompt alone still opens the first turn
}

// <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n
void build_chatml(Prompt& p, const Tokenizer& tok, const std::vector<ChatMessage>& msgs, bool gen) {
    p.bos_if(tok.vocab().add_bos);
    for (const ChatMessage& m : msgs) {
        p.special("<|im_start|>");
        p.text(m.role);
        p.text("\n");
        p.text(m.content);
        p.special("<|im_end|>");
        p.text("\n");
    }
    if (gen) {
        p.special("<|im_start|>");
        p.text("assistant\n");
    }
}

Prompt build(ChatTemplate t, const Tokenizer& tok, const std::vector<ChatMessage>& msgs, bool gen) {
    Prompt p(tok);
    switch (t) {
        case ChatTemplate::Llama3: build_llama3(p, tok, msgs, gen); break;
        case ChatTemplate::Llama2: build_llama2(p, tok, msgs); break;
        case ChatTemplate::ChatML: build_chatml(p, tok, msgs, gen); break;
        default: fail("unknown chat template ", int(t));
    }
    return p;
}

bool has_token(const Vocab& v, std::string_view text) {
    for (const std::string& t : v.tokens)
        if (t == text) return true;
    return false;
}

}  // namespace

ChatTemplate detect_chat_template(const Vocab& vocab, std::string_view architecture) {
    const std::string& tmpl = vocab.chat_template;
    if (tmpl.find("<|start_header_id|>") != std::string::npos) return ChatTemplate::Llama3;
    if (tmpl.find("<|im_start|>") != std::string::npos) return ChatTemplate::ChatML;
    if (tmpl.find("[INST]") != std::string::npos) return ChatTemplate::Llama2;
    if (has_token(vocab, "<|start_header_id|>")) return ChatTemplate::Llama3;
    if (has_token(vocab, "<|im_start|>")) return ChatTemplate::ChatML;
    if (architecture.starts_with("qwen")) return ChatTemplate::ChatML;
    if (vocab.model == "llama") return ChatTemplate::Llama2;  // SentencePiece Llama / Mistral
    if (vocab.pre == "llama-bpe") return ChatTemplate::Llama3;
    return ChatTemplate::ChatML;
}

bool parse_chat_template_name(std::string_view name, ChatTemplate* out) {
    std::string n;
    for (char c : name)
        if (c != '-' && c != '_' && c != '.' && c != ' ') n += char(std::tolower(uint8_t(c)));
    if (n == "llama3" || n == "llama31" || n == "llama32" || n == "llama33") *out = ChatTemplate::Llama3;
    else if (n == "llama2") *out = ChatTemplate::Llama2;
    else if (n == "chatml") *out = ChatTemplate::ChatML;
    else return false;
    return true;
}

const char* chat_template_name(ChatTemplate t) {
    switch (t) {
        case ChatTemplate::Llama3: return "llama3";
        case ChatTemplate::Llama2: return "llama2";
        case ChatTemplate::ChatML: return "chatml";
    }
    return "unknown";
}

std::vector<int32_t> apply_chat_template(ChatTemplate t, const Tokenizer& tok,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) {
    return build(t, tok, messages, add_generation_prompt).ids();
}

std::string render_chat_template(ChatTemplate t, const Tokenizer& tok,
                                 const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) {
    return build(t, tok, messages, add_generation_prompt).rendered();
}

std::vector<std::string> chat_stop_strings(ChatTemplate t) {
    switch (t) {
        case ChatTemplate::Llama3: return {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"};
        case ChatTemplate::Llama2: return {"</s>", "[INST]"};
        case ChatTemplate::ChatML: return {"<|im_end|>", "<|im_start|>", "<|endoftext|>"};
    }
    return {};
}

}  // namespace ld
