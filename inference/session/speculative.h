#pragma once
// Speculative decoding: a drafter proposes the next few tokens cheaply; the model runs its last
// token and the k drafted ones as one all-logits batch (one read of the weights instead of k + 1)
// and keeps the longest prefix it agrees with, plus one token of its own. Greedy output is
// exactly that of plain greedy decoding; sampled output keeps the model's distribution through
// the standard rejection rule (accept a drafted token t with probability min(1, p(t) / q(t)),
// else draw from norm(max(0, p - q))). Two loops speculate when GenerateOptions::drafter is set:
// Session::decode_speculative (one sequence, speculative.cpp) and the batch scheduler (a
// drafting sequence's step holds its last token and its draft, batch_scheduler.cpp); both judge
// drafts with DraftJudge, so the rule is written once.
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "inference/sampler/sampler.h"

namespace ld {

class Backend;
struct Model;

// Sparse distribution: (token id, probability) pairs, as Sampler::distribution gives.
using TokenDistribution = std::vector<std::pair<int32_t, double>>;

struct Draft {
    std::vector<int32_t> tokens;
    // The distribution each token was drawn from; empty when the drafter is deterministic (q is
    // then one-hot on the drafted token, so it is accepted with probability p(t)).
    std::vector<TokenDistribution> q;
    void clear() {
        tokens.clear();
        q.clear();
    }
};

class Drafter {
public:
    virtual ~Drafter() = default;
    virtual std::string name() const = 0;
    // Called when a generation starts, with its sampling settings (a draft model samples its
    // proposals with the same settings, so that q is close to p).
    virtual void begin(const SamplerParams& sampling) { (void)sampling; }
    // Proposes up to k tokens to follow `history` (prompt and reply so far); fewer or none is
    // fine. Throws ld::Error on a backend failure.
    virtual void draft(const std::vector<int32_t>& history, int k, Draft& out) = 0;
};

// Throws ld::Error when `draft` cannot draft for `target`: a different vocabulary size, or token
// texts that differ (ids would mean other text). Synthetic models without token texts are
// compared by size only.
void check_draft_vocabulary(const Model& target, const Model& draft);

// A smaller model with the target's vocabulary, on its own backend (its own KV cache, which it
// keeps across calls and rewinds to the longest prefix it shares with the history).
class DraftModel : public Drafter {
public:
    // Throws ld::Error when the vocabularies differ (check_draft_vocabulary) or the backend's
    // vocabulary size is not the target's.
    DraftModel(const Model& target, const Model& draft, Backend& draft_backend);
    std::string name() const override;
    void begin(const SamplerParams& sampling) override;
    void draft(const std::vector<int32_t>& history, int k, Draft& out) override;

private:
    const Model& model_;
    Backend& backend_;
    std::vector<int32_t> cached_;  // tokens whose keys and values are in the draft's cache
    std::vector<int32_t> seq_;     // history + drafted tokens (the sampler's penalty window)
    std::vector<float> logits_;
    std::unique_ptr<Sampler> sampler_;
    std::mt19937_64 rng_;
};

// The draft length, adapted to how much of each draft is accepted (the rule of Hugging Face's
// assisted generation): a fully accepted draft grows it by 2, any rejection shrinks it by 1,
// within [1, max].
class DraftLength {
public:
    explicit DraftLength(int max) : max_(max), k_(std::min(4, max)) {}
    int next() const { return k_; }
    void update(int drafted, int accepted) {
        if (drafted <= 0) return;  // nothing proposed: nothing learnt
        k_ = accepted == drafted ? std::min(max_, k_ + 2) : std::max(1, k_ - 1);
    }

private:
    int max_;
    int k_;
};

// Draws a token from a distribution whose probabilities sum to `total` (> 0).
int32_t draw_token(const TokenDistribution& d, double total, std::mt19937_64& rng);

// Makes what a drafter returned usable for a pass that may verify k tokens: keeps at most k,
// and throws ld::Error naming the drafter when it gave fewer distributions than tokens or a
// token outside the vocabulary (a verification batch would otherwise fail as a whole).
void check_draft(const Drafter& drafter, Draft& d, int k, int n_vocab);

// The acceptance rule, one per generation: judges a draft against the model's logits after the
// last token and after each drafted token, and gives the tokens the pass produces.
class DraftJudge {
public:
    // The acceptance draws come from a generator seeded from the sampling seed (independent of
    // the sampler's own stream), so a seeded speculative run repeats exactly.
    DraftJudge(int n_vocab, const SamplerParams& sampling);
    // rows: d.tokens.size() + 1 rows of n_vocab logits, row j the model's after batch token j
    // (the last token, then the drafts). history: prompt and reply so far, the sampler's penalty
    // window (each draft is pushed on it while the ones after it are judged, then popped: exactly
    // what plain decoding would have seen). Fills commit with the accepted drafts and then the
    // model's own token (from the row after the last accepted draft; a residual draw after a
    // rejection); returns how many drafts were accepted (commit.size() - 1).
    int judge(const Draft& d, const float* rows, Sampler& sampler, std::vector<int32_t>& history,
              std::vector<int32_t>& commit);

private:
    int n_vocab_;
    std::mt19937_64 rng_;
    TokenDistribution p_;
    std::vector<double> qdense_;  // the draft's q, dense, for the residual (allocated when sampling)
};

}  // namespace ld
