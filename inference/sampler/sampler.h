#pragma once
// Token sampling: penalties, then temperature, top-k, top-p and min-p, then a draw from a
// seeded generator. Temperature 0 is greedy (argmax, lowest id on ties).
#include <cstdint>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ld {

struct SamplerParams {
    float temperature = 0.8f;
    int top_k = 40;                 // 0 = off
    float top_p = 0.95f;            // 1 = off
    float min_p = 0.05f;            // 0 = off
    float repeat_penalty = 1.0f;    // 1 = off (llama.cpp semantics: divide positive logits)
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    int penalty_last_n = 64;        // how many recent tokens the penalties look at
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplerParams& params);
    // logits: n_vocab floats (not modified). recent: tokens so far (prompt + generated).
    // NaN logits are never chosen; all-NaN logits give token 0.
    int32_t sample(const float* logits, int n_vocab, const std::vector<int32_t>& recent);
    // The distribution sample() draws from, as (id, probability) pairs summing to 1, most likely
    // first: after the penalties, temperature, top-k, min-p and top-p. Greedy (temperature 0)
    // gives its one token with probability 1. Uses no randomness: speculative decoding needs the
    // target's and the draft's distributions to accept or reject drafted tokens.
    void distribution(const float* logits, int n_vocab, const std::vector<int32_t>& recent,
                      std::vector<std::pair<int32_t, double>>& out);
    const SamplerParams& params() const { return params_; }

private:
    float penalized(const std::unordered_map<int32_t, int>& counts, int32_t id, float l) const;
    int32_t greedy(const float* logits, int n_vocab, const std::unordered_map<int32_t, int>& counts) const;
    // Fills cand_ (sorted, most likely first) and prob_ (softmax over all of cand_ before the
    // cut); returns how many of them min-p and top-p keep (0: every logit was NaN).
    size_t prepare(const float* logits, int n_vocab, const std::unordered_map<int32_t, int>& counts);

    SamplerParams params_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> cand_;  // reused scratch
    std::vector<double> prob_;
};

int32_t argmax(const float* logits, int n);

}  // namespace ld
