// The Vulkan backend: weights uploaded once to device memory, the KV cache (f16) and all
// activations on the device, one command buffer per batch recorded op by op and submitted once.
// This file: creation, weight upload, submission and the entry points of vk_backend.h; the
// recording itself is in vk_record_batch.cpp, the class in vk_backend_impl.h.
#include "inference/vulkan/vk_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <memory>
#include <unordered_map>

#include "inference/backend/memory_plan.h"
#include "inference/core/error.h"
#include "inference/vulkan/vk_backend_impl.h"
#include "inference/vulkan/vk_offload.h"
#include "inference/vulkan/vk_repack.h"

namespace ld {

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

namespace {

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
