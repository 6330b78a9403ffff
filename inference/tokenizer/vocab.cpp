// Vocabularies from files other than GGUF (Hugging Face tokenizer.json), and the defaults
// shared by every loader.
#include "inference/core/error.h"
#include "inference/tokenizer/json_lite.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {
namespace {

constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int32_t find_text(const Vocab& v, std::string_view text) {
    for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.tokens[i] == text) return int32_t(i);
    return -1;
}

// The pre-tokenizer name (GGUF tokenizer.ggml.pre spelling) of a tokenizer.json.
std::string hf_pre_name(const json::Value* pre) {
    if (!pre) fail("tokenizer.json: no pre_tokenizer");
    std::vector<const json::Value*> steps;
    if (const json::Value* seq = pre->find("pretokenizers"); seq && seq->is_array())
        for (const auto& s : seq->array) steps.push_back(&s);
    else
        steps.push_back(pre);
    for (const json::Value* s : steps) {
        const json::Value* type = s->find("type");
        if (!type || !type->is_string()) continue;
        if (type->string == "Split") {
            const json::Value* pattern = s->find("pattern");
            const json::Value* regex = pattern ? pattern->find("Regex") : nullptr;
            if (regex && regex->is_string() && regex->string == kLlama3Pattern) return "llama-bpe";
            fail("tokenizer.json: unsupported split pattern ",
                 regex && regex->is_string() ? regex->string : std::string("(none)"));
        }
        if (type->string == "ByteLevel") {
            const json::Value* use_regex = s->find("use_regex");
            if (!use_regex || use_regex->as_bool("use_regex")) return "gpt-2";
        }
    }
    fail("tokenizer.json: unsupported pre_tokenizer");
}

}  // namespace

void fill_missing_special_ids(Vocab& v) {
    if (v.eot < 0) {
        for (std::string_view t : {"<|eot_id|>", "<|im_end|>", "<|end_of_turn|>", "<end_of_turn>"}) {
            v.eot = find_text(v, t);
            if (v.eot >= 0) break;
        }
    }
    if (v.eom < 0) v.eom = find_text(v, "<|eom_id|>");
}

Vocab vocab_from_hf_tokenizer_json(std::string_view text) {
    const json::Value root = json::parse(text);
    const json::Value* model = root.find("model");
    if (!model || !model->is_object()) fail("tokenizer.json: no model");
    const json::Value* type = model->find("type");
    if (!type || type->as_string("model.type") != "BPE") fail("tokenizer.json: only BPE models are supported");

    Vocab v;
    v.model = "gpt2";
    v.pre = hf_pre_name(root.find("pre_tokenizer"));
    v.add_space_prefix = false;
    v.add_bos = true;

    const json::Value* vocab = model->find("vocab");
    if (!vocab || !vocab->is_object()) fail("tokenizer.json: model.vocab is not an object");
    auto place = [&](const std::string& token, int64_t id, TokenType t) {
        if (id < 0 || id > 10'000'000) fail("tokenizer.json: token id ", id, " out of range");
        if (size_t(id) >= v.tokens.size()) {
            v.tokens.resize(size_t(id) + 1);
            v.types.resize(size_t(id) + 1, int32_t(TokenType::Undefined));
        }
        v.tokens[size_t(id)] = token;
        v.types[size_t(id)] = int32_t(t);
    };
    for (const auto& [token, id] : vocab->object) place(token, id.as_int("vocab id"), TokenType::Normal);
    if (const json::Value* added = root.find("added_tokens"); added && added->is_array()) {
        for (const auto& a : added->array) {
            const json::Value* content = a.find("content");
            const json::Value* id = a.find("id");
            const json::Value* special = a.find("special");
            if (!content || !id) fail("tokenizer.json: added token without content or id");
            const bool is_special = special && special->as_bool("added_tokens.special");
            place(content->as_string("added_tokens.content"), id->as_int("added_tokens.id"),
                  is_special ? TokenType::Control : TokenType::UserDefined);
        }
    }
    for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.types[i] == int32_t(TokenType::Undefined)) v.types[i] = int32_t(TokenType::Unused);

    const json::Value* merges = model->find("merges");
    if (!merges || !merges->is_array()) fail("tokenizer.json: model.merges is not an array");
    v.merges.reserve(merges->array.size());
    for (const auto& m : merges->array) {
        if (m.is_string()) v.merges.push_back(m.string);
        else if (m.is_array() && m.array.size() == 2)  // newer format: ["a", "b"]
            v.merges.push_back(m.array[0].as_string("merge") + " " + m.array[1].as_string("merge"));
        else fail("tokenizer.json: malformed merge");
    }

    v.bos = find_text(v, "<|begin_of_text|>");
    v.eos = find_text(v, "<|end_of_text|>");
    fill_missing_special_ids(v);
    return v;
}

}  // namespace ld
