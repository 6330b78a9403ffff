// The Vulkan backend: weights uploaded once to device memory, the KV cache (f16) and all
// activations on the device, one command buffer per batch recorded op by op and submitted once.
#include "inference/vulkan/vk_backend.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <memory>
#include <unordered_map>

#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"
#include "inference/model/llama.h"
#include "inference/vulkan/vk_device.h"
#include "inference/vulkan/vk_offload.h"
#include "inference/vulkan/vk_ops.h"
#include "inference/vulkan/vk_paged.h"
#include "inference/vulkan/vk_profiler.h"
#include "inference/vulkan/vk_repack.h"
#include "inference/vulkan/vk_resources.h"

namespace ld {

namespace {

using vk::Buffer;

class VulkanBackend final : public Backend {
public:
    VulkanBackend(const Model& model, const BackendOptions& o);
    ~VulkanBackend() override;
    std::string name() const override { return "vulkan (" + dev_.info().name + offload_note_ + ")"; }
    int context_size() const override { return n_ctx_; }
    int vocab_size() const override { return p_.n_vocab; }
    int batch_size() const override { return n_batch_; }
    // The paged cache (common/paged_kv.h says why blocks of 64). A contiguous step (the
    // one-sequence forward()) keeps the kernels that read row = position; only the others read
    // block tables, so the single-sequence speed is what it was.
    bool supports_sequences() const override { return true; }
    int kv_block_size() const override { return int(vk::kKvBlock); }
    int kv_blocks() const override { return kv_blocks_; }
    void copy_kv_block(int src, int dst) override;
    const vk::Device& device() const { return dev_; }
    std::string enable_profiling();
    VulkanProfile profile() const;

private:
    // Uploads every weight, those of layers >= gpu_layers (and an untied embedding, where the plan
    // says) into system memory (vk_offload.h). Runs after the KV cache and activation buffers are
    // allocated, so the device's free memory already counts them.
    void upload_weights(const LoadProgress& progress, int gpu_layers);
    void upload_weight(vk::Uploader& up, const Buffer& dst, const Weight& w) const;
    const Buffer& buf(const Weight& w) const { return weights_[weight_index_.at(w.data)]; }
    // `role`: the weight's GGUF name without "blk.N." ("attn_q", "output"), for the profile.
    // `half`: x16_ holds `in` in halves (to_half()), for the kernels that read them.
    void matmul(VkCommandBuffer cmd, const Weight& w, const Buffer& in, const Buffer& out, int cols, const char* role,
                bool half = false);
    // Prompt batches: converts n values of `in` to halves in x16_ (then a barrier) where one of
    // `ws` would read them (Ops::takes_x16); returns whether it did. (Converting per tile inside
    // the matmul instead lost on the H100: 5,379 against 5,531 tok/s, 8B Q4_K_M pp512.)
    bool to_half(vk::Commands& c, VkCommandBuffer cmd, const Buffer& in, uint32_t n, int cols,
                 std::initializer_list<const Weight*> ws);
    // GPU timestamp after the op just recorded (profiling only): "<decode|prompt> <op>[ <type> <role>]".
    void mark(VkCommandBuffer cmd, const char* op, const Weight* w = nullptr, const char* role = nullptr);
    // With all_logits a step's logits must fit one binding.
    int max_step(bool all_logits) const override;
    void forward_batch(const BatchView& batch) override;
    // What record_batch records. Contiguous: positions pos .. pos + B - 1 in rows = positions,
    // logits of rows first .. B - 1. Paged: the rows, tiles and tables in paged_, logits of the
    // rows it lists.
    struct Step {
        int B = 1;
        int pos = 0;   // contiguous: the first position; paged: used when B == 1 (the token's)
        int slot = 0;  // B == 1: the cache row of the token's key and value (= pos when contiguous)
        bool paged = false;
        bool logits = false;
        int first = 0;  // contiguous: the first row whose logits are written
    };
    // Records (and ends) the whole batch into `c`. Reads the token ids, cos/sin table and the
    // paged buffers when submitted, not when recorded.
    void record_batch(vk::Commands& c, const Step& s);
    // The prompt path's layers (any B > 1): tiled matmuls on f32 (or f16) activations.
    void prompt_layers(vk::Commands& c, VkCommandBuffer cmd, const Step& s);
    // Steps of 2 .. small_batch_ tokens (several sequences' decode tokens, speculative
    // verification): decode_layers' structure for B columns. Activations are quantized to int8
    // (B rows at once) for the matrices with the small-batch kernel (Ops::matmul_q8b, which
    // reads each weight block once for all B columns, where the prompt path's 64 x 64 tiles
    // compute 64 columns for B); the residual adds are in the wo and down products' epilogues.
    // Matrices of other types take the prompt path's matmul on the f32 copy.
    void small_batch_layers(vk::Commands& c, VkCommandBuffer cmd, const Step& s);
    bool q8b(const Weight& w) const { return ops_.has_q8b(w.type, uint32_t(w.ne0)); }
    // out = W . in for B columns: matmul_q8b on xq_ where the weight has it, else matmul() on
    // `in` (x16_ when `half`).
    void small_matmul(VkCommandBuffer cmd, const Weight& w, const Buffer& in, const Buffer& out, int B,
                      const char* role, bool half);
    // x_ += W . in for B columns: in the epilogue of matmul_q8b (xq_ holds in's int8 copy), else
    // matmul() into o_ and an add.
    void small_matmul_add(vk::Commands& c, VkCommandBuffer cmd, const Weight& w, const Buffer& in, uint32_t n, int B,
                          const char* role);
    // The final norm and the output matrix on the rows whose logits are asked for.
    void record_output(vk::Commands& c, VkCommandBuffer cmd, const Step& s, bool int8);
    // One token's layers (forward_batch's decode path): the residual adds in the wo and down
    // matvecs' epilogues, RMSNorm over many workgroups, and activations quantized to int8 for the
    // weights with an int8 matvec (Ops::matvec_q8). It replaced the prompt loop for decode (8B
    // Q4_K_M on the H100: 256 against 171 tok/s). Paged, the same kernels store the key and value
    // at s.slot and attention reads the sequence's table.
    void decode_layers(vk::Commands& c, VkCommandBuffer cmd, const Step& s);
    // Decode's y (+)= W x: the int8 kernel on xq_ when it applies, else the f32 one on `in`.
    void decode_matvec(VkCommandBuffer cmd, const Weight& w, const Buffer& in, const Buffer& out, bool accumulate,
                       const char* role);
    // quantize_q8 of n values into xq_ (int8 copy only where some weight reads it) and `f`.
    void decode_quantize(VkCommandBuffer cmd, vk::Ops::Q8From mode, const Buffer& a, const Buffer& b, const Buffer& f,
                         uint32_t n, const char* name);

    const Model& m_;
    LlamaParams p_;
    vk::Device dev_;
    vk::Ops ops_;
    // Command buffers: the one being submitted, and a spare. While a decode step runs on the GPU
    // the next step (pos + 1) is recorded into the spare, so recording (~1 us per dispatch on the
    // host, ~400 dispatches per 8B token) overlaps the GPU instead of preceding it. Only the very
    // next forward_batch can use it, and only if it is that decode step; anything else records
    // afresh. Off with profiling (its timestamps are per batch). Worth 18% of 8B decode on the H100.
    std::unique_ptr<vk::Commands> cmds_, spare_;
    struct Recorded { bool ready = false; int pos = 0; bool logits = false; } next_;
    int n_ctx_, n_batch_;
    int kv_blocks_;  // cache rows = kv_blocks_ * kKvBlock (BackendOptions::kv_positions)
    std::vector<Buffer> weights_;
    std::string offload_note_;  // "; 8 of 32 layers in system memory" when some are
    std::unordered_map<const uint8_t*, size_t> weight_index_;  // tied weights share a buffer
    std::vector<Buffer> k_cache_, v_cache_;  // per layer, (kv_blocks_ * kKvBlock, kv_dim) f16
    Buffer x_, xn_, q_, k_, v_, att_, o_, g_, u_;
    Buffer att_scratch_;        // flash-decoding partials (Ops::attention_scratch_bytes)
    Buffer xq_;                 // decode: the int8 copy of the matvecs' input (Ops::q8_bytes)
    Buffer x16_;                // prompt: the matmuls' input in halves (B x max(dim, q_dim, ffn_dim))
    // Tuning::vk_profile: host time recording vs submit-to-fence per batch and GPU time per
    // op (vk_profiler.h, null without timestamps), printed at the end (`print`: the options
    // asked for it, not vulkan_enable_profiling()).
    struct Profile { bool on = false, print = false; uint64_t batches = 0; double record_us = 0, run_us = 0; std::string note; } prof_;
    std::unique_ptr<vk::Profiler> profiler_;
    const char* phase_ = "prompt";  // profile names: "decode" (one token), "batch" (small batch) or "prompt"
    // Tuning::vk_small_batch clamped to the batch size, 0 when no matrix of the model has the
    // small-batch kernel (an f32 model keeps the prompt path, unchanged).
    int small_batch_ = 0;
    Buffer ids_, cs_, logits_;  // host-visible
    std::unique_ptr<vk::PagedStep> paged_;  // the host side of paged steps
    std::vector<float> inv_freq_;
};

VulkanBackend::VulkanBackend(const Model& model, const BackendOptions& o)
    : m_(model),
      p_(model.params),
      dev_(o.device, o.tuning),
      ops_(dev_, o.tuning),
      cmds_(std::make_unique<vk::Commands>(dev_)),
      spare_(std::make_unique<vk::Commands>(dev_)),
      n_ctx_(std::max(1, std::min(o.n_ctx > 0 ? o.n_ctx : 8192, p_.ctx_train))),
      n_batch_(o.n_batch > 0 ? std::min(o.n_batch, 512) : 512),
      kv_blocks_(int((std::max<int64_t>(n_ctx_, o.kv_positions) + vk::kKvBlock - 1) / vk::kKvBlock)) {
    if (o.tuning.vk_profile) {
        prof_.print = true;
        const std::string why = enable_profiling();
        if (!why.empty()) std::fprintf(stderr, "vulkan profile: %s\n", why.c_str());
    }
    if (o.kv_type != GgmlType::F16)
        fail("the Vulkan backend keeps its KV cache in F16, not ", type_name(o.kv_type));
    if (o.kv_positions < 0) fail("kv_positions must not be negative (", o.kv_positions, ")");
    const size_t kv_rows = size_t(kv_blocks_) * vk::kKvBlock, kv_bytes = kv_rows * size_t(p_.kv_dim()) * 2;
    const size_t max_range = dev_.limits().maxStorageBufferRange;
    if (kv_bytes > max_range)
        fail("a ", kv_rows, "-position KV cache layer is ", kv_bytes >> 20, " MiB, more than ",
             dev_.info().name, " binds (", max_range >> 20, " MiB); use a smaller context");
    for (int l = 0; l < p_.n_layers; ++l) {
        k_cache_.emplace_back(dev_, kv_bytes, Buffer::Kind::device);
        v_cache_.emplace_back(dev_, kv_bytes, Buffer::Kind::device);
    }
    const size_t B = size_t(n_batch_), f = sizeof(float);
    x_ = Buffer(dev_, B * p_.dim * f, Buffer::Kind::device);
    xn_ = Buffer(dev_, B * p_.dim * f, Buffer::Kind::device);
    o_ = Buffer(dev_, B * p_.dim * f, Buffer::Kind::device);
    q_ = Buffer(dev_, B * p_.q_dim() * f, Buffer::Kind::device);
    att_ = Buffer(dev_, B * p_.q_dim() * f, Buffer::Kind::device);
    k_ = Buffer(dev_, B * p_.kv_dim() * f, Buffer::Kind::device);
    v_ = Buffer(dev_, B * p_.kv_dim() * f, Buffer::Kind::device);
    g_ = Buffer(dev_, B * p_.ffn_dim * f, Buffer::Kind::device);
    u_ = Buffer(dev_, B * p_.ffn_dim * f, Buffer::Kind::device);
    att_scratch_ = Buffer(dev_, vk::Ops::attention_scratch_bytes(uint32_t(p_.n_heads), uint32_t(p_.head_dim)),
                          Buffer::Kind::device);
    {
        const LayerWeights& L0 = m_.layers.at(0);
        bool any = q8b(m_.output);
        for (const Weight* w : {&L0.wq, &L0.wk, &L0.wv, &L0.wo, &L0.w_gate, &L0.w_up, &L0.w_down}) any = any || q8b(*w);
        small_batch_ = any ? std::clamp(o.tuning.vk_small_batch, 0, std::min<int>(n_batch_, int(vk::Ops::kMaxQ8Cols))) : 0;
    }
    // One int8 row for decode, B rows for small batches.
    xq_ = Buffer(dev_, size_t(std::max(1, small_batch_)) * vk::Ops::q8_bytes(uint32_t(std::max({p_.dim, p_.q_dim(), p_.ffn_dim}))),
                 Buffer::Kind::device);
    if (B > 1)
        x16_ = Buffer(dev_, B * size_t(std::max({p_.dim, p_.q_dim(), p_.ffn_dim})) * 2, Buffer::Kind::device);
    ids_ = Buffer(dev_, B * sizeof(int32_t), Buffer::Kind::host);
    cs_ = Buffer(dev_, B * size_t(p_.rope_dim) * f, Buffer::Kind::host);
    logits_ = Buffer(dev_, size_t(p_.n_vocab) * f, Buffer::Kind::host);
    paged_ = std::make_unique<vk::PagedStep>(dev_, n_batch_);
    upload_weights(o.progress, o.gpu_layers);
    inv_freq_.resize(size_t(p_.rope_dim / 2));
    for (int i = 0; i < p_.rope_dim / 2; ++i) {  // as the CPU backend computes them
        double fr = 1.0 / std::pow(double(p_.rope_theta), 2.0 * i / p_.rope_dim) * p_.rope_freq_scale;
        if (!p_.rope_freq_factors.empty()) fr /= p_.rope_freq_factors[size_t(i)];
        inv_freq_[size_t(i)] = float(fr);
    }
}

VulkanBackend::~VulkanBackend() {
    if (!prof_.print || prof_.batches == 0) return;
    std::fflush(stdout);  // after what the caller printed (bench's results), not before
    std::fputs(format_vulkan_profile(profile()).c_str(), stderr);
}

std::string VulkanBackend::enable_profiling() {
    prof_.on = true;
    next_.ready = false;  // recorded without timestamps
    if (profiler_ || !prof_.note.empty()) return prof_.note;
    try {  // one stamp per op: 2 + 12 per layer + 2 (small batches with fallbacks up to 18 per layer)
        profiler_ = std::make_unique<vk::Profiler>(dev_, uint32_t(8 + 20 * p_.n_layers));
    } catch (const Error& e) {
        prof_.note = e.what();
    }
    return prof_.note;
}

VulkanProfile VulkanBackend::profile() const {
    VulkanProfile p = profiler_ ? profiler_->profile() : VulkanProfile{};
    p.batches = prof_.batches;
    p.record_us = prof_.record_us;
    p.run_us = prof_.run_us;
    p.note = prof_.on ? prof_.note : "profiling is off";
    return p;
}

void VulkanBackend::upload_weights(const LoadProgress& progress, int gpu_layers) {
    const Weight* fixed[] = {&m_.output_norm, &m_.output};
    size_t total = 0;
    const size_t max_range = dev_.limits().maxStorageBufferRange;
    std::unordered_map<const uint8_t*, bool> seen;  // tied weights count once
    auto bytes_of = [&](const Weight* w) -> uint64_t {
        if (w->ne1 > 1 && !vk::Ops::supports(w->type))
            fail("the Vulkan backend cannot run ", type_name(w->type), " weights yet (F32, F16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
        if (w->ne1 == 1 && w->type != GgmlType::F32) fail("the Vulkan backend needs F32 norm weights");
        if (w->nbytes > max_range)
            fail("a ", w->nbytes >> 20, " MiB weight exceeds what ", dev_.info().name, " binds (",
                 max_range >> 20, " MiB)");
        if (!seen.emplace(w->data, true).second) return 0;
        total += w->nbytes;
        return w->nbytes;
    };
    uint64_t fixed_bytes = 0;
    for (const Weight* w : fixed) fixed_bytes += bytes_of(w);
    const uint64_t embd_bytes = bytes_of(&m_.tok_embd);  // 0 when tied to the output (counted there)
    std::vector<uint64_t> layer_bytes;
    for (const LayerWeights& L : m_.layers) {
        uint64_t b = 0;
        for (const Weight* w : L.all())
            b += bytes_of(w);
        layer_bytes.push_back(b);
    }
    const uint64_t available = dev_.device_local_available();
    const vk::OffloadPlan plan = vk::plan_offload(layer_bytes, embd_bytes, fixed_bytes, available, gpu_layers,
                                                  dev_.info().name);
    if (plan.gpu_layers < p_.n_layers)
        offload_note_ = "; " + std::to_string(p_.n_layers - plan.gpu_layers) + " of " + std::to_string(p_.n_layers) +
                        " layers in system memory";
    // The plan in memory_plan.h's words, as the CUDA backend prints it. The KV cache and buffers
    // are already allocated, so the free memory before loading is `available` plus them.
    MemoryPlan mp;
    mp.device = dev_.info().name;
    mp.weights = plan.gpu_bytes;
    mp.n_ctx = kv_blocks_ * int(vk::kKvBlock);  // the cache's positions (kv_positions may exceed n_ctx)
    for (const std::vector<Buffer>* kv : {&k_cache_, &v_cache_})
        for (const Buffer& b : *kv) mp.kv_cache += b.size();
    for (const Buffer* b : {&x_, &xn_, &o_, &q_, &att_, &k_, &v_, &g_, &u_, &att_scratch_, &xq_, &x16_})
        mp.buffers += b->size();
    mp.free = available > 0 ? available + mp.kv_cache + mp.buffers : 0;
    std::string sysmem;
    if (total > plan.gpu_bytes)
        sysmem = "; " + (plan.gpu_layers < p_.n_layers ? std::to_string(p_.n_layers - plan.gpu_layers) + " of " +
                                                             std::to_string(p_.n_layers) + " layers' weights"
                                                       : std::string("the token embedding")) +
                 (plan.gpu_layers < p_.n_layers && plan.embd_in_sysmem ? " and the token embedding" : "") + " (" +
                 format_bytes(total - plan.gpu_bytes) + ") in system memory";
    std::fprintf(stderr, "vulkan: %s%s\n", describe(mp).c_str(), sysmem.c_str());
    vk::Uploader up(dev_, std::min<size_t>(size_t(64) << 20, std::max<size_t>(total, 1)));
    size_t done = 0;
    auto upload = [&](const Weight* w, bool sysmem) {
        if (weight_index_.count(w->data)) return;
        weight_index_[w->data] = weights_.size();
        weights_.emplace_back(dev_, w->nbytes, sysmem ? Buffer::Kind::host : Buffer::Kind::device);
        upload_weight(up, weights_.back(), *w);
        done += w->nbytes;
        if (progress && !progress(float(double(done) / double(std::max<size_t>(total, 1)))))
            fail("loading was cancelled");
    };
    upload(&m_.tok_embd, plan.embd_in_sysmem);
    for (const Weight* w : fixed) upload(w, false);
    for (int l = 0; l < p_.n_layers; ++l) {
        const LayerWeights& L = m_.layers[size_t(l)];
        for (const Weight* w : L.all())
            upload(w, l >= plan.gpu_layers);
    }
}

// Weights go up in the device layout of vk_repack.h, split in slices so the host copy stays small.
void VulkanBackend::upload_weight(vk::Uploader& up, const Buffer& dst, const Weight& w) const {
    const size_t qb = vk::repack_quant_bytes(w.type);
    if (qb == 0) {
        up.upload(dst, w.data, w.nbytes);
        return;
    }
    const size_t bb = traits(w.type).type_size, n = w.nbytes / bb;
    const size_t slice = std::max<size_t>(1, (size_t(16) << 20) / bb);
    std::vector<uint8_t> quants(std::min(n, slice) * qb), scales(std::min(n, slice) * 2);
    for (size_t b0 = 0; b0 < n; b0 += slice) {
        const size_t cnt = std::min(slice, n - b0);
        vk::repack_blocks(w.type, w.data + b0 * bb, cnt, quants.data(), scales.data());
        up.upload(dst, quants.data(), cnt * qb, b0 * qb);
        up.upload(dst, scales.data(), cnt * 2, n * qb + b0 * 2);
    }
}

int VulkanBackend::max_step(bool all_logits) const {
    if (!all_logits) return n_batch_;
    const size_t row = size_t(p_.n_vocab) * sizeof(float);
    return int(std::max<size_t>(1, std::min<size_t>(size_t(n_batch_), dev_.limits().maxStorageBufferRange / row)));
}

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

void VulkanBackend::forward_batch(const BatchView& batch) {
    const int B = batch.n, pos = batch.pos;
    float* logits = batch.logits;
    std::memcpy(ids_.mapped(), batch.tokens, sizeof(int32_t) * size_t(B));
    auto* cs = static_cast<float*>(cs_.mapped());
    const size_t nf = inv_freq_.size();
    for (int t = 0; t < B; ++t)  // each token's own position (pos + t when contiguous)
        for (size_t i = 0; i < nf; ++i) {
            const float angle = float(batch.positions[t]) * inv_freq_[i];
            cs[(size_t(t) * nf + i) * 2] = std::cos(angle);
            cs[(size_t(t) * nf + i) * 2 + 1] = std::sin(angle);
        }
    Step step;
    step.B = B;
    step.logits = logits != nullptr;
    step.paged = !batch.contiguous;
    size_t rows = 0;
    if (step.paged) {
        paged_->prepare(batch, uint32_t(p_.n_heads), uint32_t(p_.n_kv_heads), uint32_t(p_.head_dim));
        step.pos = batch.positions[0];
        step.slot = paged_->first_slot();
        rows = size_t(batch.logit_rows());
    } else {
        step.pos = step.slot = pos;
        step.first = batch.all_logits ? 0 : B - 1;
        rows = size_t(B - step.first);
    }
    if (logits && logits_.size() < rows * p_.n_vocab * sizeof(float)) {
        logits_ = Buffer(dev_, rows * p_.n_vocab * sizeof(float), Buffer::Kind::host);
        next_.ready = false;  // it was recorded with the old buffer
    }

    using Clock = std::chrono::steady_clock;
    const Clock::time_point t0 = Clock::now();
    // Recorded ahead: only the contiguous decode step that follows the last one.
    const bool recorded = next_.ready && !step.paged && B == 1 && next_.pos == pos && next_.logits == step.logits;
    next_.ready = false;
    if (recorded)
        std::swap(cmds_, spare_);
    else
        record_batch(*cmds_, step);
    const Clock::time_point t1 = Clock::now();
    cmds_->submit();
    // The next decode step while this one runs (its cos/sin and token id are written at its turn).
    // A failure there must not cost this step, which is already on the GPU: the next call then
    // records afresh and reports whatever is wrong itself. Paged steps do not: their next one
    // need not be the same sequence's.
    if (B == 1 && !step.paged && !profiler_ && pos + 2 <= n_ctx_) {
        try {
            Step next = step;
            next.pos = next.slot = pos + 1;
            record_batch(*spare_, next);
            next_ = {true, pos + 1, step.logits};
        } catch (const Error&) {
            next_.ready = false;
        }
    }
    cmds_->wait();
    if (prof_.on) {
        const Clock::time_point t2 = Clock::now();
        ++prof_.batches;
        prof_.record_us += std::chrono::duration<double, std::micro>(t1 - t0).count();
        prof_.run_us += std::chrono::duration<double, std::micro>(t2 - t1).count();
    }
    if (profiler_) profiler_->collect();
    if (logits) std::memcpy(logits, logits_.mapped(), rows * p_.n_vocab * sizeof(float));
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

void VulkanBackend::copy_kv_block(int src, int dst) {
    for (int blk : {src, dst})
        if (blk < 0 || blk >= kv_blocks_) fail("copy_kv_block: block ", blk, " is outside the cache (", kv_blocks_, " blocks)");
    if (src == dst) return;
    // Every layer's K and V rows of the block in one command buffer on the GPU; the barriers
    // order it after the steps that wrote the source and before the ones that read the copy.
    const VkDeviceSize bytes = VkDeviceSize(vk::kKvBlock) * VkDeviceSize(p_.kv_dim()) * 2;
    const VkBufferCopy region{VkDeviceSize(src) * bytes, VkDeviceSize(dst) * bytes, bytes};
    VkCommandBuffer cmd = cmds_->begin();  // free: every step is waited for
    cmds_->barrier();
    for (const std::vector<Buffer>* cache : {&k_cache_, &v_cache_})
        for (const Buffer& b : *cache) vkCmdCopyBuffer(cmd, b.handle(), b.handle(), 1, &region);
    cmds_->barrier();
    cmds_->submit_and_wait();
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

std::string gib(uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1ull << 30));
    return buf;
}

const VulkanBackend& as_vulkan(const Backend& b) {
    const auto* v = dynamic_cast<const VulkanBackend*>(&b);
    if (!v) fail("not a Vulkan backend: ", b.name());
    return *v;
}

}  // namespace

std::string vulkan_enable_profiling(Backend& backend) {
    auto* v = dynamic_cast<VulkanBackend*>(&backend);
    if (!v) fail("not a Vulkan backend: ", backend.name());
    return v->enable_profiling();
}

VulkanProfile vulkan_profile(const Backend& backend) { return as_vulkan(backend).profile(); }

VulkanMemoryUsage vulkan_device_memory(const Backend& backend) {
    const vk::Device& dev = as_vulkan(backend).device();
    VulkanMemoryUsage u;
    u.bytes = dev.memory_counter().bytes.load();
    u.allocations = dev.memory_counter().allocations.load();
    u.host_bytes = dev.memory_counter().host_bytes.load();
    u.driver_heap_usage = dev.driver_heap_usage();
    return u;
}

std::function<VulkanMemoryUsage()> vulkan_memory_probe(const Backend& backend) {
    std::shared_ptr<const vk::MemoryCounter> c = as_vulkan(backend).device().shared_memory_counter();
    return [c] {
        VulkanMemoryUsage u;
        u.bytes = c->bytes.load();
        u.allocations = c->allocations.load();
        u.host_bytes = c->host_bytes.load();
        return u;
    };
}

std::unique_ptr<Backend> create_vulkan_backend(const Model& model, const BackendOptions& options) {
    return std::make_unique<VulkanBackend>(model, options);
}

bool vulkan_gpu_available() {
    for (const vk::DeviceInfo& d : vk::list_devices())
        if (d.unusable.empty() && (d.vk_type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
                                   d.vk_type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU))
            return true;
    return false;
}

std::vector<VulkanDeviceLine> describe_vulkan_devices(std::string* why) {
    std::vector<VulkanDeviceLine> out;
    for (const vk::DeviceInfo& d : vk::list_devices(why)) {
        std::string feats = std::string(d.fp16 ? ", fp16" : "") + (d.int8 ? ", int8" : "") +
                            (d.coopmat_nv ? ", coopmat NV" : "") + (d.coopmat_khr ? ", coopmat KHR" : "") +
                            (d.coopmat_f16 ? " (f16 16x16x16 used)" : "") +
                            (d.int_dot ? (d.int_dot_fast ? ", int8 dot" : ", int8 dot (not accelerated)") : "");
        VulkanDeviceLine line;
        line.text = "vulkan " + std::to_string(d.index) + ": " + d.name + " (" + d.type + ", " +
                    gib(d.device_local_bytes) + ", subgroup " + std::to_string(d.subgroup_size) + feats +
                    ", Vulkan " + d.api_version + ")" + (d.unusable.empty() ? "" : " unusable: " + d.unusable);
        auto b = [](bool v) { return v ? "true" : "false"; };
        std::string name;
        for (char c : d.name) {
            if (c == '"' || c == '\\') name += '\\';
            if (static_cast<unsigned char>(c) >= 0x20) name += c;
        }
        line.json = "{\"backend\": \"vulkan\", \"index\": " + std::to_string(d.index) + ", \"name\": \"" + name +
                    "\", \"type\": \"" + d.type + "\", \"memory\": " + std::to_string(d.device_local_bytes) +
                    ", \"subgroup_size\": " + std::to_string(d.subgroup_size) + ", \"fp16\": " + b(d.fp16) +
                    ", \"int8\": " + b(d.int8) + ", \"coopmat_nv\": " + b(d.coopmat_nv) +
                    ", \"coopmat_khr\": " + b(d.coopmat_khr) + ", \"int_dot\": " + b(d.int_dot) +
                    ", \"int_dot_accelerated\": " + b(d.int_dot_fast) + ", \"api\": \"" + d.api_version +
                    "\", \"usable\": " + b(d.unusable.empty()) + "}";
        out.push_back(std::move(line));
    }
    return out;
}

}  // namespace ld
