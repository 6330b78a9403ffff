#pragma once
// The Vulkan backend's class, internal to inference/vulkan: vk_backend.cpp creates it, uploads
// the weights, submits batches and holds the entry points of vk_backend.h; vk_record_batch.cpp
// records a batch's command buffer (decode, small-batch and prompt paths, contiguous or paged).
// Nothing outside inference/vulkan includes this header.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/model/llama.h"
#include "inference/vulkan/vk_backend.h"
#include "inference/vulkan/vk_device.h"
#include "inference/vulkan/vk_ops.h"
#include "inference/vulkan/vk_paged.h"
#include "inference/vulkan/vk_profiler.h"
#include "inference/vulkan/vk_resources.h"

namespace ld {

class VulkanBackend final : public Backend {
public:
    using Buffer = vk::Buffer;  // the members' and their definitions' spelling
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

}  // namespace ld
