#include "inference/sampler/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace ld {

int32_t argmax(const float* logits, int n) {
    int32_t best = 0;
    float bv = -INFINITY;
    for (int i = 0; i < n; ++i) {
        if (logits[i] > bv) {  // NaN never compares greater
            bv = logits[i];
            best = i;
        }
    }
    return best;
}

namespace {

// How often each token occurs among the last penalty_last_n of `recent`; empty when no penalty
// is on.
std::unordered_map<int32_t, int> penalty_counts(const SamplerParams& p, const std::vector<int32_t>& recent) {
    std::unordered_map<int32_t, int> counts;
    const bool penalize = p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
    if (penalize && p.penalty_last_n != 0) {
        const size_t n = p.penalty_last_n < 0 ? recent.size()
                                              : std::min(recent.size(), size_t(p.penalty_last_n));
        for (size_t i = recent.size() - n; i < recent.size(); ++i) counts[recent[i]]++;
    }
    return counts;
}

}  // namespace

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {}

float Sampler::penalized(const std::unordered_map<int32_t, int>& counts, int32_t id, float l) const {
    auto it = counts.find(id);
    if (it == counts.end()) return l;
    const SamplerParams& p = params_;
    l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
    return l - float(it->second) * p.frequency_penalty - p.presence_penalty;
}

int32_t Sampler::greedy(const float* logits, int n_vocab, const std::unordered_map<int32_t, int>& counts) const {
    if (counts.empty()) return argmax(logits, n_vocab);
    int32_t best = 0;
    float bv = -INFINITY;
    for (int i = 0; i < n_vocab; ++i) {
        const float l = penalized(counts, i, logits[i]);
        if (l > bv) { bv = l; best = i; }
    }
    return best;
}

size_t Sampler::prepare(const float* logits, int n_vocab, const std::unordered_map<int32_t, int>& counts) {
    const SamplerParams& p = params_;
    cand_.clear();
    cand_.reserve(size_t(n_vocab));
    for (int i = 0; i < n_vocab; ++i) {
        const float l = counts.empty() ? logits[i] : penalized(counts, i, logits[i]);
        if (!std::isnan(l)) cand_.emplace_back(l, i);
    }
    if (cand_.empty()) return 0;
    auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    size_t keep = cand_.size();
    if (p.top_k > 0 && size_t(p.top_k) < keep) {
        std::partial_sort(cand_.begin(), cand_.begin() + p.top_k, cand_.end(), by_logit);
        keep = size_t(p.top_k);
    } else {
        std::sort(cand_.begin(), cand_.end(), by_logit);
    }
    cand_.resize(keep);
    // Softmax at temperature over the survivors (sorted, so [0] is the max).
    const float mx = cand_[0].first;
    double sum = 0;
    prob_.assign(keep, 0.0);
    for (size_t i = 0; i < keep; ++i) {
        prob_[i] = std::exp(double(cand_[i].first - mx) / p.temperature);
        sum += prob_[i];
    }
    for (double& x : prob_) x /= sum;
    // min-p: drop tokens less likely than min_p times the best one.
    if (p.min_p > 0.0f) {
        size_t n = 1;
        while (n < keep && prob_[n] >= p.min_p * prob_[0]) ++n;
        keep = n;
    }
    // top-p: the smallest prefix whose mass reaches top_p.
    if (p.top_p < 1.0f) {
        double mass = 0;
        size_t n = 0;
        while (n < keep) {
            mass += prob_[n++];
            if (mass >= p.top_p) break;
        }
        keep = n;
    }
    return keep;
}

int32_t Sampler::sample(const float* logits, int n_vocab, const std::vector<int32_t>& recent) {
    const std::unordered_map<int32_t, int> counts = penalty_counts(params_, recent);
    if (params_.temperature <= 0.0f) return greedy(logits, n_vocab, counts);
    const size_t keep = prepare(logits, n_vocab, counts);
    if (keep == 0) return 0;
    double total = 0;
    for (size_t i = 0; i < keep; ++i) total += prob_[i];
    std::uniform_real_distribution<double> dist(0.0, total);
    const double r = dist(rng_);
    double acc = 0;
    for (size_t i = 0; i < keep; ++i) {
        acc += prob_[i];
        if (r < acc) return cand_[i].second;
    }
    return cand_[keep - 1].second;
}

void Sampler::distribution(const float* logits, int n_vocab, const std::vector<int32_t>& recent,
                           std::vector<std::pair<int32_t, double>>& out) {
    out.clear();
    const std::unordered_map<int32_t, int> counts = penalty_counts(params_, recent);
    if (params_.temperature <= 0.0f) {
        out.emplace_back(greedy(logits, n_vocab, counts), 1.0);
        return;
    }
    const size_t keep = prepare(logits, n_vocab, counts);
    if (keep == 0) {
        out.emplace_back(0, 1.0);  // what sample() returns for all-NaN logits
        return;
    }
    double total = 0;
    for (size_t i = 0; i < keep; ++i) total += prob_[i];
    for (size_t i = 0; i < keep; ++i) out.emplace_back(cand_[i].second, prob_[i] / total);
}

}  // namespace ld
