#pragma once
// The generate loop: evaluates a prompt (reusing the KV cache for a prefix it already holds),
// samples tokens, streams valid UTF-8 text, and stops on end-of-generation tokens, stop strings,
// a token limit, a full context or cancellation.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "inference/sampler/sampler.h"

namespace ld {

class Backend;
class Drafter;
class ReplyStream;
class Tokenizer;
struct Model;

struct GenerateOptions {
    int max_tokens = 256;
    SamplerParams sampling;
    std::vector<std::string> stop_strings;
    // Checked before every generated token and between the prompt's batches (a long prompt on
    // the CPU can take minutes): a cancelled prompt keeps the batches already run in the cache.
    const std::atomic<bool>* cancel = nullptr;
    // Called with each sampled token (never an end-of-generation one) and the logits it was
    // drawn from, before its text is streamed: the API server's logprobs.
    std::function<void(int32_t id, const float* logits, int n_vocab)> on_token;
    // Speculative decoding (speculative.h): a drafter (a small model, or prompt lookup) proposes
    // tokens that the model checks in one batch. Greedy output is the same as without it; sampled
    // output follows the same distribution. Null: plain decoding. Not owned; one thread at a time
    // per drafter (a BatchScheduler may share one between its requests: a DraftModel rewinds its
    // cache to each request's history).
    Drafter* drafter = nullptr;
    int draft_max = 8;  // most tokens drafted per step, 1..16 (the draft length adapts below it)
    // A chat reply drops its leading whitespace: SentencePiece and BPE models start it with the
    // space that follows the prompt's last tag. Applied once, in ReplyStream (reply_stream.h),
    // for Session and BatchScheduler alike: whitespace (ASCII and Unicode) before the first
    // visible character is neither streamed nor put in GenerateResult::text; nothing after it
    // is touched. False (a completion): the text is streamed exactly, so prompt + reply is the
    // whole text ("The cat" continues with " and").
    bool trim_leading_space = false;
};

// Length of the longest suffix of `text` that is a proper prefix of one of `stops`: that much of
// a streamed reply must be held back, since what follows may complete a stop string
// (reply_stream.cpp; also the app's API server, which applies stop strings to streamed text).
size_t stop_string_hold(std::string_view text, const std::vector<std::string>& stops);

enum class StopReason { EndOfGeneration, MaxTokens, StopString, Cancelled, ContextFull };
const char* stop_reason_name(StopReason r);

struct GenerateResult {
    std::string text;          // everything streamed
    std::vector<int32_t> tokens;  // generated ids
    int prompt_tokens = 0;     // prompt length
    int evaluated_tokens = 0;  // prompt tokens actually run (the rest came from the cache)
    double prompt_ms = 0;      // time to evaluate them
    double ttft_ms = 0;        // from the call to the first token's text
    // Tokens produced after the first (plain decoding runs one forward pass each; speculative
    // decoding produces the accepted drafts and the model's own token per verification pass).
    int decode_steps = 0;
    double decode_ms = 0;      // their time, drafting included
    int drafted = 0;           // speculative: tokens the drafter proposed
    int accepted = 0;          // of them, the ones the model accepted
    int verify_passes = 0;     // speculative: forward passes of the model after the first token
    StopReason stop = StopReason::MaxTokens;

    double prompt_tps() const { return prompt_ms > 0 ? evaluated_tokens * 1000.0 / prompt_ms : 0; }
    double gen_tps() const { return decode_ms > 0 ? decode_steps * 1000.0 / decode_ms : 0; }
    double acceptance_rate() const { return drafted > 0 ? double(accepted) / drafted : 0; }
};

// Receives each piece of text as it becomes valid UTF-8; return false to stop.
using TextCallback = std::function<bool(std::string_view)>;

class Session {
public:
    Session(const Model& model, Backend& backend, const Tokenizer& tokenizer);

    // Runs the prompt through the model and returns the last position's logits.
    const std::vector<float>& evaluate(const std::vector<int32_t>& prompt);
    GenerateResult generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                            const TextCallback& on_text);
    // Tokens whose keys and values are in the cache.
    const std::vector<int32_t>& cached_tokens() const { return cached_; }
    void clear() { cached_.clear(); }

private:
    // Runs what the cache lacks of `prompt` in the backend's batches; returns the tokens run.
    // Stops between batches when `cancel` is set (*cancelled = true; the cache then holds the
    // prompt's prefix that ran).
    int evaluate_suffix(const std::vector<int32_t>& prompt, const std::atomic<bool>* cancel = nullptr,
                        bool* cancelled = nullptr);
    // The decode loops after the prompt: one token per pass, or drafted tokens verified in one
    // batch per pass (speculative.cpp). Both leave cached_ a prefix of prompt + reply whose keys
    // and values are in the backend's cache.
    void decode_plain(const GenerateOptions& opt, Sampler& sampler, ReplyStream& out, GenerateResult& res);
    void decode_speculative(const GenerateOptions& opt, Sampler& sampler, ReplyStream& out, GenerateResult& res);

    const Model& model_;
    Backend& backend_;
    const Tokenizer& tokenizer_;
    std::vector<int32_t> cached_;
    std::vector<float> logits_;
};

// Raw-text prompt: BOS when the vocabulary asks for it, text without special-token parsing.
std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, std::string_view text, bool parse_special = false);

}  // namespace ld
