#pragma once
// Pieces the speculative-decoding tests of every backend share (tests/engine, vulkan and cuda),
// and the scheduler's (test_scheduler_speculative.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "inference/session/prompt_lookup.h"
#include "inference/session/session.h"
#include "inference/session/speculative.h"
#include "model_fixture.h"

namespace ld::test {

// Greedy generation of n tokens on m, with drafts from d (null: plain decoding).
inline GenerateResult greedy_run(LoadedModel& m, const std::vector<int32_t>& prompt, int n, Drafter* d) {
    Session s(*m.model, *m.backend, *m.tok);
    GenerateOptions o;
    o.max_tokens = n;
    o.sampling.temperature = 0;
    o.drafter = d;
    return s.generate(prompt, o, nullptr);
}

// Proposes tokens the model never picks greedily... most of the time: a fixed pseudo-random
// stream, so nearly every draft is rejected at its first token and the cache is rewound each pass.
class WrongDrafter : public Drafter {
public:
    WrongDrafter(int n_vocab, uint32_t seed) : n_vocab_(n_vocab), rng_(seed) {}
    std::string name() const override { return "wrong"; }
    void draft(const std::vector<int32_t>&, int k, Draft& out) override {
        out.clear();
        for (int i = 0; i < k; ++i) out.tokens.push_back(int32_t(rng_() % uint32_t(n_vocab_)));
    }

private:
    int n_vocab_;
    std::mt19937 rng_;
};

// On a GPU backend (`kind`: the target and its draft both there): greedy output with a draft
// model is plain decoding's, drafts pass, and a verification pass yields more than one token. The
// verification batch runs the backend's all-logits prompt path while plain decoding runs its
// one-token path, yet the tokens must be the same.
inline void expect_draft_model_greedy_identical_on(const std::string& kind, const std::string& target_path,
                                                   const std::string& draft_path) {
    LoadedModel target = load_on(kind, target_path);
    LoadedModel draft = load_on(kind, draft_path);
    DraftModel drafter(*target.model, *draft.model, *draft.backend);
    const auto prompt = tokenize_prompt(*target.tok, "Once upon a time");
    const GenerateResult plain = greedy_run(target, prompt, 60, nullptr);
    const GenerateResult spec = greedy_run(target, prompt, 60, &drafter);
    EXPECT_EQ(spec.tokens, plain.tokens);
    EXPECT_EQ(spec.text, plain.text);
    EXPECT_GT(spec.accepted, 0);
    EXPECT_LT(spec.verify_passes, int(spec.tokens.size()) - 1);
}

// On a GPU backend: prompt lookup on a repetitive prompt (drafts pass) and a drafter that is
// nearly always wrong (the cache rewinds past rejected drafts every pass) leave stories260K's
// (`path`) greedy output as plain decoding's.
inline void expect_lookup_and_rejected_drafts_identical_on(const std::string& kind, const std::string& path) {
    LoadedModel m = load_on(kind, path);
    const auto prompt = tokenize_prompt(*m.tok, "The cat sat. The dog ran. The cat sat. The dog ran. The cat sat. The dog ran.");
    const GenerateResult plain = greedy_run(m, prompt, 80, nullptr);
    PromptLookup lookup;
    const GenerateResult spec = greedy_run(m, prompt, 80, &lookup);
    EXPECT_EQ(spec.tokens, plain.tokens);
    EXPECT_GT(spec.accepted, 0);
    WrongDrafter wrong(512, 11);
    const GenerateResult rej = greedy_run(m, prompt, 80, &wrong);
    EXPECT_EQ(rej.tokens, plain.tokens);
    EXPECT_GT(rej.drafted, 40);
}

// Pearson's chi-square of observed counts against expected probabilities. Bins with an expected
// count under 5 are pooled into one, which joins the smallest bin if it is still under 5 (the
// usual rule: the statistic is not chi-square distributed with tiny expectations). Tokens outside
// the expected support count in the pool, so drawing one fails the test. *df gets the degrees of
// freedom.
inline double chi_square(const std::map<int32_t, int>& observed, const TokenDistribution& expected, int n, int* df) {
    std::vector<std::pair<double, double>> bins;  // (observed, expected)
    double pool_o = 0, pool_e = 0, seen = 0;
    for (const auto& [id, p] : expected) {
        const double e = p * n;
        const auto it = observed.find(id);
        const double o = it == observed.end() ? 0 : it->second;
        seen += o;
        if (e < 5) {
            pool_o += o;
            pool_e += e;
        } else {
            bins.emplace_back(o, e);
        }
    }
    pool_o += n - seen;
    if (pool_e >= 5 || bins.empty()) {
        bins.emplace_back(pool_o, std::max(pool_e, 1e-9));
    } else {
        auto smallest = std::min_element(bins.begin(), bins.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; });
        smallest->first += pool_o;
        smallest->second += pool_e;
    }
    double stat = 0;
    for (const auto& [o, e] : bins) stat += (o - e) * (o - e) / e;
    *df = int(bins.size()) - 1;
    return stat;
}

// The chi-square 0.999 quantile (Wilson–Hilferty): a false alarm once in a thousand seed sets,
// and the seeds are fixed, so the test cannot flake.
inline double chi_square_999(int df) {
    const double z = 3.090, a = 2.0 / (9.0 * df);
    return df * std::pow(1 - a + z * std::sqrt(a), 3);
}

// Fails the test unless n draws, counted by token in `counts`, follow `expected` (Pearson's
// chi-square below its 0.999 quantile). Needs more than 3 degrees of freedom: a narrower
// distribution would let nearly any sampler pass.
inline void expect_follows(const std::map<int32_t, int>& counts, const TokenDistribution& expected, int n) {
    int df = 0;
    const double stat = chi_square(counts, expected, n, &df);
    ASSERT_GT(df, 3) << "too few bins to test: " << expected.size() << " tokens, " << n << " samples";
    EXPECT_LT(stat, chi_square_999(df)) << n << " samples, " << df << " degrees of freedom";
}

// The model's own distribution after ctx (run on a fresh one-thread CPU backend), as the sampler
// with these settings draws from it: what speculated tokens must follow.
inline TokenDistribution model_distribution(const std::string& path, const std::vector<int32_t>& ctx,
                                            const SamplerParams& sp) {
    LoadedModel fresh = load(path, 1);
    const std::vector<float> logits = logits_of(*fresh.backend, ctx, false);
    Sampler ref(sp);
    TokenDistribution out;
    ref.distribution(logits.data(), int(logits.size()), ctx, out);
    return out;
}

inline SamplerParams spread_sampling() {
    SamplerParams sp;
    sp.temperature = 2.0f;  // spread the distribution (" there" 0.55) so that many tokens are tested
    sp.top_k = 0;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    return sp;
}

}  // namespace ld::test
