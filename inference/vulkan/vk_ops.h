#pragma once
// Every op of the Llama forward pass as one recorded dispatch (shaders/*.comp). Ops only record;
// the caller places barriers between dependent ops and submits. Shapes are in elements; all
// activations are f32, the KV cache f16, weights in their ggml layout.
#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "inference/backend/tuning.h"
#include "inference/quant/types.h"
#include "inference/vulkan/vk_programs.h"
#include "shaders/common/paged_kv.h"

namespace ld::vk {

class Device;

class Ops {
public:
    // `tuning`: the matvec and matmul variants and launch shapes (the vk_* fields of tuning.h).
    Ops(const Device& dev, const Tuning& tuning);
    ~Ops();

    // Weight types matmul() and get_rows() take.
    static bool supports(GgmlType t);
    // Types the wide decode matvec reads (F32, F16, Q8_0, Q4_0, Q4_K, Q6_K); Q4_1, Q5_0, Q5_1 and
    // Q5_K use the generic one.
    static bool has_wide_matvec(GgmlType t);

    // out[t] = dequantized row ids[t] of w (w_rows x ne0, device layout of vk_repack.h).
    void get_rows(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef ids, BufferRef out,
                  uint32_t n_tokens, uint32_t ne0, uint32_t w_rows) const;
    // out[r] = rmsnorm(x[first_row + r]) * w for r < n_rows.
    void rmsnorm(VkCommandBuffer cmd, BufferRef x, BufferRef w, BufferRef out, uint32_t n_rows,
                 uint32_t ne0, float eps, uint32_t first_row = 0) const;
    // x[r] += o[r], then out[r] = rmsnorm(x[r]) * w, for r < n_rows (one pass per row).
    void add_rmsnorm(VkCommandBuffer cmd, BufferRef x, BufferRef o, BufferRef w, BufferRef out,
                     uint32_t n_rows, uint32_t ne0, float eps) const;
    // rope() on q (in place) and on k, with k and v stored as rows pos .. pos + n_tokens of the f16
    // caches (rope of q and k, then kv_store, in one dispatch). With `slots` (n_tokens int32, the
    // paged cache) token t's k and v go to row slots[t] instead (pos is then unused).
    void rope_store(VkCommandBuffer cmd, BufferRef q, BufferRef k, BufferRef v, BufferRef cs, BufferRef kc,
                    BufferRef vc, uint32_t n_tokens, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                    uint32_t rope_dim, uint32_t pos, const BufferRef* slots = nullptr) const;
    // In place on (n_tokens, n_heads, head_dim) with cs = (n_tokens, rope_dim / 2) (cos, sin).
    void rope(VkCommandBuffer cmd, BufferRef x, BufferRef cs, uint32_t n_tokens, uint32_t n_heads,
              uint32_t head_dim, uint32_t rope_dim) const;
    // kc/vc rows pos .. pos + n_tokens = f16(k/v).
    void kv_store(VkCommandBuffer cmd, BufferRef k, BufferRef v, BufferRef kc, BufferRef vc,
                  uint32_t n_tokens, uint32_t kv_dim, uint32_t pos) const;
    // out (n_tokens, n_heads * head_dim) = causal softmax(q K^T * scale) V over the cache.
    // Without `paged` the tokens are at positions pos .., cache row = position. With it the batch
    // mixes sequences of the paged cache (common/paged_kv.h): its tiles (paged_tiles()) say each
    // workgroup's tokens, sequence and position, `tables` holds the block tables they point into.
    struct Paged {
        BufferRef tiles, tables;
        uint32_t n_tiles;
    };
    void attention(VkCommandBuffer cmd, BufferRef q, BufferRef kc, BufferRef vc, BufferRef out,
                   uint32_t n_tokens, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                   uint32_t pos, float scale, const Paged* paged = nullptr) const;
    // The paged attention's tiles for batch rows with sequences seq[t] at positions[t]: runs of
    // consecutive rows of one sequence at consecutive positions, cut to the tokens one workgroup
    // takes. table_of[s]: where sequence s's block table starts in the tables buffer.
    static std::vector<AttentionTile> paged_tiles(const int32_t* positions, const int32_t* seq, int n,
                                                  const std::vector<uint32_t>& table_of, uint32_t n_heads,
                                                  uint32_t n_kv_heads, uint32_t head_dim);
    // The same for one token (decode) split along the context (flash-decoding): one workgroup
    // per (KV head, chunk) takes all the query heads of the group (up to 8 at once), so each K/V
    // row is read once per group; up to kMaxAttentionGroups workgroups in all (and 128 chunks)
    // write partials into `scratch` (attention_scratch_bytes), a barrier, then one merge per
    // head. Records both passes.
    // With `xq` (and head_dim % 32 == 0; returns whether) the merge also writes out's int8 copy
    // (quantize_q8's layout) for the int8 wo matvec.
    // With `table` (the paged cache) the token's positions 0 .. pos are read through its
    // sequence's block table (int32 per kKvBlock positions) instead of rows 0 .. pos.
    bool attention_decode(VkCommandBuffer cmd, BufferRef q, BufferRef kc, BufferRef vc, BufferRef out,
                          BufferRef scratch, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                          uint32_t pos, float scale, const BufferRef* xq = nullptr,
                          const BufferRef* table = nullptr) const;
    static constexpr uint32_t kMaxAttentionGroups = 1024;
    static size_t attention_scratch_bytes(uint32_t n_heads, uint32_t head_dim);
    void swiglu(VkCommandBuffer cmd, BufferRef g, BufferRef u, uint32_t n) const;  // g = silu(g) * u
    void add(VkCommandBuffer cmd, BufferRef a, BufferRef b, uint32_t n) const;     // a += b
    // y (n_cols, n_rows) = x (n_cols, ne0) . W^T with W (n_rows, ne0) of `type` in the device
    // layout of vk_repack.h: matvec for one column (decode), tiled matmul for more.
    // `accumulate` (one column only): y += the product. `x16`: x converted by to_f16(), which the
    // 128-wide-K tensor-core kernel reads instead of x where it applies (takes_x16()).
    void matmul(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef x, BufferRef y,
                uint32_t ne0, uint32_t n_rows, uint32_t n_cols, bool accumulate = false,
                const BufferRef* x16 = nullptr) const;
    // The 128-wide-K kernel takes this product (and then reads matmul()'s x16 when given).
    bool takes_x16(GgmlType type, uint32_t ne0, uint32_t n_cols) const;
    // y (n halves, n % 4 == 0) = x (n floats).
    void to_f16(VkCommandBuffer cmd, BufferRef x, BufferRef y, uint32_t n) const;

    // Decode activations in int8 (QuantizeQ8PC in shaders/common/push_constants.h): xq (q8_bytes(n))
    // and f (n floats) from a (mode 0), silu(a) * b (1) or rmsnorm(a) * b (2, weights b); xq is
    // written only when `write_q8` and n % 32 == 0. Any device (no integer dot products needed).
    // With `rows` > 1, rows of n values one after the other: a, f (and b in mode 1) n floats
    // apart, xq q8_bytes(n) bytes apart (matmul_q8b()'s input); mode 2's weights b are shared.
    enum class Q8From : uint32_t { copy = 0, swiglu = 1, rmsnorm = 2 };
    void quantize_q8(VkCommandBuffer cmd, Q8From mode, BufferRef a, BufferRef b, BufferRef xq, BufferRef f,
                     uint32_t n, float eps, bool write_q8, uint32_t rows = 1) const;
    static size_t q8_bytes(uint32_t n) { return size_t(n) + size_t(n) / 2; }
    // y (+)= W . x for one column with x quantized by quantize_q8 (common/matvec_q8.glsl): Q4_0,
    // Q8_0, Q4_K and Q6_K, ne0 % 32 == 0, on devices with integer dot products. Returns false,
    // recording nothing, when it does not apply (the caller then uses matmul() on f32 x).
    bool matvec_q8(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef xq, BufferRef y, uint32_t ne0,
                   uint32_t n_rows, bool accumulate) const;
    // The int8 matvec exists (integer dot products enabled, Tuning::vk_int8) for `type`.
    bool has_q8_matvec(GgmlType type) const { return matvec_q8_.count(type) != 0; }
    bool q8_enabled() const { return !matvec_q8_.empty(); }

    // Small batches (common/matmul_q8b.glsl): y (n_cols, n_rows) (+)= x . W^T for 1 <= n_cols <=
    // kMaxQ8Cols columns of x quantized by quantize_q8 (rows of q8_bytes(ne0) bytes), reading
    // columns x_col0 .. x_col0 + n_cols - 1. W is read once for all columns. The types and
    // devices of matvec_q8(); returns false, recording nothing, where it does not apply (the
    // caller then uses matmul()). Throws ld::Error for n_cols outside 1..kMaxQ8Cols.
    static constexpr uint32_t kMaxQ8Cols = 16;
    bool matmul_q8b(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef xq, BufferRef y, uint32_t ne0,
                    uint32_t n_rows, uint32_t n_cols, bool accumulate, uint32_t x_col0 = 0) const;
    bool has_q8b(GgmlType type, uint32_t ne0) const { return q8b_types_.count(type) != 0 && ne0 % 32 == 0; }

    // Decode's q, k or v projection with RoPE and the f16 KV-cache store in the epilogue
    // (MatVecRopePC): the int8 kernel on xq where it applies, else the f32 wide one on x. `y`
    // receives the query; `cache` (row pos) the key or value; cs holds token 0's (cos, sin).
    // Returns false, recording nothing, where has_matvec_rope() is false.
    enum class RopeOut : uint32_t { query = 0, key = 1, value = 2 };
    bool matvec_rope(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef x, BufferRef xq, BufferRef y,
                     BufferRef cs, BufferRef cache, uint32_t ne0, uint32_t n_rows, RopeOut mode, uint32_t head_dim,
                     uint32_t rope_dim, uint32_t pos) const;
    // Rows in pairs (even rows per workgroup, n_rows and head_dim even) and a wide or int8 kernel.
    bool has_matvec_rope(GgmlType type, uint32_t ne0, uint32_t n_rows, uint32_t head_dim) const;

    // Decode matvec kernel in use: "wide" (common/matvec_wide.glsl; needs subgroup arithmetic)
    // or "generic" (one workgroup per row; Tuning::vk_wide_matvec false forces it).
    const char* matvec_kind() const { return wide_ ? "wide" : "generic"; }
    // Batch matmul kernel for quantized weights: "coopmat-wide" (common/matmul_coopmat_wide.glsl
    // for ne0 % 128 == 0, where Device::coopmat() and its shared memory fits; other shapes take
    // the next), "coopmat" (common/matmul_coopmat.glsl; Tuning::VkMatmul::classic uses it alone)
    // or "tiled" (common/matmul.glsl; VkMatmul::tiled). "coopmat-emulated": the wide kernel
    // without tensor cores (VkMatmul::emulate).
    const char* matmul_kind() const {
        return !matmul_coopmat_wide_.empty() ? coopmat_wide_kind_ : matmul_coopmat_.empty() ? "tiled" : "coopmat";
    }
    // Shared memory of common/matmul_coopmat_wide.glsl with bn columns per tile (64; the emulated
    // variant 32): 64 x 136 and bn x 136 f16 tiles and a 32 x bn / 2 float result.
    static constexpr uint32_t coopmat_wide_shared_bytes(uint32_t bn) { return (64 + bn) * 136 * 2 + 32 * bn / 2 * 4; }

private:
    const Program& typed(const std::map<GgmlType, std::unique_ptr<Program>>& m, GgmlType t) const;

    const Device& dev_;
    // The program matvec_rope() runs (int8 where it can), or nullptr where none applies.
    const Program* rope_program(GgmlType type, uint32_t ne0, uint32_t n_rows, uint32_t head_dim, bool* int8) const;

    std::map<GgmlType, std::unique_ptr<Program>> matvec_, matvec_wide_, matvec_q8_, matmul_, matmul_coopmat_,
        get_rows_, matvec_q8_rope_, matvec_wide_rope_, matmul_coopmat_wide_, matmul_coopmat_wide16_;
    // matmul_q8b: the types that have it, and its programs per (type, column count: NCOLS in
    // common/matmul_q8b.glsl, threads), built on first use (64 programs up front would add seconds to
    // every backend's creation on lavapipe). Ops is used by one thread at a time (its backend's).
    std::set<GgmlType> q8b_types_;
    uint32_t q8b_threads_ = 64;
    mutable std::map<std::tuple<GgmlType, uint32_t, uint32_t>, std::unique_ptr<Program>> matmul_q8b_;  // + threads
    const char* coopmat_wide_kind_ = "coopmat-wide";
    uint32_t coopmat_wide_bn_ = 64;  // columns per tile (BN) of the wide kernel in use
    bool wide_ = false;
    uint32_t wide_rows_ = 2;  // rows per workgroup of the wide matvec
    std::unique_ptr<Program> rmsnorm_, add_rmsnorm_, rope_store_, rope_, kv_store_, attention_, attention_split_, attention_split4_,
        attention_combine_, rope_store_paged_, attention_paged_, attention_split_paged_, attention_split4_paged_,
        swiglu_, add_, quantize_q8_, to_f16_;
};

}  // namespace ld::vk
