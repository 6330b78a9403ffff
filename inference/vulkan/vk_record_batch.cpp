// Recording a batch into one command buffer (VulkanBackend::record_batch and the paths it
// dispatches to): one token's decode layers, the small-batch layers (int8 matmul_q8b), the prompt
// layers (tiled matmuls), each contiguous (rows = positions) or paged (block tables), and the
// output rows. Nothing here submits or waits: forward_batch (vk_backend.cpp) does.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <tuple>

#include "inference/vulkan/vk_backend_impl.h"

namespace ld {

void VulkanBackend::matmul(VkCommandBuffer cmd, const Weight& w, const Buffer& in, const Buffer& out, int cols,
                           const char* role, bool half) {
    const vk::BufferRef x16(x16_);
    ops_.matmul(cmd, w.type, buf(w), in, out, uint32_t(w.ne0), uint32_t(w.ne1), uint32_t(cols), false,
                half ? &x16 : nullptr);
    mark(cmd, cols > 1 ? "matmul" : "matvec", &w, role);
}

bool VulkanBackend::to_half(vk::Commands& c, VkCommandBuffer cmd, const Buffer& in, uint32_t n, int cols,
                            std::initializer_list<const Weight*> ws) {
    if (cols < 2) return false;
    if (std::none_of(ws.begin(), ws.end(), [&](const Weight* w) {
            return w && ops_.takes_x16(w->type, uint32_t(w->ne0), uint32_t(cols));
        }))
        return false;
    ops_.to_f16(cmd, in, x16_, n);
    mark(cmd, "to_f16");
    c.barrier();
    return true;
}

void VulkanBackend::mark(VkCommandBuffer cmd, const char* op, const Weight* w, const char* role) {
    if (!profiler_) return;
    std::string name = std::string(phase_) + " " + op;
    if (w) {
        std::string t = type_name(w->type);
        for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
        name += " " + t + " " + role;
    }
    profiler_->mark(cmd, name, w ? double(w->nbytes) : 0.0);
}

void VulkanBackend::record_batch(vk::Commands& c, const Step& s) {
    const int B = s.B;
    const uint32_t dim = uint32_t(p_.dim), b = uint32_t(B);
    VkCommandBuffer cmd = c.begin();
    const bool small = B >= 2 && B <= small_batch_;
    phase_ = B == 1 ? "decode" : small ? "batch" : "prompt";
    if (profiler_) profiler_->begin(cmd);
    ops_.get_rows(cmd, m_.tok_embd.type, buf(m_.tok_embd), ids_, x_, b, dim, uint32_t(m_.tok_embd.ne1));
    mark(cmd, "get_rows");  // reads B rows, not the whole matrix: no GB/s
    c.barrier();
    if (B == 1) {
        decode_layers(c, cmd, s);  // ends with the output norm in xn_ (and xq_)
        if (s.logits) decode_matvec(cmd, m_.output, xn_, logits_, false, "output");
    } else if (small) {
        small_batch_layers(c, cmd, s);
        if (s.logits) record_output(c, cmd, s, q8b(m_.output));
    } else {
        prompt_layers(c, cmd, s);
        if (s.logits) record_output(c, cmd, s, false);
    }
    c.end();
}

void VulkanBackend::prompt_layers(vk::Commands& c, VkCommandBuffer cmd, const Step& s) {
    const int B = s.B, pos = s.pos;
    const uint32_t dim = uint32_t(p_.dim), ffn = uint32_t(p_.ffn_dim);
    const uint32_t nh = uint32_t(p_.n_heads), nkv = uint32_t(p_.n_kv_heads), hd = uint32_t(p_.head_dim);
    const uint32_t b = uint32_t(B);
    const vk::BufferRef slots(paged_->slots());
    const vk::Ops::Paged paged{paged_->tiles(), paged_->tables(), paged_->n_tiles()};
    auto bar = [&] { c.barrier(); };
    ops_.rmsnorm(cmd, x_, buf(m_.layers[0].attn_norm), xn_, b, dim, p_.norm_eps);
    mark(cmd, "rmsnorm");
    bar();
    // Each residual add is fused into the norm that follows it (add_rmsnorm), rope and the cache
    // store are one pass: 9 barriers per layer.
    for (int l = 0; l < p_.n_layers; ++l) {
        const LayerWeights& L = m_.layers[size_t(l)];
        const bool hq = to_half(c, cmd, xn_, b * dim, B, {&L.wq, &L.wk, &L.wv});
        matmul(cmd, L.wq, xn_, q_, B, "attn_q", hq);
        matmul(cmd, L.wk, xn_, k_, B, "attn_k", hq);
        matmul(cmd, L.wv, xn_, v_, B, "attn_v", hq);
        bar();
        ops_.rope_store(cmd, q_, k_, v_, cs_, k_cache_[size_t(l)], v_cache_[size_t(l)], b, nh, nkv, hd,
                        uint32_t(p_.rope_dim), uint32_t(pos), s.paged ? &slots : nullptr);
        mark(cmd, "rope_store");
        bar();
        ops_.attention(cmd, q_, k_cache_[size_t(l)], v_cache_[size_t(l)], att_, b, nh, nkv, hd,
                       uint32_t(pos), 1.0f / std::sqrt(float(hd)), s.paged ? &paged : nullptr);
        mark(cmd, "attention");
        bar();
        const bool ho = to_half(c, cmd, att_, b * uint32_t(p_.q_dim()), B, {&L.wo});
        matmul(cmd, L.wo, att_, o_, B, "attn_output", ho);
        bar();
        ops_.add_rmsnorm(cmd, x_, o_, buf(L.ffn_norm), xn_, b, dim, p_.norm_eps);
        mark(cmd, "add_rmsnorm");
        bar();
        const bool hg = to_half(c, cmd, xn_, b * dim, B, {&L.w_gate, &L.w_up});
        matmul(cmd, L.w_gate, xn_, g_, B, "ffn_gate", hg);
        matmul(cmd, L.w_up, xn_, u_, B, "ffn_up", hg);
        bar();
        ops_.swiglu(cmd, g_, u_, b * ffn);
        mark(cmd, "swiglu");
        bar();
        const bool hdown = to_half(c, cmd, g_, b * ffn, B, {&L.w_down});
        matmul(cmd, L.w_down, g_, o_, B, "ffn_down", hdown);
        bar();
        if (l + 1 < p_.n_layers) {
            ops_.add_rmsnorm(cmd, x_, o_, buf(m_.layers[size_t(l) + 1].attn_norm), xn_, b, dim, p_.norm_eps);
            mark(cmd, "add_rmsnorm");
        } else {
            ops_.add(cmd, x_, o_, b * dim);
            mark(cmd, "add");
        }
        bar();
    }
}

void VulkanBackend::small_matmul(VkCommandBuffer cmd, const Weight& w, const Buffer& in, const Buffer& out, int B,
                                 const char* role, bool half) {
    if (ops_.matmul_q8b(cmd, w.type, buf(w), xq_, out, uint32_t(w.ne0), uint32_t(w.ne1), uint32_t(B), false)) {
        mark(cmd, "matmul_q8b", &w, role);
        return;
    }
    matmul(cmd, w, in, out, B, role, half);
}

void VulkanBackend::small_matmul_add(vk::Commands& c, VkCommandBuffer cmd, const Weight& w, const Buffer& in,
                                     uint32_t n, int B, const char* role) {
    if (ops_.matmul_q8b(cmd, w.type, buf(w), xq_, x_, uint32_t(w.ne0), uint32_t(w.ne1), uint32_t(B), true)) {
        mark(cmd, "matmul_q8b", &w, role);
        return;
    }
    const bool half = to_half(c, cmd, in, n, B, {&w});
    matmul(cmd, w, in, o_, B, role, half);
    c.barrier();
    ops_.add(cmd, x_, o_, uint32_t(B * p_.dim));
    mark(cmd, "add");
}

void VulkanBackend::small_batch_layers(vk::Commands& c, VkCommandBuffer cmd, const Step& s) {
    using Q8From = vk::Ops::Q8From;
    const int B = s.B;
    const uint32_t dim = uint32_t(p_.dim), ffn = uint32_t(p_.ffn_dim), qd = uint32_t(p_.q_dim());
    const uint32_t nh = uint32_t(p_.n_heads), nkv = uint32_t(p_.n_kv_heads), hd = uint32_t(p_.head_dim);
    const uint32_t b = uint32_t(B);
    const vk::BufferRef slots(paged_->slots());
    const vk::Ops::Paged paged{paged_->tiles(), paged_->tables(), paged_->n_tiles()};
    auto bar = [&] { c.barrier(); };
    // f32 values into `f` and their int8 copy (B rows) into xq_.
    auto quantize = [&](Q8From mode, const Buffer& a, const Buffer& bb, const Buffer& f, uint32_t n, const char* name) {
        ops_.quantize_q8(cmd, mode, a, bb, xq_, f, n, p_.norm_eps, true, b);
        mark(cmd, name);
        bar();
    };
    // The matrices without the kernel, for to_half (nullptr: has it).
    auto f32 = [&](const Weight& w) { return q8b(w) ? nullptr : &w; };
    // Per layer 10 stages (more with fallbacks): norm (+ int8) | q, k, v | rope_store | attention |
    // int8 copy | wo (+= x) | norm (+ int8) | gate, up | SwiGLU (+ int8) | down (+= x).
    for (int l = 0; l < p_.n_layers; ++l) {
        const LayerWeights& L = m_.layers[size_t(l)];
        quantize(Q8From::rmsnorm, x_, buf(L.attn_norm), xn_, dim, "rmsnorm_q8");
        const bool hq = to_half(c, cmd, xn_, b * dim, B, {f32(L.wq), f32(L.wk), f32(L.wv)});
        small_matmul(cmd, L.wq, xn_, q_, B, "attn_q", hq);
        small_matmul(cmd, L.wk, xn_, k_, B, "attn_k", hq);
        small_matmul(cmd, L.wv, xn_, v_, B, "attn_v", hq);
        bar();
        ops_.rope_store(cmd, q_, k_, v_, cs_, k_cache_[size_t(l)], v_cache_[size_t(l)], b, nh, nkv, hd,
                        uint32_t(p_.rope_dim), uint32_t(s.pos), s.paged ? &slots : nullptr);
        mark(cmd, "rope_store");
        bar();
        ops_.attention(cmd, q_, k_cache_[size_t(l)], v_cache_[size_t(l)], att_, b, nh, nkv, hd,
                       uint32_t(s.pos), 1.0f / std::sqrt(float(hd)), s.paged ? &paged : nullptr);
        mark(cmd, "attention");
        bar();
        if (q8b(L.wo)) quantize(Q8From::copy, att_, att_, att_, qd, "quantize_q8");
        small_matmul_add(c, cmd, L.wo, att_, b * qd, B, "attn_output");  // x += wo . att
        bar();
        quantize(Q8From::rmsnorm, x_, buf(L.ffn_norm), xn_, dim, "rmsnorm_q8");
        const bool hg = to_half(c, cmd, xn_, b * dim, B, {f32(L.w_gate), f32(L.w_up)});
        small_matmul(cmd, L.w_gate, xn_, g_, B, "ffn_gate", hg);
        small_matmul(cmd, L.w_up, xn_, u_, B, "ffn_up", hg);
        bar();
        quantize(Q8From::swiglu, g_, u_, g_, ffn, "swiglu_q8");
        small_matmul_add(c, cmd, L.w_down, g_, b * ffn, B, "ffn_down");  // x += down . silu(g) u
        bar();
    }
}

void VulkanBackend::record_output(vk::Commands& c, VkCommandBuffer cmd, const Step& s, bool int8) {
    const uint32_t dim = uint32_t(p_.dim), b = uint32_t(s.B);
    const Weight& w = m_.output;
    // Contiguous: rows first .. B - 1 of x_. Paged: the rows it lists, gathered into o_ (free by now).
    const uint32_t rows = s.paged ? uint32_t(paged_->n_logits()) : b - uint32_t(s.first);
    const Buffer& src = s.paged ? o_ : x_;
    if (rows == 0) return;
    if (s.paged) {
        ops_.get_rows(cmd, GgmlType::F32, x_, paged_->rows(), o_, rows, dim, b);
        mark(cmd, "get_rows");
        c.barrier();
    }
    if (int8) {  // every row normed and quantized (at most 16), the product on the last `rows`
        const uint32_t n = s.paged ? rows : b;
        ops_.quantize_q8(cmd, vk::Ops::Q8From::rmsnorm, src, buf(m_.output_norm), xq_, xn_, dim, p_.norm_eps, true, n);
        mark(cmd, "rmsnorm_q8");
        c.barrier();
        ops_.matmul_q8b(cmd, w.type, buf(w), xq_, logits_, dim, uint32_t(w.ne1), rows, false, n - rows);
        mark(cmd, "matmul_q8b", &w, "output");
        return;
    }
    // Only the rows someone reads go through the output matrix.
    ops_.rmsnorm(cmd, src, buf(m_.output_norm), xn_, rows, dim, p_.norm_eps, s.paged ? 0u : uint32_t(s.first));
    mark(cmd, "rmsnorm");
    c.barrier();
    matmul(cmd, w, xn_, logits_, int(rows), "output");
}

void VulkanBackend::decode_matvec(VkCommandBuffer cmd, const Weight& w, const Buffer& in, const Buffer& out,
                                  bool accumulate, const char* role) {
    const uint32_t ne0 = uint32_t(w.ne0), rows = uint32_t(w.ne1);
    if (ops_.matvec_q8(cmd, w.type, buf(w), xq_, out, ne0, rows, accumulate)) {
        mark(cmd, "matvec_q8", &w, role);
        return;
    }
    ops_.matmul(cmd, w.type, buf(w), in, out, ne0, rows, 1, accumulate);
    mark(cmd, "matvec", &w, role);
}

void VulkanBackend::decode_quantize(VkCommandBuffer cmd, vk::Ops::Q8From mode, const Buffer& a, const Buffer& b,
                                    const Buffer& f, uint32_t n, const char* name) {
    ops_.quantize_q8(cmd, mode, a, b, xq_, f, n, p_.norm_eps, ops_.q8_enabled());
    mark(cmd, name);
}

void VulkanBackend::decode_layers(vk::Commands& c, VkCommandBuffer cmd, const Step& s) {
    using Q8From = vk::Ops::Q8From;
    const uint32_t dim = uint32_t(p_.dim), ffn = uint32_t(p_.ffn_dim), qd = uint32_t(p_.q_dim());
    const uint32_t nh = uint32_t(p_.n_heads), nkv = uint32_t(p_.n_kv_heads), hd = uint32_t(p_.head_dim);
    auto bar = [&] { c.barrier(); };
    // Per layer 9 stages (classic: 11): q/k/v (+ RoPE, cache store) | attention split | merge (+ int8
    // copy) | wo (+= x) | norm | gate, up | SwiGLU | down (+= x) | the next norm. Fallbacks add a
    // rope_store or quantize stage.
    decode_quantize(cmd, Q8From::rmsnorm, x_, buf(m_.layers[0].attn_norm), xn_, dim, "rmsnorm_q8");
    bar();
    for (int l = 0; l < p_.n_layers; ++l) {
        const LayerWeights& L = m_.layers[size_t(l)];
        const Buffer &kc = k_cache_[size_t(l)], &vc = v_cache_[size_t(l)];
        auto ropes = [&](const Weight& w) { return ops_.has_matvec_rope(w.type, uint32_t(w.ne0), uint32_t(w.ne1), hd); };
        // RoPE and the cache store in the epilogues (H100, 8B Q4_K_M: 256 against 243 tok/s with
        // the separate pass, which shapes the epilogue kernels do not take still use).
        if (ropes(L.wq) && ropes(L.wk) && ropes(L.wv)) {
            using Out = vk::Ops::RopeOut;
            const uint32_t rd = uint32_t(p_.rope_dim), ps = uint32_t(s.slot);  // the cache row
            for (const auto& [w, y, cache, out, role] :
                 {std::tuple<const Weight&, const Buffer&, const Buffer&, Out, const char*>{L.wq, q_, q_, Out::query, "attn_q"},
                  {L.wk, k_, kc, Out::key, "attn_k"},
                  {L.wv, v_, vc, Out::value, "attn_v"}}) {
                ops_.matvec_rope(cmd, w.type, buf(w), xn_, xq_, y, cs_, cache, uint32_t(w.ne0), uint32_t(w.ne1), out, hd, rd, ps);
                mark(cmd, "matvec_rope", &w, role);
            }
            bar();
        } else {
            decode_matvec(cmd, L.wq, xn_, q_, false, "attn_q");
            decode_matvec(cmd, L.wk, xn_, k_, false, "attn_k");
            decode_matvec(cmd, L.wv, xn_, v_, false, "attn_v");
            bar();
            ops_.rope_store(cmd, q_, k_, v_, cs_, kc, vc, 1, nh, nkv, hd, uint32_t(p_.rope_dim), uint32_t(s.slot));
            mark(cmd, "rope_store");
            bar();
        }
        const float scale = 1.0f / std::sqrt(float(hd));
        const bool wo_q8 = ops_.has_q8_matvec(L.wo.type) && qd % 32 == 0;
        // Split along the context (flash-decoding): at depth 4096 on the H100 247 tok/s (1B Q4_0)
        // against 67 with the one-pass prompt kernel.
        const vk::BufferRef xq(xq_), table(paged_->tables());
        const bool att_q8 = ops_.attention_decode(cmd, q_, kc, vc, att_, att_scratch_, nh, nkv, hd, uint32_t(s.pos),
                                                  scale, wo_q8 ? &xq : nullptr,  // wrote att_'s int8 copy
                                                  s.paged ? &table : nullptr);
        mark(cmd, "attention_split+combine");
        bar();
        if (wo_q8 && !att_q8) {
            decode_quantize(cmd, Q8From::copy, att_, att_, att_, qd, "quantize_q8");
            bar();
        }
        decode_matvec(cmd, L.wo, att_, x_, true, "attn_output");  // x += wo . att
        bar();
        decode_quantize(cmd, Q8From::rmsnorm, x_, buf(L.ffn_norm), xn_, dim, "rmsnorm_q8");
        bar();
        decode_matvec(cmd, L.w_gate, xn_, g_, false, "ffn_gate");
        decode_matvec(cmd, L.w_up, xn_, u_, false, "ffn_up");
        bar();
        decode_quantize(cmd, Q8From::swiglu, g_, u_, g_, ffn, "swiglu_q8");
        bar();
        decode_matvec(cmd, L.w_down, g_, x_, true, "ffn_down");  // x += down . silu(g) u
        bar();
        const Weight& norm = l + 1 < p_.n_layers ? m_.layers[size_t(l) + 1].attn_norm : m_.output_norm;
        decode_quantize(cmd, Q8From::rmsnorm, x_, buf(norm), xn_, dim, "rmsnorm_q8");
        bar();
    }
}

}  // namespace ld
