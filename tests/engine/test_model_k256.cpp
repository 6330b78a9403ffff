// ggml's own quantizations of one random-weight model (../shared/models/k256): each file must
// load, and its logits must stay close to the f32 model's. This is the end-to-end check that
// our block layouts are ggml's, not merely self-consistent.
#include <cmath>

#include "inference/quant/quant.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

struct Case {
    const char* file;
    double min_cosine;  // logits' cosine similarity to the f32 model's
};

// This random-weight fixture is chaotic: even its f32 weights run with 8-bit activations move
// the logits by 7% (max error over max logit), so weight rounding moves them far more. Measured
// cosines: Q8_0 0.993, Q6_K 0.967, Q5_0 0.905, Q5_K 0.852, Q5_1 0.843, Q4_K 0.751, Q4_1 0.630,
// Q4_0 0.461; bounds sit just below. A wrong block layout gives cosines near 0, and the
// second check (against the file's own weights in f32) is tight for every type.
const Case kCases[] = {
    {"Q8_0-pure", 0.98}, {"Q6_K-pure", 0.95}, {"Q5_K-pure", 0.8},  {"Q5_1-pure", 0.8},
    {"Q5_0-pure", 0.85}, {"Q5_K_M", 0.8},     {"Q4_K-pure", 0.7},  {"Q4_K_M", 0.7},
    {"Q4_1-pure", 0.55}, {"Q4_0-pure", 0.4},
};

std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& ids) {
    LoadedModel m = load(path, 2, GgmlType::F32);
    Session s(*m.model, *m.backend, *m.tok);
    return s.evaluate(ids);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

// The same model with every weight dequantized to F32: running it isolates what the quantized
// kernels and the activation quantization change from what the weights' rounding changes.
std::unique_ptr<Model> dequantized_copy(const Model& q) {
    auto m = std::make_unique<Model>();
    m->params = q.params;
    m->vocab = q.vocab;
    auto convert = [&](const Weight& w) {
        Weight out = w;
        out.type = GgmlType::F32;
        std::vector<uint8_t> buf(size_t(w.ne0 * w.ne1) * 4);
        for (int64_t r = 0; r < w.ne1; ++r)
            dequantize_row(w.type, w.row(r), reinterpret_cast<float*>(buf.data()) + r * w.ne0, w.ne0);
        out.nbytes = buf.size();
        m->owned.push_back(std::move(buf));
        out.data = m->owned.back().data();
        return out;
    };
    m->owned.reserve(16 * q.layers.size() + 8);
    m->tok_embd = convert(q.tok_embd);
    m->output_norm = convert(q.output_norm);
    m->output = q.tied_output ? m->tok_embd : convert(q.output);
    m->tied_output = q.tied_output;
    for (const LayerWeights& L : q.layers) {
        LayerWeights d;
        d.attn_norm = convert(L.attn_norm);
        d.wq = convert(L.wq);
        d.wk = convert(L.wk);
        d.wv = convert(L.wv);
        d.wo = convert(L.wo);
        d.ffn_norm = convert(L.ffn_norm);
        d.w_gate = convert(L.w_gate);
        d.w_up = convert(L.w_up);
        d.w_down = convert(L.w_down);
        m->layers.push_back(d);
    }
    return m;
}

class K256 : public ::testing::TestWithParam<Case> {};

TEST_P(K256, LogitsCloseToF32) {
    const std::string rel = std::string("models/k256/tiny-llama-k256-") + GetParam().file + ".gguf";
    LD_REQUIRE_SHARED(rel);
    LD_REQUIRE_SHARED("models/k256/tiny-llama-k256-f32.gguf");
    std::unique_ptr<Model> probe = load_model(shared_path(rel));
    std::unique_ptr<Tokenizer> tok = Tokenizer::create(probe->vocab);
    const std::vector<int32_t> ids = tokenize_prompt(*tok, "Once upon a time there was a big dog.");
    const std::vector<float> ref = logits_of(shared_path("models/k256/tiny-llama-k256-f32.gguf"), ids);
    const std::vector<float> got = logits_of(shared_path(rel), ids);
    ASSERT_EQ(got.size(), ref.size());
    for (float x : got) ASSERT_TRUE(std::isfinite(x));
    const double err = rel_error(got, ref), cos = cosine(got, ref);
    BackendOptions o;
    o.n_threads = 2;
    o.kv_type = GgmlType::F32;
    o.n_ctx = 64;
    std::unique_ptr<Model> deq = dequantized_copy(*probe);
    std::unique_ptr<Backend> be = create_cpu_backend(*deq, o);
    Session s(*deq, *be, *tok);
    const std::vector<float> float_path = s.evaluate(ids);
    const double kerr = rel_error(got, float_path), kcos = cosine(got, float_path);
    std::printf("%-10s vs f32 model: rel error %.4f cosine %.6f | vs its own weights in f32: rel error %.5f cosine %.6f\n",
                GetParam().file, err, cos, kerr, kcos);
    EXPECT_GT(cos, GetParam().min_cosine);
    EXPECT_GT(kcos, 0.99);
    EXPECT_LT(kerr, 0.15);
}

INSTANTIATE_TEST_SUITE_P(GgmlFiles, K256, ::testing::ValuesIn(kCases), [](const auto& info) {
    std::string n = info.param.file;
    for (char& c : n) if (c == '-') c = '_';
    return n;
});

}  // namespace
}  // namespace ld::test
