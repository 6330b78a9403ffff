// End-to-end correctness of the CPU forward pass against independent references in ../shared:
// llama2.c's greedy stories260K text and Hugging Face transformers' tiny Llama 3.1 logits.
#include <cmath>
#include <cstring>

#include "inference/tokenizer/json_lite.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";
const char* kTiny31 = "models/tiny-llama31-random-f16.gguf";

TEST(Stories260K, GreedyEqualsLlama2cReference) {
    LD_REQUIRE_SHARED(kStories);
    const std::string ref = stories_reference();
    ASSERT_EQ(ref.rfind("Once upon a time", 0), 0u) << ref;
    for (int threads : {1, 2}) {
        LoadedModel m = load(shared_path(kStories), threads);
        const std::string prompt = "Once upon a time";
        const std::string text = prompt + greedy(m, tokenize_prompt(*m.tok, prompt), 80);
        EXPECT_EQ(text.substr(0, ref.size()), ref) << "threads " << threads;
    }
}

TEST(Stories260K, BatchedPromptEqualsTokenByToken) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel batched = load(shared_path(kStories), 2, GgmlType::F32);
    LoadedModel stepped = load(shared_path(kStories), 2, GgmlType::F32);
    const std::vector<int32_t> ids = tokenize_prompt(*batched.tok, "Once upon a time, there was a little dog who liked to run.");
    const int nv = batched.backend->vocab_size();
    std::vector<float> all(ids.size() * static_cast<size_t>(nv));
    std::vector<float> one(static_cast<size_t>(nv));
    batched.backend->forward(ids.data(), int(ids.size()), 0, all.data(), true);
    for (size_t i = 0; i < ids.size(); ++i) {
        stepped.backend->forward(&ids[i], 1, int(i), one.data(), false);
        std::vector<float> row(all.begin() + long(i * nv), all.begin() + long((i + 1) * nv));
        EXPECT_LT(rel_error(row, one), 1e-5) << "position " << i;
    }
}

TEST(Stories260K, SmallBatchesGiveTheSameLogits) {
    LD_REQUIRE_SHARED(kStories);
    LoadedModel big = load(shared_path(kStories), 2, GgmlType::F32, 512, 256);
    LoadedModel small = load(shared_path(kStories), 3, GgmlType::F32, 512, 3);
    const std::vector<int32_t> ids = tokenize_prompt(*big.tok, "The cat sat on the mat and looked at the bird in the tree.");
    Session a(*big.model, *big.backend, *big.tok), b(*small.model, *small.backend, *small.tok);
    const std::vector<float> la = a.evaluate(ids), lb = b.evaluate(ids);
    EXPECT_LT(rel_error(lb, la), 1e-5);
}

struct Tiny31Reference {
    std::vector<int32_t> ids, greedy;
    std::vector<int32_t> top20;
};

Tiny31Reference tiny31_reference() {
    std::vector<char> raw = read_file(shared_path("models/tiny-llama31-random-f16.reference.json"));
    json::Value doc = json::parse(std::string_view(raw.data(), raw.size()));
    const json::Value* c = doc.find("case");
    Tiny31Reference r;
    for (const json::Value& v : c->find("ids")->array) r.ids.push_back(int32_t(v.as_int("id")));
    for (const json::Value& v : c->find("greedy_24")->array) r.greedy.push_back(int32_t(v.as_int("id")));
    for (const json::Value& v : c->find("last_top20_ids")->array) r.top20.push_back(int32_t(v.as_int("id")));
    return r;
}

class Tiny31 : public ::testing::TestWithParam<GgmlType> {};

TEST_P(Tiny31, LogitsMatchTransformers) {
    LD_REQUIRE_SHARED(kTiny31);
    const Tiny31Reference ref = tiny31_reference();
    const std::vector<float> expected = read_f32(shared_path("models/tiny-llama31-random-f16.plain.logits.f32"));
    LoadedModel m = load(shared_path(kTiny31), 2, GetParam());
    ASSERT_EQ(m.backend->vocab_size(), 128256);
    ASSERT_EQ(expected.size(), 128256u);
    Session s(*m.model, *m.backend, *m.tok);
    const std::vector<float> logits = s.evaluate(ref.ids);
    for (float x : logits) ASSERT_FALSE(std::isnan(x));
    const double err = rel_error(logits, expected);
    EXPECT_LT(err, 1e-3) << "max abs error over max abs logit";
    RecordProperty("rel_error", std::to_string(err));
    // The reference's top 20 are our top 20; in order with an f32 cache (an f16 cache may swap
    // neighbours closer than its rounding: the reference's 7th and 8th differ by 5e-4).
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
    std::partial_sort(order.begin(), order.begin() + 20, order.end(),
                      [&](int32_t a, int32_t b) { return logits[size_t(a)] > logits[size_t(b)]; });
    std::vector<int32_t> top(order.begin(), order.begin() + 20);
    if (GetParam() == GgmlType::F32) {
        EXPECT_EQ(top, ref.top20);
    }
    std::vector<int32_t> want = ref.top20;
    std::sort(top.begin(), top.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(top, want);
}

TEST_P(Tiny31, GreedyTokensMatchTransformers) {
    LD_REQUIRE_SHARED(kTiny31);
    const Tiny31Reference ref = tiny31_reference();
    LoadedModel m = load(shared_path(kTiny31), 2, GetParam());
    Session s(*m.model, *m.backend, *m.tok);
    GenerateOptions opt;
    opt.max_tokens = int(ref.greedy.size());
    opt.sampling.temperature = 0;
    const GenerateResult r = s.generate(ref.ids, opt, nullptr);
    EXPECT_EQ(r.tokens, ref.greedy);
}

INSTANTIATE_TEST_SUITE_P(KvCache, Tiny31, ::testing::Values(GgmlType::F16, GgmlType::F32),
                         [](const auto& info) { return std::string(type_name(info.param)); });

TEST(Tiny31Model, ArchitectureIsReadFromTheFile) {
    LD_REQUIRE_SHARED(kTiny31);
    std::unique_ptr<Model> m = load_model(shared_path(kTiny31));
    const LlamaParams& p = m->params;
    EXPECT_EQ(p.n_heads, 2);
    EXPECT_EQ(p.n_kv_heads, 1);
    EXPECT_EQ(p.head_dim, 64);
    EXPECT_FLOAT_EQ(p.rope_theta, 500000.0f);
    ASSERT_EQ(p.rope_freq_factors.size(), 32u);
    EXPECT_TRUE(m->tied_output);
    // The file's factors are the Llama 3.1 formula's (factor 8, low 1, high 4, original 8192).
    const std::vector<float> f = llama3_rope_factors(64, 500000.0f, 8.0f, 1.0f, 4.0f, 8192);
    for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(p.rope_freq_factors[i], f[i], 1e-3 * f[i]) << i;
}

}  // namespace
}  // namespace ld::test
