#include "inference/session/speculative.h"

#include <algorithm>
#include <chrono>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/session/reply_stream.h"
#include "inference/session/session.h"

namespace ld {

namespace {

// Seeds derived from the sampling seed, so that a seeded speculative run repeats exactly, and
// the draft's and the acceptance draws are independent of the sampler's own stream.
constexpr uint64_t kDraftSeedMix = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kAcceptSeedMix = 0xd1b54a32d192ed03ull;

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double prob_of(const TokenDistribution& d, int32_t id) {
    for (const auto& [t, p] : d)
        if (t == id) return p;
    return 0;
}

}  // namespace

int32_t draw_token(const TokenDistribution& d, double total, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0.0, total);
    const double r = u(rng);
    double acc = 0;
    for (const auto& [t, p] : d) {
        acc += p;
        if (r < acc) return t;
    }
    for (auto it = d.rbegin(); it != d.rend(); ++it)  // rounding: the last token with mass
        if (it->second > 0) return it->first;
    return d.empty() ? 0 : d.back().first;
}

void check_draft(const Drafter& drafter, Draft& d, int k, int n_vocab) {
    const size_t keep = size_t(std::max(k, 0));
    if (d.tokens.size() > keep) d.tokens.resize(keep);
    if (!d.q.empty() && d.q.size() < d.tokens.size())
        fail(drafter.name(), " gave ", d.q.size(), " distributions for ", d.tokens.size(), " drafted tokens");
    for (int32_t t : d.tokens)
        if (t < 0 || t >= n_vocab) fail(drafter.name(), " drafted token id ", t, ", outside the vocabulary (", n_vocab, " tokens)");
}

DraftJudge::DraftJudge(int n_vocab, const SamplerParams& sampling)
    : n_vocab_(n_vocab), rng_(sampling.seed ^ kAcceptSeedMix) {
    if (sampling.temperature > 0) qdense_.assign(size_t(n_vocab), 0.0);
}

int DraftJudge::judge(const Draft& d, const float* rows, Sampler& sampler, std::vector<int32_t>& history,
                      std::vector<int32_t>& commit) {
    const int kd = int(d.tokens.size());
    const size_t h = history.size();
    const bool greedy = sampler.params().temperature <= 0;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    commit.clear();
    int m = 0;
    for (;; ++m) {
        const float* row = rows + size_t(m) * size_t(n_vocab_);
        if (m == kd) {  // every draft accepted: the model's own next token, for free
            commit.push_back(sampler.sample(row, n_vocab_, history));
            break;
        }
        const int32_t t = d.tokens[size_t(m)];
        if (greedy) {
            const int32_t want = sampler.sample(row, n_vocab_, history);
            if (want != t) {
                commit.push_back(want);
                break;
            }
        } else {
            sampler.distribution(row, n_vocab_, history, p_);
            const double pt = prob_of(p_, t);
            const double qt = d.q.empty() ? 1.0 : prob_of(d.q[size_t(m)], t);
            if (!(qt > 0 && unit(rng_) < pt / qt)) {
                // Rejected: draw from norm(max(0, p - q)), which with the acceptances makes the
                // output distribution exactly p.
                if (qdense_.empty()) qdense_.assign(size_t(n_vocab_), 0.0);  // greedy sampler swapped for a sampled one
                if (d.q.empty()) qdense_[size_t(t)] = 1.0;
                else for (const auto& [id, qi] : d.q[size_t(m)]) qdense_[size_t(id)] = qi;
                double total = 0;
                for (auto& [id, pr] : p_) {
                    pr = std::max(0.0, pr - qdense_[size_t(id)]);
                    total += pr;
                }
                std::fill(qdense_.begin(), qdense_.end(), 0.0);
                // p == q where they overlap leaves no mass only through rounding: draw from p.
                if (!(total > 0)) sampler.distribution(row, n_vocab_, history, p_), total = 1.0;
                commit.push_back(draw_token(p_, total, rng_));
                break;
            }
        }
        commit.push_back(t);
        history.push_back(t);
    }
    history.resize(h);
    return m;
}

void check_draft_vocabulary(const Model& target, const Model& draft) {
    const Vocab& a = target.vocab;
    const Vocab& b = draft.vocab;
    const std::string who = "the draft model " + (draft.name.empty() ? draft.path : draft.name);
    if (target.params.n_vocab != draft.params.n_vocab)
        fail(who, " has a vocabulary of ", draft.params.n_vocab, " tokens, the model ", target.params.n_vocab,
             ": a draft must share the model's vocabulary");
    if (a.tokens.empty() || b.tokens.empty()) return;  // synthetic: ids are all there is
    if (a.tokens.size() != b.tokens.size())
        fail(who, " lists ", b.tokens.size(), " token texts, the model ", a.tokens.size());
    for (size_t i = 0; i < a.tokens.size(); ++i)
        if (a.tokens[i] != b.tokens[i])
            fail(who, " has a different vocabulary: token ", i, " is '", b.tokens[i], "' there and '", a.tokens[i],
                 "' in the model");
}

DraftModel::DraftModel(const Model& target, const Model& draft, Backend& draft_backend)
    : model_(draft), backend_(draft_backend) {
    check_draft_vocabulary(target, draft);
    if (backend_.vocab_size() != target.params.n_vocab)
        fail("the draft model's backend has ", backend_.vocab_size(), " logits a token, the model ",
             target.params.n_vocab);
    logits_.resize(size_t(backend_.vocab_size()));
    sampler_ = std::make_unique<Sampler>(SamplerParams{});
}

std::string DraftModel::name() const { return "draft model " + (model_.name.empty() ? model_.path : model_.name); }

void DraftModel::begin(const SamplerParams& sampling) {
    sampler_ = std::make_unique<Sampler>(sampling);
    rng_.seed(sampling.seed ^ kDraftSeedMix);
}

void DraftModel::draft(const std::vector<int32_t>& history, int k, Draft& out) {
    out.clear();
    const int ctx = backend_.context_size();
    const int h = int(history.size());
    // The last drafted token is never run here: k - 1 of them go into the cache after history.
    k = std::min(k, ctx - h + 1);
    if (k <= 0 || h == 0) return;
    // Rewind to the prefix the cache shares with history; run the rest (at least the last
    // token, whose logits give the first proposal).
    size_t common = 0;
    while (common < cached_.size() && common < history.size() && cached_[common] == history[common]) ++common;
    if (common == history.size()) --common;
    cached_.resize(common);
    backend_.forward(history.data() + common, h - int(common), int(common), logits_.data(), false);
    cached_.assign(history.begin(), history.end());
    seq_.assign(history.begin(), history.end());
    const int n_vocab = backend_.vocab_size();
    const bool greedy = sampler_->params().temperature <= 0;
    TokenDistribution q;
    for (int i = 0; i < k; ++i) {
        int32_t t;
        if (greedy) {
            t = sampler_->sample(logits_.data(), n_vocab, seq_);
        } else {
            sampler_->distribution(logits_.data(), n_vocab, seq_, q);
            t = draw_token(q, 1.0, rng_);
            out.q.push_back(q);
        }
        out.tokens.push_back(t);
        seq_.push_back(t);
        if (i + 1 == k) break;
        backend_.forward(&t, 1, int(cached_.size()), logits_.data(), false);
        cached_.push_back(t);
    }
}

void Session::decode_speculative(const GenerateOptions& opt, Sampler& sampler, ReplyStream& out,
                                 GenerateResult& res) {
    if (opt.draft_max < 1 || opt.draft_max > 16) fail("the draft length must be 1 to 16, got ", opt.draft_max);
    Drafter& drafter = *opt.drafter;
    drafter.begin(opt.sampling);
    const int n_vocab = backend_.vocab_size();
    const int ctx = backend_.context_size();

    // The first token comes from the prompt's logits, as in plain decoding.
    if (opt.cancel && opt.cancel->load()) { res.stop = StopReason::Cancelled; return; }
    if (int(res.tokens.size()) >= opt.max_tokens) { res.stop = StopReason::MaxTokens; return; }
    int32_t last = sampler.sample(logits_.data(), n_vocab, cached_);
    if (!out.push(last, logits_.data(), n_vocab)) return;
    if (int(cached_.size()) >= ctx) { res.stop = StopReason::ContextFull; return; }
    if (int(res.tokens.size()) >= opt.max_tokens) { res.stop = StopReason::MaxTokens; return; }

    // Invariant between passes: cached_ is history without its last token, `last`, which the
    // next verification batch starts with.
    std::vector<int32_t> history = cached_;
    history.push_back(last);
    DraftLength length(opt.draft_max);
    DraftJudge judge(n_vocab, opt.sampling);
    Draft d;
    std::vector<int32_t> batch;
    std::vector<float> rows;
    std::vector<int32_t> commit;  // accepted drafts + the model's own token
    for (;;) {
        if (opt.cancel && opt.cancel->load()) { res.stop = StopReason::Cancelled; return; }
        const auto t0 = std::chrono::steady_clock::now();
        // The batch writes positions [h - 1, h - 1 + k], all inside the context; the accepted
        // drafts and one token more must fit the token limit.
        const int h = int(history.size());
        const int k = std::min({length.next(), ctx - h, opt.max_tokens - int(res.tokens.size()) - 1});
        d.clear();
        if (k > 0) drafter.draft(history, k, d);
        check_draft(drafter, d, k, n_vocab);
        const int kd = int(d.tokens.size());

        batch.assign(1, last);
        batch.insert(batch.end(), d.tokens.begin(), d.tokens.end());
        rows.resize(size_t(kd + 1) * size_t(n_vocab));
        backend_.forward(batch.data(), kd + 1, int(cached_.size()), rows.data(), true);
        res.verify_passes++;
        const int m = judge.judge(d, rows.data(), sampler, history, commit);
        res.drafted += kd;
        res.accepted += m;
        length.update(kd, m);

        // The cache now holds last and the m accepted drafts; positions after them hold rejected
        // drafts, overwritten by the next batch (rewinding is starting there). Each token is
        // streamed as plain decoding would: the cancel flag is checked before it.
        cached_.push_back(last);
        for (int i = 0; i <= m; ++i) {
            const int32_t t = commit[size_t(i)];
            if (opt.cancel && opt.cancel->load()) {
                res.stop = StopReason::Cancelled;
                res.decode_ms += ms_since(t0);
                return;
            }
            res.decode_steps++;
            if (!out.push(t, rows.data() + size_t(i) * size_t(n_vocab), n_vocab)) {
                res.decode_ms += ms_since(t0);
                return;
            }
            history.push_back(t);
            if (i < m) cached_.push_back(t);
        }
        last = commit.back();
        res.decode_ms += ms_since(t0);
        if (int(cached_.size()) >= ctx) { res.stop = StopReason::ContextFull; return; }
        if (int(res.tokens.size()) >= opt.max_tokens) { res.stop = StopReason::MaxTokens; return; }
    }
}

}  // namespace ld
