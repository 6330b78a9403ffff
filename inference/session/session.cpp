#include "inference/session/session.h"

#include <algorithm>
#include <chrono>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/reply_stream.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::EndOfGeneration: return "end of generation";
        case StopReason::MaxTokens: return "token limit";
        case StopReason::StopString: return "stop string";
        case StopReason::Cancelled: return "cancelled";
        case StopReason::ContextFull: return "context full";
    }
    return "?";
}

std::vector<int32_t> tokenize_prompt(const Tokenizer& tok, std::string_view text, bool parse_special) {
    std::vector<int32_t> ids;
    if (tok.vocab().add_bos && tok.bos() >= 0) ids.push_back(tok.bos());
    std::vector<int32_t> body = tok.encode(text, parse_special);
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
}

Session::Session(const Model& model, Backend& backend, const Tokenizer& tokenizer)
    : model_(model), backend_(backend), tokenizer_(tokenizer) {
    logits_.resize(size_t(backend_.vocab_size()));
}

int Session::evaluate_suffix(const std::vector<int32_t>& prompt, const std::atomic<bool>* cancel, bool* cancelled) {
    if (prompt.empty()) fail("the prompt is empty");
    if (int(prompt.size()) > backend_.context_size())
        fail("the prompt is ", prompt.size(), " tokens, longer than the ", backend_.context_size(),
             "-token context");
    // Reuse the cached prefix, but always run the last prompt token to get its logits.
    size_t common = 0;
    while (common < cached_.size() && common < prompt.size() && cached_[common] == prompt[common]) ++common;
    if (common == prompt.size()) --common;
    cached_.resize(common);
    const int n = int(prompt.size() - common);
    // In the backend's own batches (so the arithmetic is that of one call), with the cache's
    // bookkeeping after each: a failure or a cancel keeps what ran.
    const int step = std::max(1, backend_.batch_size());
    for (int done = 0; done < n; done += step) {
        if (cancel && cancel->load()) {
            if (cancelled) *cancelled = true;
            return done;
        }
        const int b = std::min(step, n - done);
        backend_.forward(prompt.data() + common + done, b, int(common) + done,
                         done + b == n ? logits_.data() : nullptr, false);  // a failed batch stays out
        cached_.insert(cached_.end(), prompt.begin() + long(common) + done, prompt.begin() + long(common) + done + b);
    }
    return n;
}

const std::vector<float>& Session::evaluate(const std::vector<int32_t>& prompt) {
    evaluate_suffix(prompt);
    return logits_;
}

GenerateResult Session::generate(const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                 const TextCallback& on_text) {
    GenerateResult res;
    const auto t_start = std::chrono::steady_clock::now();
    res.prompt_tokens = int(prompt.size());
    bool cancelled = false;
    res.evaluated_tokens = evaluate_suffix(prompt, opt.cancel, &cancelled);
    res.prompt_ms = ms_since(t_start);
    if (cancelled) {
        res.stop = StopReason::Cancelled;
        return res;
    }

    Sampler sampler(opt.sampling);
    // The reply continues the prompt: its first text keeps its leading space unless the prompt
    // is just a sequence start (BOS).
    ReplyStream out(tokenizer_, opt, res, on_text, prompt.back(), t_start);
    if (opt.drafter) decode_speculative(opt, sampler, out, res);
    else decode_plain(opt, sampler, out, res);
    out.finish();
    return res;
}

void Session::decode_plain(const GenerateOptions& opt, Sampler& sampler, ReplyStream& out, GenerateResult& res) {
    const int n_vocab = backend_.vocab_size();
    for (;;) {
        if (opt.cancel && opt.cancel->load()) { res.stop = StopReason::Cancelled; return; }
        if (int(res.tokens.size()) >= opt.max_tokens) { res.stop = StopReason::MaxTokens; return; }
        const int32_t id = sampler.sample(logits_.data(), n_vocab, cached_);
        if (!out.push(id, logits_.data(), n_vocab)) return;
        if (int(cached_.size()) >= backend_.context_size()) { res.stop = StopReason::ContextFull; return; }
        if (int(res.tokens.size()) >= opt.max_tokens) { res.stop = StopReason::MaxTokens; return; }
        const auto t0 = std::chrono::steady_clock::now();
        backend_.forward(&id, 1, int(cached_.size()), logits_.data(), false);
        res.decode_ms += ms_since(t0);
        res.decode_steps++;
        cached_.push_back(id);
    }
}

}  // namespace ld
