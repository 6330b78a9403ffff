#include "inference/model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "inference/core/error.h"
#include "inference/gguf/gguf_writer.h"

namespace ld {

namespace {

struct Shape {
    const char* name;
    int dim, n_layers, n_heads, n_kv_heads, ffn_dim;
    bool tied;
    float rope_factor;  // Llama 3.1: 8, Llama 3.2: 32
};

constexpr Shape kShapes[] = {
    {"llama-3.1-70b", 8192, 80, 64, 8, 28672, false, 8.0f},
    {"llama-3.1-8b", 4096, 32, 32, 8, 14336, false, 8.0f},
    {"llama-3.2-3b", 3072, 28, 24, 8, 8192, true, 32.0f},
    {"llama-3.2-1b", 2048, 16, 32, 8, 8192, true, 32.0f},
};
constexpr const char* kMixes[] = {"q4_k_m", "q5_k_m", "q4_0", "q8_0", "q6_k", "f16"};

// xorshift: fast enough to fill gigabytes, and the same bytes on every machine.
struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
    float uniform() { return float(next() >> 40) / float(1 << 24); }  // [0, 1)
};

// Random blocks: random quant bits, with the scale fields set so weights have a standard
// deviation near 0.02 (like trained Llama matrices), keeping activations finite.
void fill_random(GgmlType t, uint8_t* dst, int64_t n_elements, uint64_t seed) {
    const TypeTraits& tt = traits(t);
    const int64_t n_blocks = n_elements / tt.block_size;
    Rng rng{seed * 0x9E3779B97F4A7C15ull + 1};
    if (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) {
        for (int64_t i = 0; i < n_elements; ++i) {
            const float v = (rng.uniform() - 0.5f) * 0.07f;  // uniform, std 0.02
            if (t == GgmlType::F32) std::memcpy(dst + 4 * i, &v, 4);
            else {
                const uint16_t h = t == GgmlType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
                std::memcpy(dst + 2 * i, &h, 2);
            }
        }
        return;
    }
    const size_t bytes = size_t(n_blocks) * tt.type_size;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        const uint64_t r = rng.next();
        std::memcpy(dst + i, &r, 8);
    }
    for (; i < bytes; ++i) dst[i] = uint8_t(rng.next());
    float d = 0, dmin = 0;
    size_t d_off = 0, m_off = SIZE_MAX;
    switch (t) {
        case GgmlType::Q4_0: case GgmlType::Q5_0: d = 0.02f / (t == GgmlType::Q4_0 ? 4.6f : 9.2f); break;
        case GgmlType::Q4_1: case GgmlType::Q5_1: d = 0.02f / 4.6f; dmin = d; m_off = 2; break;
        case GgmlType::Q8_0: d = 0.02f / 74.0f; break;
        case GgmlType::Q4_K: case GgmlType::Q5_K: d = 0.02f / (36.0f * 4.6f); dmin = d; m_off = 2; break;
        case GgmlType::Q6_K: d = 0.02f / (74.0f * 18.5f); d_off = 208; break;
        default: fail("synthetic weights of type ", type_name(t), " are not supported");
    }
    const fp16_t hd = fp32_to_fp16(d), hm = fp32_to_fp16(-dmin);
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint8_t* blk = dst + size_t(b) * tt.type_size;
        std::memcpy(blk + d_off, &hd, 2);
        if (m_off != SIZE_MAX) std::memcpy(blk + m_off, &hm, 2);
    }
}

}  // namespace

bool use_more_bits(int layer, int n_layers) {
    return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

GgmlType mix_tensor_type(std::string_view mix, std::string_view role, int layer, int n_layers, bool tied) {
    const bool is_output = role == "output.weight" || (tied && role == "token_embd.weight");
    if (mix == "f16") return GgmlType::F16;
    if (mix == "q8_0") return GgmlType::Q8_0;
    if (mix == "q4_0") return GgmlType::Q4_0;
    if (mix == "q6_k") return GgmlType::Q6_K;
    if (mix == "q4_k_m" || mix == "q5_k_m") {
        const GgmlType base = mix == "q4_k_m" ? GgmlType::Q4_K : GgmlType::Q5_K;
        if (is_output) return GgmlType::Q6_K;
        if ((role == "attn_v.weight" || role == "ffn_down.weight") && use_more_bits(layer, n_layers))
            return GgmlType::Q6_K;
        return base;
    }
    fail("unknown weight mix '", mix, "' (q4_k_m, q5_k_m, q4_0, q8_0, q6_k, f16)");
}

SyntheticSpec synthetic_spec(std::string_view name) {
    const size_t colon = name.find(':');
    const std::string_view model = name.substr(0, colon);
    std::string mix = colon == std::string_view::npos ? "q4_k_m" : std::string(name.substr(colon + 1));
    for (char& c : mix) c = char(std::tolower(static_cast<unsigned char>(c)));
    bool known_mix = false;
    for (const char* m : kMixes) known_mix |= mix == m;
    for (const Shape& s : kShapes) {
        if (model != s.name) continue;
        if (!known_mix) fail("unknown weight mix '", mix, "' (q4_k_m, q5_k_m, q4_0, q8_0, q6_k, f16)");
        SyntheticSpec spec;
        spec.name = s.name;
        spec.mix = mix;
        spec.tied = s.tied;
        LlamaParams& p = spec.params;
        p.n_vocab = 128256;
        p.dim = s.dim;
        p.n_layers = s.n_layers;
        p.n_heads = s.n_heads;
        p.n_kv_heads = s.n_kv_heads;
        p.head_dim = s.dim / s.n_heads;
        p.rope_dim = p.head_dim;
        p.ffn_dim = s.ffn_dim;
        p.ctx_train = 131072;
        p.rope_theta = 500000.0f;
        p.norm_eps = 1e-5f;
        p.rope_freq_factors = llama3_rope_factors(p.rope_dim, p.rope_theta, s.rope_factor, 1.0f, 4.0f, 8192);
        return spec;
    }
    fail("unknown synthetic model '", model, "' (llama-3.1-70b, llama-3.1-8b, llama-3.2-3b, llama-3.2-1b)");
}

std::vector<SyntheticTensor> synthetic_tensors(const SyntheticSpec& spec) {
    const LlamaParams& p = spec.params;
    const int L = p.n_layers;
    std::vector<SyntheticTensor> out;
    auto add = [&](const std::string& role, int layer, int64_t ne0, int64_t ne1) {
        SyntheticTensor t;
        t.role = role;
        t.layer = layer;
        t.name = layer < 0 ? role : "blk." + std::to_string(layer) + "." + role;
        t.ne0 = ne0;
        t.ne1 = ne1;
        t.type = ne1 == 1 ? GgmlType::F32 : mix_tensor_type(spec.mix, role, layer, L, spec.tied);
        if (ne0 % traits(t.type).block_size != 0)
            fail("synthetic ", spec.name, ": ", t.name, " is ", ne0, " wide, not a whole number of ",
                 type_name(t.type), " blocks (", traits(t.type).block_size, ")");
        t.nbytes = row_size(t.type, ne0) * size_t(ne1);
        out.push_back(std::move(t));
    };
    add("token_embd.weight", -1, p.dim, p.n_vocab);
    add("output_norm.weight", -1, p.dim, 1);
    if (!spec.tied) add("output.weight", -1, p.dim, p.n_vocab);
    for (int l = 0; l < L; ++l) {
        add("attn_norm.weight", l, p.dim, 1);
        add("attn_q.weight", l, p.dim, p.q_dim());
        add("attn_k.weight", l, p.dim, p.kv_dim());
        add("attn_v.weight", l, p.dim, p.kv_dim());
        add("attn_output.weight", l, p.q_dim(), p.dim);
        add("ffn_norm.weight", l, p.dim, 1);
        add("ffn_gate.weight", l, p.dim, p.ffn_dim);
        add("ffn_up.weight", l, p.dim, p.ffn_dim);
        add("ffn_down.weight", l, p.ffn_dim, p.dim);
    }
    return out;
}

uint64_t synthetic_weight_bytes(const SyntheticSpec& spec) {
    uint64_t total = 0;
    for (const SyntheticTensor& t : synthetic_tensors(spec)) total += t.nbytes;
    return total;
}

void fill_synthetic_tensor(const SyntheticTensor& t, size_t index, uint64_t seed, uint8_t* dst) {
    if (t.ne1 == 1) {  // a norm: weights near 1
        auto* f = reinterpret_cast<float*>(dst);
        Rng rng{seed + index};
        for (int64_t k = 0; k < t.ne0; ++k) f[k] = 1.0f + (rng.uniform() - 0.5f) * 0.1f;
        return;
    }
    // Fill rows in parallel: an 8B model is ~5 GB of random bytes, a 70B one 42 GB. The rows are
    // cut into a fixed number of chunks, each with its own seed, whatever the core count, so the
    // same seed gives the same bytes on every machine (a 2-core VM and a 16-core GPU host).
    constexpr int kChunks = 64;
    const int nt = int(std::min<unsigned>(kChunks, std::max(1u, std::thread::hardware_concurrency())));
    std::vector<std::thread> threads;
    const size_t rb = row_size(t.type, t.ne0);
    for (int w = 0; w < nt; ++w) {
        threads.emplace_back([&, w] {
            for (int k = w; k < kChunks; k += nt) {
                const int64_t r0 = t.ne1 * k / kChunks, r1 = t.ne1 * (k + 1) / kChunks;
                if (r1 > r0)
                    fill_random(t.type, dst + size_t(r0) * rb, (r1 - r0) * t.ne0,
                                seed * 1000003 + index * 131 + uint64_t(k));
            }
        });
    }
    for (std::thread& th : threads) th.join();
}

Vocab placeholder_vocab(int n_vocab) {
    Vocab v;
    v.model = "llama";
    v.tokens.reserve(size_t(std::max(n_vocab, 0)));
    v.tokens = {"<unk>", "<s>", "</s>"};
    v.types = {int32_t(TokenType::Unknown), int32_t(TokenType::Control), int32_t(TokenType::Control)};
    char buf[16];
    for (int b = 0; b < 256; ++b) {
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        v.tokens.emplace_back(buf);
        v.types.push_back(int32_t(TokenType::Byte));
    }
    while (int(v.tokens.size()) < n_vocab) {
        v.tokens.push_back("\xE2\x96\x81t" + std::to_string(v.tokens.size()));
        v.types.push_back(int32_t(TokenType::Normal));
    }
    v.scores.resize(v.tokens.size());
    for (size_t i = 0; i < v.scores.size(); ++i) v.scores[i] = -float(i);
    v.unk = 0;
    v.bos = 1;
    v.eos = 2;
    return v;
}

std::unique_ptr<Model> make_synthetic_model(const SyntheticSpec& spec, uint64_t seed) {
    const std::vector<SyntheticTensor> tensors = synthetic_tensors(spec);
    auto m = std::make_unique<Model>();
    m->name = spec.name + ":" + spec.mix + " (synthetic)";
    m->params = spec.params;
    const LlamaParams& p = m->params;
    m->layers.resize(size_t(p.n_layers));
    // The Weight each tensor fills, in synthetic_tensors' order.
    std::vector<Weight*> slots = {&m->tok_embd, &m->output_norm};
    if (!spec.tied) slots.push_back(&m->output);
    for (LayerWeights& w : m->layers)
        for (Weight* x : {&w.attn_norm, &w.wq, &w.wk, &w.wv, &w.wo, &w.ffn_norm, &w.w_gate, &w.w_up, &w.w_down})
            slots.push_back(x);
    m->owned.resize(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        const SyntheticTensor& t = tensors[i];
        Weight& w = *slots[i];
        w.ne0 = t.ne0;
        w.ne1 = t.ne1;
        w.type = t.type;
        w.nbytes = t.nbytes;
        std::vector<uint8_t>& buf = m->owned[i];
        buf.resize(w.nbytes);
        fill_synthetic_tensor(t, i, seed, buf.data());
        w.data = buf.data();
    }
    if (spec.tied) {
        m->output = m->tok_embd;
        m->tied_output = true;
    }
    m->vocab = placeholder_vocab(p.n_vocab);
    return m;
}

namespace {

// The metadata write_model_gguf and write_synthetic_gguf both write.
void set_model_keys(gguf::Writer& w, const std::string& name, const LlamaParams& p, const Vocab& v) {
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", name);
    w.set_u32("general.quantization_version", 2);
    w.set_u32("llama.context_length", uint32_t(p.ctx_train));
    w.set_u32("llama.embedding_length", uint32_t(p.dim));
    w.set_u32("llama.block_count", uint32_t(p.n_layers));
    w.set_u32("llama.feed_forward_length", uint32_t(p.ffn_dim));
    w.set_u32("llama.rope.dimension_count", uint32_t(p.rope_dim));
    w.set_f32("llama.rope.freq_base", p.rope_theta);
    w.set_u32("llama.attention.head_count", uint32_t(p.n_heads));
    w.set_u32("llama.attention.head_count_kv", uint32_t(p.n_kv_heads));
    w.set_f32("llama.attention.layer_norm_rms_epsilon", p.norm_eps);
    w.set_u32("llama.vocab_size", uint32_t(p.n_vocab));
    if (!v.tokens.empty()) {
        w.set_string("tokenizer.ggml.model", v.model);
        if (!v.pre.empty()) w.set_string("tokenizer.ggml.pre", v.pre);
        w.set_string_array("tokenizer.ggml.tokens", v.tokens);
        if (!v.scores.empty()) w.set_f32_array("tokenizer.ggml.scores", v.scores);
        if (!v.types.empty()) w.set_i32_array("tokenizer.ggml.token_type", v.types);
        if (!v.merges.empty()) w.set_string_array("tokenizer.ggml.merges", v.merges);
        if (v.bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(v.bos));
        if (v.eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(v.eos));
        if (v.unk >= 0) w.set_u32("tokenizer.ggml.unknown_token_id", uint32_t(v.unk));
        w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
        if (!v.chat_template.empty()) w.set_string("tokenizer.chat_template", v.chat_template);
    }
}

std::vector<int64_t> tensor_shape(int64_t ne0, int64_t ne1) {
    std::vector<int64_t> ne = {ne0};
    if (ne1 > 1) ne.push_back(ne1);
    return ne;
}

}  // namespace

void write_model_gguf(const Model& m, const std::string& path) {
    const LlamaParams& p = m.params;
    gguf::Writer w;
    set_model_keys(w, m.name, p, m.vocab);
    auto add = [&](const std::string& name, const Weight& wt) {
        w.add_tensor(name, wt.type, tensor_shape(wt.ne0, wt.ne1), wt.data);
    };
    add("token_embd.weight", m.tok_embd);
    if (!p.rope_freq_factors.empty())
        w.add_tensor("rope_freqs.weight", GgmlType::F32, {int64_t(p.rope_freq_factors.size())},
                     p.rope_freq_factors.data());
    add("output_norm.weight", m.output_norm);
    if (!m.tied_output) add("output.weight", m.output);
    for (int l = 0; l < p.n_layers; ++l) {
        const LayerWeights& L = m.layers[size_t(l)];
        const std::string b = "blk." + std::to_string(l) + ".";
        add(b + "attn_norm.weight", L.attn_norm);
        add(b + "attn_q.weight", L.wq);
        add(b + "attn_k.weight", L.wk);
        add(b + "attn_v.weight", L.wv);
        add(b + "attn_output.weight", L.wo);
        add(b + "ffn_norm.weight", L.ffn_norm);
        add(b + "ffn_gate.weight", L.w_gate);
        add(b + "ffn_up.weight", L.w_up);
        add(b + "ffn_down.weight", L.w_down);
    }
    w.write(path);
}

void write_synthetic_gguf(const SyntheticSpec& spec, uint64_t seed, const Vocab* vocab, const std::string& path) {
    const std::vector<SyntheticTensor> tensors = synthetic_tensors(spec);
    const LlamaParams& p = spec.params;
    const Vocab placeholder = vocab ? Vocab{} : placeholder_vocab(p.n_vocab);
    gguf::Writer w;
    set_model_keys(w, spec.name + ":" + spec.mix + " (synthetic)", p, vocab ? *vocab : placeholder);
    // The Writer calls each producer as it reaches the tensor's place in the file, so only one
    // tensor's bytes exist at a time. Same order as write_model_gguf.
    for (size_t i = 0; i < tensors.size(); ++i) {
        const SyntheticTensor& t = tensors[i];
        w.add_tensor(t.name, t.type, tensor_shape(t.ne0, t.ne1),
                     [t, i, seed](uint8_t* dst) { fill_synthetic_tensor(t, i, seed, dst); });
        if (i == 0 && !p.rope_freq_factors.empty())
            w.add_tensor("rope_freqs.weight", GgmlType::F32, {int64_t(p.rope_freq_factors.size())},
                         p.rope_freq_factors.data());
    }
    w.write(path);
}

}  // namespace ld
