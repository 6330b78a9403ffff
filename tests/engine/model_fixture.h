#pragma once
// Loading the ../shared reference models for model-level tests.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/model/llama.h"
#include "inference/session/session.h"
#include "inference/tokenizer/tokenizer.h"
#include "test_util.h"

namespace ld::test {

struct LoadedModel {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<Backend> backend;
};

inline LoadedModel load(const std::string& path, int n_threads = 2, GgmlType kv = GgmlType::F16,
                        int n_ctx = 512, int n_batch = 256) {
    LoadedModel m;
    m.model = load_model(path);
    m.tok = Tokenizer::create(m.model->vocab);
    BackendOptions o;
    o.tuning = Tuning::from_env();  // CTest runs some tests with LLAMADESK_* variables set
    o.n_threads = n_threads;
    o.kv_type = kv;
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    m.backend = create_cpu_backend(*m.model, o);
    return m;
}

// The same model on a named backend ("vulkan", "cuda", ...), default CPU options otherwise.
inline std::unique_ptr<Backend> backend_on(const std::string& kind, const Model& m, int n_ctx = 512,
                                           int n_batch = 256) {
    BackendOptions o;
    o.tuning = Tuning::from_env();  // CTest runs some tests with LLAMADESK_* variables set
    o.kind = kind;
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    return create_backend(m, o);
}

inline LoadedModel load_on(const std::string& kind, const std::string& path, int n_ctx = 512, int n_batch = 256) {
    LoadedModel m;
    m.model = load_model(path);
    m.tok = Tokenizer::create(m.model->vocab);
    m.backend = backend_on(kind, *m.model, n_ctx, n_batch);
    return m;
}

// llama2.c's greedy stories260K text (models/stories260K.reference.txt without its '#' lines).
inline std::string stories_reference() {
    std::vector<char> raw = read_file(shared_path("models/stories260K.reference.txt"));
    std::string text(raw.begin(), raw.end()), out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        if (text[pos] != '#') out += text.substr(pos, nl - pos + 1);
        pos = nl + 1;
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// Logits of ids run from position 0: the last token's, or every token's with all.
inline std::vector<float> logits_of(Backend& b, const std::vector<int32_t>& ids, bool all) {
    std::vector<float> out((all ? ids.size() : 1) * size_t(b.vocab_size()));
    b.forward(ids.data(), int(ids.size()), 0, out.data(), all);
    return out;
}

inline std::string greedy(LoadedModel& m, const std::vector<int32_t>& prompt, int n) {
    Session s(*m.model, *m.backend, *m.tok);
    GenerateOptions opt;
    opt.max_tokens = n;
    opt.sampling.temperature = 0;
    return s.generate(prompt, opt, nullptr).text;
}

// max |a - b| / max |b|
// Largest |a - b| over the largest |b|. A NaN or infinity on either side, or a size mismatch,
// is infinite error (std::max would skip a NaN and report 0).
inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
    double err = 0, mx = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        if (!std::isfinite(a[i]) || !std::isfinite(b[i])) return std::numeric_limits<double>::infinity();
        err = std::max(err, double(std::abs(a[i] - b[i])));
        mx = std::max(mx, double(std::abs(b[i])));
    }
    return err / mx;
}

inline std::vector<float> read_f32(const std::string& path) {
    std::vector<char> bytes = read_file(path);
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
}

}  // namespace ld::test
