// Sampler: each stage against its definition on small hand-made distributions.
#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "inference/sampler/sampler.h"

namespace ld {
namespace {

std::map<int32_t, int> histogram(SamplerParams p, const std::vector<float>& logits, int draws,
                                 const std::vector<int32_t>& recent = {}) {
    Sampler s(p);
    std::map<int32_t, int> h;
    for (int i = 0; i < draws; ++i) h[s.sample(logits.data(), int(logits.size()), recent)]++;
    return h;
}

TEST(Sampler, GreedyIsArgmaxAndIgnoresNaN) {
    SamplerParams p;
    p.temperature = 0;
    Sampler s(p);
    std::vector<float> l = {0.1f, NAN, 3.0f, 2.9f};
    EXPECT_EQ(s.sample(l.data(), 4, {}), 2);
    std::vector<float> all_nan(5, NAN);
    EXPECT_EQ(s.sample(all_nan.data(), 5, {}), 0);
}

TEST(Sampler, TopKOneIsGreedy) {
    SamplerParams p;
    p.temperature = 1.5f;
    p.top_k = 1;
    auto h = histogram(p, {1, 5, 2, 4.9f}, 200);
    EXPECT_EQ(h.size(), 1u);
    EXPECT_EQ(h[1], 200);
}

TEST(Sampler, TemperatureOneFollowsSoftmax) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 3;
    const std::vector<float> l = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};  // 1:2:3:4
    auto h = histogram(p, l, 20000);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(h[i] / 20000.0, (i + 1) / 10.0, 0.015) << i;
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.min_p = 0.0f;
    p.top_p = 0.5f;  // probabilities .4 .3 .2 .1: keeps .4 and .3
    const std::vector<float> l = {std::log(4.0f), std::log(3.0f), std::log(2.0f), std::log(1.0f)};
    auto h = histogram(p, l, 5000);
    EXPECT_EQ(h.count(2), 0u);
    EXPECT_EQ(h.count(3), 0u);
    EXPECT_NEAR(h[0] / 5000.0, 4.0 / 7.0, 0.03);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.3f;  // relative to the best (.4): keeps .4 and .3 and .2? .2/.4 = .5 >= .3 yes; .1/.4 = .25 no
    const std::vector<float> l = {std::log(4.0f), std::log(3.0f), std::log(2.0f), std::log(1.0f)};
    auto h = histogram(p, l, 5000);
    EXPECT_EQ(h.count(3), 0u);
    EXPECT_GT(h[2], 0);
}

TEST(Sampler, RepetitionPenaltyAvoidsRecentTokens) {
    SamplerParams p;
    p.temperature = 0;
    p.repeat_penalty = 2.0f;  // 5.0 -> 2.5 for a recent token
    Sampler s(p);
    std::vector<float> l = {5.0f, 4.0f, 1.0f};
    EXPECT_EQ(s.sample(l.data(), 3, {0}), 1);
    EXPECT_EQ(s.sample(l.data(), 3, {2}), 0);
    SamplerParams q;
    q.temperature = 0;
    q.frequency_penalty = 0.6f;  // token 0 seen twice: 5 - 1.2 = 3.8 < 4
    Sampler f(q);
    EXPECT_EQ(f.sample(l.data(), 3, {0}), 0);
    EXPECT_EQ(f.sample(l.data(), 3, {0, 0}), 1);
    SamplerParams r;
    r.temperature = 0;
    r.presence_penalty = 1.5f;
    Sampler pr(r);
    EXPECT_EQ(pr.sample(l.data(), 3, {0}), 1);
}

TEST(Sampler, SameSeedSameDraws) {
    SamplerParams p;
    p.temperature = 1.0f;
    p.seed = 11;
    std::vector<float> l(100);
    for (int i = 0; i < 100; ++i) l[size_t(i)] = std::sin(float(i));
    Sampler a(p), b(p);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(l.data(), 100, {}), b.sample(l.data(), 100, {}));
}

}  // namespace
}  // namespace ld
