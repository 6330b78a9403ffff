// Builds a Model from a llama-architecture GGUF, checking every weight against the
// hyperparameters before any backend touches it.
#include <cmath>
#include <cstring>
#include <map>

#include "inference/core/error.h"
#include "inference/model/llama.h"

namespace ld {

namespace {

int get_int(const gguf::File& f, const std::string& key, std::optional<int64_t> fallback = {}) {
    std::optional<int64_t> v = f.get_i64(key);
    if (!v) {
        if (fallback) return int(*fallback);
        fail("missing metadata ", key);
    }
    if (*v <= 0 || *v > (int64_t(1) << 30)) fail("metadata ", key, " has an implausible value ", *v);
    return int(*v);
}

Weight weight(const gguf::File& f, const std::string& name, int64_t ne0, int64_t ne1,
              bool required = true) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    Weight w;
    if (!t) {
        if (required) fail("missing tensor ", name);
        return w;
    }
    const int64_t want1 = ne1;
    const bool is_1d = want1 == 1;
    bool ok = t->dim(0) == ne0 && t->dim(1) == want1 && t->dim(2) == 1 && t->dim(3) == 1;
    if (!ok) {
        std::string got;
        for (int64_t d : t->ne) got += (got.empty() ? "" : " x ") + std::to_string(d);
        fail("tensor ", name, " has shape [", got, "], expected [", ne0,
             is_1d ? "" : " x " + std::to_string(want1), "]");
    }
    if (!traits(t->type).compute)
        fail("tensor ", name, " has type ", type_name(t->type), ", which this engine cannot run");
    if (is_1d && t->type != GgmlType::F32)
        fail("tensor ", name, " is ", type_name(t->type), "; norm weights must be F32");
    w.type = t->type;
    w.ne0 = ne0;
    w.ne1 = want1;
    w.data = t->data;
    w.nbytes = t->nbytes;
    return w;
}

}  // namespace

std::vector<float> llama3_rope_factors(int rope_dim, float theta, float factor, float low_freq_factor,
                                       float high_freq_factor, int original_context) {
    // Hugging Face's _compute_llama3_parameters, expressed as divisors of each frequency.
    std::vector<float> out(size_t(rope_dim / 2), 1.0f);
    const double low_wavelen = double(original_context) / low_freq_factor;
    const double high_wavelen = double(original_context) / high_freq_factor;
    for (int i = 0; i < rope_dim / 2; ++i) {
        const double freq = 1.0 / std::pow(double(theta), 2.0 * i / rope_dim);
        const double wavelen = 2.0 * M_PI / freq;
        if (wavelen < high_wavelen) {
            out[size_t(i)] = 1.0f;
        } else if (wavelen > low_wavelen) {
            out[size_t(i)] = factor;
        } else {
            const double smooth = (original_context / wavelen - low_freq_factor) /
                                  (high_freq_factor - low_freq_factor);
            const double new_freq = (1 - smooth) * freq / factor + smooth * freq;
            out[size_t(i)] = float(freq / new_freq);
        }
    }
    return out;
}

std::unique_ptr<Model> load_model(const std::string& path) {
    std::unique_ptr<gguf::File> file = gguf::File::open(path);
    try {
        auto m = load_model(std::move(file));
        m->path = path;
        return m;
    } catch (const Error& e) {
        fail(path, ": ", e.what());
    }
}

std::unique_ptr<Model> load_model(std::unique_ptr<gguf::File> file) {
    const gguf::File& f = *file;
    auto model = std::make_unique<Model>();
    const std::string arch(f.get_string("general.architecture").value_or(""));
    if (arch.empty()) fail("missing metadata general.architecture");
    if (arch != "llama") fail("architecture '", arch, "' is not supported (only llama)");
    model->name = std::string(f.get_string("general.name").value_or(""));

    LlamaParams& p = model->params;
    p.dim = get_int(f, "llama.embedding_length");
    p.n_layers = get_int(f, "llama.block_count");
    p.ffn_dim = get_int(f, "llama.feed_forward_length");
    p.n_heads = get_int(f, "llama.attention.head_count");
    p.n_kv_heads = get_int(f, "llama.attention.head_count_kv", p.n_heads);
    p.ctx_train = get_int(f, "llama.context_length", 2048);
    if (p.dim % p.n_heads != 0) fail("embedding width ", p.dim, " is not divisible by ", p.n_heads, " heads");
    p.head_dim = get_int(f, "llama.attention.key_length", p.dim / p.n_heads);
    if (f.get_i64("llama.attention.value_length").value_or(p.head_dim) != p.head_dim)
        fail("llama.attention.value_length differs from key_length (not supported)");
    if (p.n_heads % p.n_kv_heads != 0)
        fail(p.n_heads, " attention heads are not a multiple of ", p.n_kv_heads, " KV heads");
    if (p.head_dim % 2 != 0) fail("head dimension ", p.head_dim, " is odd");
    p.rope_dim = get_int(f, "llama.rope.dimension_count", p.head_dim);
    if (p.rope_dim > p.head_dim || p.rope_dim % 2 != 0)
        fail("llama.rope.dimension_count ", p.rope_dim, " does not fit head dimension ", p.head_dim);
    p.rope_theta = float(f.get_f64("llama.rope.freq_base").value_or(10000.0));
    p.norm_eps = float(f.get_f64("llama.attention.layer_norm_rms_epsilon").value_or(1e-5));
    if (!(p.rope_theta > 0) || !(p.norm_eps > 0) || !(p.norm_eps < 1))
        fail("rope base ", p.rope_theta, " or norm epsilon ", p.norm_eps, " is out of range");

    const gguf::TensorInfo* embd = f.find_tensor("token_embd.weight");
    if (!embd) fail("missing tensor token_embd.weight");
    p.n_vocab = get_int(f, "llama.vocab_size", embd->dim(1));

    // Rope scaling: linear factor, or Llama 3 frequency factors (tensor or keys).
    const std::string scaling(f.get_string("llama.rope.scaling.type").value_or(""));
    const double factor = f.get_f64("llama.rope.scaling.factor").value_or(1.0);
    if (scaling == "linear" && factor > 0) p.rope_freq_scale = float(1.0 / factor);
    if (f.find_tensor("rope_freqs.weight")) {
        Weight w = weight(f, "rope_freqs.weight", p.rope_dim / 2, 1);
        // A header-only file (a model listing) has no tensor data: the factors stay unread.
        if (f.has_tensor_data()) {
            p.rope_freq_factors.resize(size_t(p.rope_dim / 2));
            std::memcpy(p.rope_freq_factors.data(), w.data, p.rope_freq_factors.size() * 4);
        }
    } else if (scaling == "llama3") {
        p.rope_freq_factors = llama3_rope_factors(
            p.rope_dim, p.rope_theta, float(factor),
            float(f.get_f64("llama.rope.scaling.low_freq_factor").value_or(1.0)),
            float(f.get_f64("llama.rope.scaling.high_freq_factor").value_or(4.0)),
            int(f.get_i64("llama.rope.scaling.original_context_length").value_or(8192)));
    }
    for (float x : p.rope_freq_factors)
        if (!(x > 0) || !std::isfinite(x)) fail("rope_freqs.weight holds a non-positive factor");

    model->tok_embd = weight(f, "token_embd.weight", p.dim, p.n_vocab);
    model->output_norm = weight(f, "output_norm.weight", p.dim, 1);
    model->output = weight(f, "output.weight", p.dim, p.n_vocab, false);
    if (!f.find_tensor("output.weight")) {
        model->output = model->tok_embd;
        model->tied_output = true;
    }
    const int qd = p.q_dim(), kvd = p.kv_dim();
    for (int l = 0; l < p.n_layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        LayerWeights L;
        L.attn_norm = weight(f, b + "attn_norm.weight", p.dim, 1);
        L.wq = weight(f, b + "attn_q.weight", p.dim, qd);
        L.wk = weight(f, b + "attn_k.weight", p.dim, kvd);
        L.wv = weight(f, b + "attn_v.weight", p.dim, kvd);
        L.wo = weight(f, b + "attn_output.weight", qd, p.dim);
        L.ffn_norm = weight(f, b + "ffn_norm.weight", p.dim, 1);
        L.w_gate = weight(f, b + "ffn_gate.weight", p.dim, p.ffn_dim);
        L.w_up = weight(f, b + "ffn_up.weight", p.dim, p.ffn_dim);
        L.w_down = weight(f, b + "ffn_down.weight", p.ffn_dim, p.dim);
        model->layers.push_back(L);
    }

    if (f.find("tokenizer.ggml.tokens")) {
        model->vocab = load_vocab(f);
        if (int(model->vocab.tokens.size()) > p.n_vocab)
            fail("the vocabulary has ", model->vocab.tokens.size(), " tokens but the model only ",
                 p.n_vocab, " embeddings");
    }
    model->file = std::move(file);
    return model;
}

size_t Model::weight_bytes() const {
    size_t total = output.nbytes + output_norm.nbytes + tok_embd.row_bytes();
    for (const LayerWeights& L : layers)
        total += L.attn_norm.nbytes + L.wq.nbytes + L.wk.nbytes + L.wv.nbytes + L.wo.nbytes +
                 L.ffn_norm.nbytes + L.w_gate.nbytes + L.w_up.nbytes + L.w_down.nbytes;
    return total;
}

int64_t Model::parameter_count() const {
    int64_t n = tok_embd.ne0 * tok_embd.ne1 + output_norm.ne0;
    if (!tied_output) n += output.ne0 * output.ne1;
    for (const LayerWeights& L : layers)
        for (const Weight* w : L.all())
            n += w->ne0 * w->ne1;
    return n;
}

std::string Model::dominant_type() const {
    std::map<std::string, size_t> bytes;
    for (const LayerWeights& L : layers)
        for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
            bytes[type_name(w->type)] += w->nbytes;
    std::string best;
    size_t most = 0;
    for (auto& [name, n] : bytes)
        if (n > most) { most = n; best = name; }
    return best;
}

}  // namespace ld
