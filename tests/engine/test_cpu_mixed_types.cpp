// The CPU backend with q, k and v of different activation types in one layer (Q4_K, Q8_0, Q4_K:
// Q8_K, Q8_0, Q8_K activations, as llama.cpp's fallbacks can mix them). The step converts each
// layer's input once for q's type; a matrix after one of another type must not be dotted with
// what that one converted. Checked against the same weights in f32, as test_model_k256 does.
#include <cmath>
#include <functional>

#include "inference/quant/quant.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

// A model sharing q's mapped weights, with every weight passed through `retype`.
std::unique_ptr<Model> retyped(const Model& q, const std::function<GgmlType(const Weight&)>& retype) {
    auto m = std::make_unique<Model>();
    m->params = q.params;
    m->vocab = q.vocab;
    m->owned.reserve(16 * q.layers.size() + 8);
    auto convert = [&](const Weight& w) {
        const GgmlType t = retype(w);
        if (t == w.type) return w;
        std::vector<float> f(size_t(w.ne0));
        Weight out = w;
        out.type = t;
        std::vector<uint8_t> buf(row_size(t, w.ne0) * size_t(w.ne1));
        for (int64_t r = 0; r < w.ne1; ++r) {
            dequantize_row(w.type, w.row(r), f.data(), w.ne0);
            quantize_row(t, f.data(), buf.data() + size_t(r) * row_size(t, w.ne0), w.ne0);
        }
        out.nbytes = buf.size();
        m->owned.push_back(std::move(buf));
        out.data = m->owned.back().data();
        return out;
    };
    m->tok_embd = convert(q.tok_embd);
    m->output_norm = convert(q.output_norm);
    m->output = q.tied_output ? m->tok_embd : convert(q.output);
    m->tied_output = q.tied_output;
    for (const LayerWeights& L : q.layers) {
        LayerWeights d = L;
        for (Weight* w : {&d.attn_norm, &d.wq, &d.wk, &d.wv, &d.wo, &d.ffn_norm, &d.w_gate, &d.w_up, &d.w_down})
            *w = convert(*w);
        m->layers.push_back(d);
    }
    return m;
}

std::vector<float> logits(const Model& m, const Tokenizer& tok, const std::vector<int32_t>& ids) {
    BackendOptions o;
    o.n_threads = 2;
    o.kv_type = GgmlType::F32;
    o.n_ctx = 64;
    std::unique_ptr<Backend> be = create_cpu_backend(m, o);
    Session s(m, *be, tok);
    return s.evaluate(ids);
}

TEST(CpuMixedTypes, KeysOfAnotherActivationTypeBetweenQueriesAndValues) {
    const std::string rel = "models/k256/tiny-llama-k256-Q4_K-pure.gguf";
    LD_REQUIRE_SHARED(rel);
    std::unique_ptr<Model> q4k = load_model(shared_path(rel));
    std::unique_ptr<Tokenizer> tok = Tokenizer::create(q4k->vocab);
    ASSERT_EQ(q4k->layers[0].wq.type, GgmlType::Q4_K);
    ASSERT_EQ(q4k->layers[0].wv.type, GgmlType::Q4_K);
    std::unique_ptr<Model> mixed = retyped(*q4k, [&](const Weight& w) {
        for (const LayerWeights& L : q4k->layers)
            if (w.data == L.wk.data) return GgmlType::Q8_0;
        return w.type;
    });
    std::unique_ptr<Model> f32 = retyped(*mixed, [](const Weight& w) {
        return w.type == GgmlType::F32 ? w.type : GgmlType::F32;
    });
    ASSERT_EQ(mixed->layers[0].wk.type, GgmlType::Q8_0);
    for (const char* prompt : {"Once upon a time there was a big dog.", "Hi"}) {  // a batch, and 2 tokens
        const std::vector<int32_t> ids = tokenize_prompt(*tok, prompt);
        const std::vector<float> got = logits(*mixed, *tok, ids), want = logits(*f32, *tok, ids);
        ASSERT_EQ(got.size(), want.size());
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_TRUE(std::isfinite(got[i]));
            ab += double(got[i]) * want[i], aa += double(got[i]) * got[i], bb += double(want[i]) * want[i];
        }
        // The k256 files' bounds for a file against its own weights in f32 (int8 activations).
        EXPECT_GT(ab / std::sqrt(aa * bb), 0.99) << prompt;
        EXPECT_LT(rel_error(got, want), 0.15) << prompt;
    }
}

}  // namespace
}  // namespace ld::test
