#include "app/cli/server/gen_queue.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "inference/core/error.h"
#include "inference/tokenizer/tokenizer.h"

namespace ld::server {

TokenLogprob token_logprob(const Tokenizer& tok, const float* logits, int n_vocab, int32_t id, int top) {
    float mx = -INFINITY;
    for (int i = 0; i < n_vocab; ++i)
        if (std::isfinite(logits[i])) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < n_vocab; ++i)
        if (std::isfinite(logits[i])) sum += std::exp(double(logits[i] - mx));
    const double log_z = double(mx) + std::log(sum);
    auto lp = [&](int i) {
        return std::isfinite(logits[i]) ? float(double(logits[i]) - log_z) : -INFINITY;
    };
    TokenLogprob t;
    t.bytes = tok.token_bytes(id);
    t.logprob = lp(id);
    if (top > 0) {
        std::vector<int32_t> ids(static_cast<size_t>(n_vocab));
        std::iota(ids.begin(), ids.end(), 0);
        const size_t k = std::min(size_t(top), ids.size());
        std::partial_sort(ids.begin(), ids.begin() + long(k), ids.end(), [&](int32_t a, int32_t b) {
            const float la = lp(a), lb = lp(b);
            return la != lb ? la > lb : a < b;
        });
        for (size_t i = 0; i < k; ++i) t.top.emplace_back(tok.token_bytes(ids[i]), lp(ids[i]));
    }
    // JSON has no -Infinity: a NaN/-inf logit becomes the most negative float instead.
    if (!std::isfinite(t.logprob)) t.logprob = -3.4e38f;
    for (auto& [b, l] : t.top)
        if (!std::isfinite(l)) l = -3.4e38f;
    return t;
}

GenerationQueue::GenerationQueue(Session& session, ServedModel served, size_t capacity, DraftConfig draft)
    : session_(session), served_(std::move(served)), capacity_(std::max<size_t>(1, capacity)), draft_(draft) {
    worker_ = std::thread([this] { run(); });
}

GenerationQueue::~GenerationQueue() {
    shutdown();
    worker_.join();
}

void GenerationQueue::shutdown() {
    std::deque<std::shared_ptr<GenJob>> waiting;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        waiting.swap(waiting_);
        if (current_) current_->cancel.store(true);
    }
    cv_.notify_all();
    // Jobs that never ran end as cancelled, so no HTTP thread waits for them forever.
    for (auto& j : waiting) j->end_cancelled();
}

bool GenerationQueue::submit(const std::shared_ptr<GenJob>& job) {
    draft_.apply(*job);
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_ || waiting_.size() + (current_ ? 1 : 0) >= capacity_) return false;
        waiting_.push_back(job);
    }
    cv_.notify_all();
    return true;
}

void GenerationQueue::cancel(const std::shared_ptr<GenJob>& job) {
    job->cancel.store(true);
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = std::find(waiting_.begin(), waiting_.end(), job);
        if (it == waiting_.end()) return;
        waiting_.erase(it);
    }
    job->end_cancelled();
}

void GenerationQueue::run() {
    for (;;) {
        std::shared_ptr<GenJob> job;
        {
            std::unique_lock<std::mutex> lock(mu_);
            current_.reset();
            cv_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
            if (stop_) return;
            job = waiting_.front();
            waiting_.pop_front();
            current_ = job;
        }
        execute(*job);
    }
}

void JobOutput::token(int32_t id, const float* logits, int n_vocab) {
    pending_.push_back(token_logprob(tok_, logits, n_vocab, id, job_.logprobs_top));
}

bool JobOutput::text(std::string_view text) {
    job_.add_piece(std::string(text), std::move(pending_));
    pending_.clear();
    return !job_.cancel.load();
}

void JobOutput::finish(const GenerateResult& res) {
    if (!pending_.empty() && res.stop != StopReason::StopString) job_.add_piece({}, std::move(pending_));
    pending_.clear();
}

GenerateOptions JobOutput::options() {
    GenerateOptions opt = job_.options;
    opt.cancel = &job_.cancel;
    if (job_.logprobs_top >= 0)
        opt.on_token = [this](int32_t id, const float* logits, int n_vocab) { token(id, logits, n_vocab); };
    return opt;
}

void GenerationQueue::execute(GenJob& job) {
    JobOutput out(job, *served_.tokenizer);
    const GenerateOptions opt = out.options();
    GenerateResult res;
    std::string error;
    try {
        res = session_.generate(job.prompt, opt, [&](std::string_view text) { return out.text(text); });
    } catch (const std::exception& e) {
        error = e.what();
        // The cache may hold a half-run batch: start the next request from scratch.
        session_.clear();
    }
    out.finish(res);
    job.end(std::move(res), std::move(error));
}

}  // namespace ld::server
