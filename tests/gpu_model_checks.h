#pragma once
// End-to-end checks both GPU backends run (tests/cuda/test_cuda_model.cpp,
// tests/vulkan/test_vk_model.cpp), by backend kind ("cuda", "vulkan"): the references of
// tests/engine/test_model_reference.cpp (llama2.c's stories260K text, transformers' tiny Llama 3.1
// logits), agreement with the CPU backend, and the errors a backend must give instead of crashing.
// The skips (no device, no shared data) stay in the TEST bodies: a skip returns from the function
// it is written in.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "inference/core/error.h"
#include "inference/model/synthetic.h"
#include "inference/tokenizer/json_lite.h"
#include "model_fixture.h"
#include "tests/gpu_test_common.h"

namespace ld::test {

// A 2-layer synthetic Llama of `mix` with 1000 tokens: rows of 192 (256 for the K-quants, whose
// blocks are 256 wide), or with `wide` rows of 2048 (8 blocks of 256, 64 of 32), which the CUDA
// backend regroups and multiplies on int8 activations in decode, as in real models.
inline std::unique_ptr<Model> small_synthetic(const std::string& mix, int ctx_train, bool wide = false) {
    SyntheticSpec spec;
    spec.name = "gpu-test";
    spec.mix = mix;
    LlamaParams& p = spec.params;
    p.n_vocab = 1000;
    const bool k_quant = mix.find("_k") != std::string::npos;
    p.dim = wide ? 2048 : k_quant ? 256 : 192;
    p.n_layers = 2;
    p.n_heads = wide ? 16 : k_quant ? 8 : 6;
    p.n_kv_heads = 2;
    p.head_dim = wide ? 128 : 32;
    p.ffn_dim = wide ? 2048 : k_quant ? 512 : 320;
    p.ctx_train = ctx_train;
    p.rope_dim = 32;
    p.rope_theta = 500000.0f;
    return make_synthetic_model(spec, 3);
}

// stories260K (`path`) on `kind`, greedy from "Once upon a time": llama2.c's text, and the backend
// says it runs there ("cuda (device)", "vulkan (device)").
inline void expect_stories_greedy_reference(const std::string& kind, const std::string& path) {
    const std::string ref = stories_reference();
    LoadedModel m = load_on(kind, path);
    EXPECT_EQ(m.backend->name().rfind(kind + " (", 0), 0u) << m.backend->name();
    const std::string prompt = "Once upon a time";
    const std::string text = prompt + greedy(m, tokenize_prompt(*m.tok, prompt), 80);
    EXPECT_EQ(text.substr(0, ref.size()), ref);
}

// stories260K (`path`) on `kind` against the CPU backend within tol (rel_error: of the largest
// logit): a batched prompt with all logits, the same in batches of 3, and token-by-token decode.
inline void expect_stories_logits_match_cpu(const std::string& kind, const std::string& path, double tol) {
    LoadedModel cpu = load(path, 2);
    LoadedModel gpu = load_on(kind, path, 512, 256);
    LoadedModel gpu_small = load_on(kind, path, 512, 3);
    const std::vector<int32_t> ids =
        tokenize_prompt(*cpu.tok, "Once upon a time, there was a little dog who liked to run.");
    const size_t nv = size_t(cpu.backend->vocab_size());
    const std::vector<float> want = logits_of(*cpu.backend, ids, true);
    const std::vector<float> batched = logits_of(*gpu.backend, ids, true);
    expect_finite(batched, "batched");
    std::printf("  stories260K on %s: batched rel error vs CPU %.3g\n", kind.c_str(), rel_error(batched, want));
    EXPECT_LT(rel_error(batched, want), tol);
    EXPECT_LT(rel_error(logits_of(*gpu_small.backend, ids, true), want), tol) << "batches of 3";
    std::vector<float> one(nv);
    for (size_t i = 0; i < ids.size(); ++i) {
        gpu.backend->forward(&ids[i], 1, int(i), one.data(), false);
        std::vector<float> row(want.begin() + long(i * nv), want.begin() + long((i + 1) * nv));
        EXPECT_LT(rel_error(one, row), tol) << "position " << i;
    }
}

// The tiny Llama 3.1 (`path`, *.gguf; its reference files beside it) on `kind`: the last logits
// within 1e-3 of transformers' and 1e-4 of the CPU backend's, and transformers' 24 greedy tokens.
inline void expect_tiny31_matches_transformers_and_cpu(const std::string& kind, const std::string& path) {
    const std::string stem = path.substr(0, path.size() - std::string(".gguf").size());
    std::vector<char> raw = read_file(stem + ".reference.json");
    json::Value doc = json::parse(std::string_view(raw.data(), raw.size()));
    std::vector<int32_t> ids, greedy_ref;
    for (const json::Value& v : doc.find("case")->find("ids")->array) ids.push_back(int32_t(v.as_int("id")));
    for (const json::Value& v : doc.find("case")->find("greedy_24")->array) greedy_ref.push_back(int32_t(v.as_int("id")));
    const std::vector<float> expected = read_f32(stem + ".plain.logits.f32");

    LoadedModel gpu = load_on(kind, path);
    const std::vector<float> logits = logits_of(*gpu.backend, ids, false);
    ASSERT_EQ(logits.size(), expected.size());
    expect_finite(logits, "tiny31");
    const double err = rel_error(logits, expected);
    EXPECT_LT(err, 1e-3) << "max abs error over max abs logit vs transformers";
    ::testing::Test::RecordProperty("rel_error_transformers", std::to_string(err));
    std::printf("  tiny31 on %s: rel error vs transformers %.3g\n", kind.c_str(), err);

    LoadedModel cpu = load(path, 2);
    const double err_cpu = rel_error(logits, logits_of(*cpu.backend, ids, false));
    EXPECT_LT(err_cpu, 1e-4) << "vs the CPU backend";
    ::testing::Test::RecordProperty("rel_error_cpu", std::to_string(err_cpu));
    std::printf("  tiny31 on %s: rel error vs CPU %.3g\n", kind.c_str(), err_cpu);

    Session s(*gpu.model, *gpu.backend, *gpu.tok);
    GenerateOptions opt;
    opt.max_tokens = int(greedy_ref.size());
    opt.sampling.temperature = 0;
    EXPECT_EQ(s.generate(ids, opt, nullptr).tokens, greedy_ref);
}

// Errors, not crashes, on `kind` for model m: an unknown device name (the message names it) or
// index, an F32 KV cache, a context overflow, a token id outside the vocabulary; and a backend
// that refused a step still runs the next.
inline void expect_clear_backend_errors(const std::string& kind, const Model& m) {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the variables CTest sets for this run
    o.kind = kind;
    o.device = "no such device";
    try {
        create_backend(m, o);
        ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no such device"), std::string::npos) << e.what();
    }
    o.device = "99";
    EXPECT_THROW(create_backend(m, o), Error);
    o.device.clear();
    o.kv_type = GgmlType::F32;
    EXPECT_THROW(create_backend(m, o), Error);
    std::unique_ptr<Backend> v = backend_on(kind, m, 16);
    std::vector<int32_t> ids(17, 1);
    std::vector<float> out(size_t(v->vocab_size()));
    EXPECT_THROW(v->forward(ids.data(), 17, 0, out.data(), false), Error);
    const int32_t bad = v->vocab_size();
    EXPECT_THROW(v->forward(&bad, 1, 0, out.data(), false), Error);
    const int32_t good = 1;
    v->forward(&good, 1, 0, out.data(), false);
    expect_finite(out, "after errors");
}

}  // namespace ld::test
