#pragma once
// Pieces the speculative-decoding tests of every backend share (tests/engine, vulkan and cuda).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

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

}  // namespace ld::test
