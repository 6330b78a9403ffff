#include "inference/vulkan/vk_ops.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "inference/core/error.h"
#include "inference/vulkan/vk_device.h"
#include "shaders/common/push_constants.h"

namespace ld::vk {

namespace {

constexpr GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                               GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
// Types read as 16-byte slots by the int8 matvec (common/matvec_q8.glsl) and the tensor-core
// matmuls (common/matmul_coopmat*.glsl).
constexpr GgmlType kSlotTypes[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};
// Types with a wide decode matvec (common/matvec_wide.glsl); the others use the generic one.
constexpr GgmlType kWideTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::Q8_0,
                                   GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K};

// Elements a shader dequantizes together (UNIT in shaders/common/wtype.glsl).
uint32_t unit_size(GgmlType t) { return traits(t).block_size > 1 ? 32 : 1; }

// matvec_wide: elements per slot (SLOT) and rows per workgroup (NUM_ROWS) of common/matvec_wide.glsl.
uint32_t wide_slot(GgmlType t) { return t == GgmlType::F32 ? 4 : t == GgmlType::F16 ? 8 : 32; }
// Rows per workgroup (NUM_ROWS) and threads per workgroup: Tuning's 2 and 64 (8B Q4_K_M decode
// on an H100: 64 and 128 threads within run-to-run noise, 147-163 vs 142-152 tok/s; 256 threads
// 131, 4 rows no better, 1 row 124). Slots per loop step of the int8 matvec (UNROLL in
// common/matvec_q8.glsl): 1 (2 on the H100: 8B Q4_K_M decode 295 against 288 tok/s, 1B Q4_0 890
// against 953; with 128 threads 252). Clamped again here: callers may fill Tuning by hand.
uint32_t wide_rows(const Tuning& t) { return uint32_t(std::clamp(t.vk_matvec_rows, 1, 8)); }
uint32_t wide_threads(const Tuning& t) { return uint32_t(std::clamp(t.vk_matvec_threads, 32, 1024) / 32 * 32); }
uint32_t q8_unroll(const Tuning& t) { return uint32_t(std::clamp(t.vk_matvec_unroll, 1, 2)); }

std::string lower(const char* s) {
    std::string out(s);
    for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

template <typename PC>
std::unique_ptr<Program> program(const Device& dev, const std::string& name, uint32_t n_buffers,
                                 std::initializer_list<uint32_t> spec = {}) {
    return std::make_unique<Program>(dev, name.c_str(), n_buffers, uint32_t(sizeof(PC)), spec);
}

uint32_t ceil_div(uint64_t a, uint64_t b) { return uint32_t((a + b - 1) / b); }

// 1-D grids of `n` invocations at `wg` per group, wrapped into y past the x limit.
struct Grid { uint32_t x, y; };
Grid grid_1d(uint64_t n, uint32_t wg) {
    const uint32_t groups = ceil_div(n, wg);
    if (groups <= 65535) return {groups, 1};
    return {65535, ceil_div(groups, 65535)};
}

}  // namespace

Ops::Ops(const Device& dev, const Tuning& tuning) : dev_(dev) {
    using VkMatmul = Tuning::VkMatmul;
    wide_ = dev.info().subgroup_arithmetic && tuning.vk_wide_matvec;
    wide_rows_ = wide_rows(tuning);
    const uint32_t threads = wide_threads(tuning), unroll = q8_unroll(tuning);
    q8b_threads_ = threads;
    // Batch matmuls of quantized weights on tensor cores where the device has them: the 128-wide-K
    // kernel (4.5x the 32-wide one's prompt speed on the H100, 8B Q4_K_M: 5,403 against 1,205
    // tok/s), or with VkMatmul::classic the 32-wide one (which also takes the shapes the wide one
    // does not); ::emulate runs the wide kernel's tiling without tensor cores (tests, any
    // device), ::tiled neither.
    const uint32_t shared = dev.limits().maxComputeSharedMemorySize;
    const bool wide_fits = shared >= coopmat_wide_shared_bytes(64);
    // Each wide program comes twice: on f32 x, and on x converted to halves (to_f16(); X16).
    auto add_wide = [&](GgmlType t, const std::string& name) {
        matmul_coopmat_wide_[t] = program<MatMulPC>(dev, name, 3, {0});
        matmul_coopmat_wide16_[t] = program<MatMulPC>(dev, name, 3, {1});
    };
    if (tuning.vk_matmul == VkMatmul::emulate && dev.fp16() && shared >= coopmat_wide_shared_bytes(32)) {
        for (GgmlType t : kSlotTypes) add_wide(t, "matmul_coopmat_emu_" + lower(type_name(t)));
        coopmat_wide_kind_ = "coopmat-emulated";
        coopmat_wide_bn_ = 32;
    } else if (dev.coopmat() && tuning.vk_matmul != VkMatmul::tiled) {
        for (GgmlType t : kSlotTypes) {
            matmul_coopmat_[t] = program<MatMulPC>(dev, "matmul_coopmat_" + lower(type_name(t)), 3);
            if (tuning.vk_matmul != VkMatmul::classic && wide_fits)
                add_wide(t, "matmul_coopmat_wide_" + lower(type_name(t)));
        }
    }
    // The int8 matvec shares the wide matvec's launch shape (and its need for subgroupAdd).
    if (wide_ && dev.int_dot())
        for (GgmlType t : kSlotTypes) {
            matvec_q8_[t] = program<MatVecPC>(dev, "matvec_q8_" + lower(type_name(t)), 3,
                                              {wide_rows_, threads, unroll});
            matvec_q8_rope_[t] = program<MatVecRopePC>(dev, "matvec_q8_rope_" + lower(type_name(t)), 5,
                                                       {wide_rows_, threads, unroll});
            q8b_types_.insert(t);
        }
    for (GgmlType t : kTypes) {
        const std::string suffix = lower(type_name(t));
        matvec_[t] = program<MatVecPC>(dev, "matvec_" + suffix, 3);
        if (wide_ && has_wide_matvec(t)) {
            matvec_wide_[t] = program<MatVecPC>(dev, "matvec_wide_" + suffix, 3, {wide_rows_, threads});
            matvec_wide_rope_[t] = program<MatVecRopePC>(dev, "matvec_wide_rope_" + suffix, 5, {wide_rows_, threads});
        }
        matmul_[t] = program<MatMulPC>(dev, "matmul_" + suffix, 3);
        get_rows_[t] = program<GetRowsPC>(dev, "get_rows_" + suffix, 3);
    }
    rmsnorm_ = program<RmsNormPC>(dev, "rmsnorm", 3);
    rope_ = program<RopePC>(dev, "rope", 2);
    add_rmsnorm_ = program<RmsNormPC>(dev, "add_rmsnorm", 4);
    rope_store_ = program<RopeStorePC>(dev, "rope_store", 6);
    rope_store_paged_ = program<RopeStorePC>(dev, "rope_store_paged", 7);
    kv_store_ = program<KvStorePC>(dev, "kv_store", 4);
    attention_ = program<AttentionPC>(dev, "attention", 4);
    attention_split_ = program<AttentionSplitPC>(dev, "attention_split", 4, {8});
    attention_split4_ = program<AttentionSplitPC>(dev, "attention_split", 4, {4});
    attention_combine_ = program<AttentionSplitPC>(dev, "attention_combine", 3);
    attention_paged_ = program<AttentionPC>(dev, "attention_paged", 6);
    attention_split_paged_ = program<AttentionSplitPC>(dev, "attention_split_paged", 5, {8});
    attention_split4_paged_ = program<AttentionSplitPC>(dev, "attention_split_paged", 5, {4});
    swiglu_ = program<EltwisePC>(dev, "swiglu", 2);
    add_ = program<EltwisePC>(dev, "add", 2);
    quantize_q8_ = program<QuantizeQ8PC>(dev, "quantize_q8", 4);
    to_f16_ = program<EltwisePC>(dev, "to_f16", 2);
}

Ops::~Ops() = default;

bool Ops::supports(GgmlType t) { return std::find(std::begin(kTypes), std::end(kTypes), t) != std::end(kTypes); }

bool Ops::has_wide_matvec(GgmlType t) {
    return std::find(std::begin(kWideTypes), std::end(kWideTypes), t) != std::end(kWideTypes);
}

const Program& Ops::typed(const std::map<GgmlType, std::unique_ptr<Program>>& m, GgmlType t) const {
    auto it = m.find(t);
    if (it == m.end()) fail("the Vulkan backend has no kernel for ", type_name(t), " weights yet");
    return *it->second;
}

void Ops::get_rows(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef ids, BufferRef out,
                   uint32_t n_tokens, uint32_t ne0, uint32_t w_rows) const {
    const uint32_t units = ne0 / unit_size(type);
    dispatch(dev_, cmd, typed(get_rows_, type), {w, ids, out}, GetRowsPC{n_tokens, ne0, w_rows},
             ceil_div(units, 64), n_tokens);
}

void Ops::rmsnorm(VkCommandBuffer cmd, BufferRef x, BufferRef w, BufferRef out, uint32_t n_rows,
                  uint32_t ne0, float eps, uint32_t first_row) const {
    dispatch(dev_, cmd, *rmsnorm_, {x, w, out}, RmsNormPC{n_rows, ne0, first_row * ne0, eps}, n_rows);
}

void Ops::add_rmsnorm(VkCommandBuffer cmd, BufferRef x, BufferRef o, BufferRef w, BufferRef out,
                      uint32_t n_rows, uint32_t ne0, float eps) const {
    dispatch(dev_, cmd, *add_rmsnorm_, {x, o, w, out}, RmsNormPC{n_rows, ne0, 0, eps}, n_rows);
}

void Ops::rope_store(VkCommandBuffer cmd, BufferRef q, BufferRef k, BufferRef v, BufferRef cs, BufferRef kc,
                     BufferRef vc, uint32_t n_tokens, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                     uint32_t rope_dim, uint32_t pos, const BufferRef* slots) const {
    const uint32_t qd = n_heads * head_dim, kvd = n_kv_heads * head_dim;
    const Grid gr = grid_1d(uint64_t(n_tokens) * (qd + kvd) / 2, 64);
    const RopeStorePC pc{n_tokens, qd, kvd, head_dim, rope_dim, pos};
    if (slots)
        dispatch(dev_, cmd, *rope_store_paged_, {q, k, v, cs, kc, vc, *slots}, pc, gr.x, gr.y);
    else
        dispatch(dev_, cmd, *rope_store_, {q, k, v, cs, kc, vc}, pc, gr.x, gr.y);
}

void Ops::rope(VkCommandBuffer cmd, BufferRef x, BufferRef cs, uint32_t n_tokens, uint32_t n_heads,
               uint32_t head_dim, uint32_t rope_dim) const {
    const uint64_t n = uint64_t(n_tokens) * n_heads * (rope_dim / 2);
    dispatch(dev_, cmd, *rope_, {x, cs}, RopePC{n_tokens, n_heads, head_dim, rope_dim}, ceil_div(n, 64));
}

void Ops::kv_store(VkCommandBuffer cmd, BufferRef k, BufferRef v, BufferRef kc, BufferRef vc,
                   uint32_t n_tokens, uint32_t kv_dim, uint32_t pos) const {
    dispatch(dev_, cmd, *kv_store_, {k, v, kc, vc}, KvStorePC{n_tokens, kv_dim, pos},
             ceil_div(uint64_t(n_tokens) * kv_dim, 64));
}

namespace {
// What both attention kernels need of the heads: 1..256 dims, query heads shared evenly.
void check_heads(uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim) {
    if (head_dim == 0 || head_dim > 256) fail("the Vulkan attention kernels support head_dim 1 to 256, not ", head_dim);
    if (n_kv_heads == 0 || n_heads % n_kv_heads != 0)
        fail("Vulkan attention: ", n_heads, " query heads do not share ", n_kv_heads, " KV heads evenly");
}
}  // namespace

namespace {
// A workgroup of the batch attention takes `heads` query heads of a KV head's group (n_sub
// workgroups per KV head) for up to `tokens` tokens, at most 16 rows (8 past head_dim 128: the
// queries' shared memory holds 2048 floats); common/attention.glsl computes the same from the
// push constants.
struct AttentionShape { uint32_t n_sub, heads, tokens; };
AttentionShape attention_shape(uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim) {
    const uint32_t group = n_heads / n_kv_heads, cap = head_dim <= 128 ? 16 : 8;
    const uint32_t n_sub = ceil_div(group, cap), heads = ceil_div(group, n_sub);
    return {n_sub, heads, cap / heads};
}
}  // namespace

void Ops::attention(VkCommandBuffer cmd, BufferRef q, BufferRef kc, BufferRef vc, BufferRef out,
                    uint32_t n_tokens, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                    uint32_t pos, float scale, const Paged* paged) const {
    check_heads(n_heads, n_kv_heads, head_dim);
    if (n_tokens == 0) return;
    const AttentionShape sh = attention_shape(n_heads, n_kv_heads, head_dim);
    const AttentionPC pc{n_heads, n_kv_heads, head_dim, pos, scale, n_tokens};
    if (paged) {
        if (paged->n_tiles > 65535) fail("Vulkan attention: ", paged->n_tiles, " tiles in one call, more than 65535");
        dispatch(dev_, cmd, *attention_paged_, {q, kc, vc, out, paged->tiles, paged->tables}, pc,
                 n_kv_heads * sh.n_sub, paged->n_tiles);
        return;
    }
    const uint32_t tq = std::min(sh.tokens, n_tokens);
    const uint32_t tiles = ceil_div(n_tokens, tq);
    if (tiles > 65535) fail("Vulkan attention: ", n_tokens, " tokens in one call, more than ", 65535 * tq);
    dispatch(dev_, cmd, *attention_, {q, kc, vc, out}, pc, n_kv_heads * sh.n_sub, tiles);
}

std::vector<AttentionTile> Ops::paged_tiles(const int32_t* positions, const int32_t* seq, int n,
                                            const std::vector<uint32_t>& table_of, uint32_t n_heads,
                                            uint32_t n_kv_heads, uint32_t head_dim) {
    check_heads(n_heads, n_kv_heads, head_dim);
    const uint32_t most = attention_shape(n_heads, n_kv_heads, head_dim).tokens;
    std::vector<AttentionTile> tiles;
    for (int t = 0; t < n; ++t) {
        AttentionTile* last = tiles.empty() ? nullptr : &tiles.back();
        if (last && seq[t] == seq[t - 1] && positions[t] == positions[t - 1] + 1 && last->n_tokens < most)
            ++last->n_tokens;
        else
            tiles.push_back({uint32_t(t), 1u, uint32_t(positions[t]), table_of.at(size_t(seq[t]))});
    }
    return tiles;
}

namespace {
// attention_split: query heads one workgroup takes (GMAX in the shader; a larger group takes
// several workgroups per KV head, each reading the KV rows once).
constexpr uint32_t kGroupMax = 8;
// Partials per query head at most, as in the CUDA backend: past that the chunks grow instead, so
// the scratch and the combine (which reads them all) stay small at long contexts.
constexpr uint32_t kMaxSplits = 128;
// Chunks of the context per head: kMaxAttentionGroups workgroups in all, `wgs` per chunk.
uint32_t max_splits(uint32_t wgs) { return std::clamp<uint32_t>(Ops::kMaxAttentionGroups / wgs, 1, kMaxSplits); }

void compute_barrier(VkCommandBuffer cmd) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                         &mb, 0, nullptr, 0, nullptr);
}
}  // namespace

size_t Ops::attention_scratch_bytes(uint32_t n_heads, uint32_t head_dim) {
    // A chunk takes n_kv_heads * ceil(group / kGroupMax) >= ceil(n_heads / kGroupMax) workgroups,
    // so this bounds the splits of every KV head count.
    const uint32_t splits = max_splits(ceil_div(std::max<uint32_t>(n_heads, 1), kGroupMax));
    return size_t(n_heads) * splits * (head_dim + 2) * sizeof(float);
}

bool Ops::attention_decode(VkCommandBuffer cmd, BufferRef q, BufferRef kc, BufferRef vc, BufferRef out,
                           BufferRef scratch, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim,
                           uint32_t pos, float scale, const BufferRef* xq, const BufferRef* table) const {
    check_heads(n_heads, n_kv_heads, head_dim);
    const uint32_t n_kv = pos + 1;
    // One workgroup per (KV head [x part of a group over kGroupMax], chunk); chunks of whole
    // 64-position tiles (the kernel's step), as many as kMaxAttentionGroups allows.
    const uint32_t group = n_heads / n_kv_heads, gmax = group <= 4 ? 4 : kGroupMax;  // GMAX of the program
    const uint32_t wgs = n_kv_heads * ceil_div(group, gmax);
    const uint32_t chunk = std::max<uint32_t>(64, ceil_div(ceil_div(n_kv, max_splits(wgs)), 64) * 64);
    const uint32_t n_split = ceil_div(n_kv, chunk);
    if (size_t(n_heads) * n_split * (head_dim + 2) * sizeof(float) > scratch.range)
        fail("Vulkan attention: the scratch buffer is smaller than attention_scratch_bytes");
    const bool q8 = xq && head_dim % 32 == 0;
    const AttentionSplitPC pc{n_heads, n_kv_heads, head_dim, n_kv, chunk, n_split, scale, q8 ? 1u : 0u};
    if (table)
        dispatch(dev_, cmd, gmax == 4 ? *attention_split4_paged_ : *attention_split_paged_, {q, kc, vc, scratch, *table},
                 pc, wgs, n_split);
    else
        dispatch(dev_, cmd, gmax == 4 ? *attention_split4_ : *attention_split_, {q, kc, vc, scratch}, pc, wgs, n_split);
    compute_barrier(cmd);
    dispatch(dev_, cmd, *attention_combine_, {scratch, out, q8 ? *xq : out}, pc, n_heads);
    return q8;
}

void Ops::swiglu(VkCommandBuffer cmd, BufferRef g, BufferRef u, uint32_t n) const {
    const Grid gr = grid_1d(n, 256);
    dispatch(dev_, cmd, *swiglu_, {g, u}, EltwisePC{n}, gr.x, gr.y);
}

void Ops::add(VkCommandBuffer cmd, BufferRef a, BufferRef b, uint32_t n) const {
    const Grid gr = grid_1d(n, 256);
    dispatch(dev_, cmd, *add_, {a, b}, EltwisePC{n}, gr.x, gr.y);
}

void Ops::quantize_q8(VkCommandBuffer cmd, Q8From mode, BufferRef a, BufferRef b, BufferRef xq, BufferRef f,
                      uint32_t n, float eps, bool write_q8, uint32_t rows) const {
    const QuantizeQ8PC pc{n, uint32_t(mode), eps, write_q8 && n % 32 == 0 ? 1u : 0u};
    // 4 values per invocation, one workgroup row per batch row
    dispatch(dev_, cmd, *quantize_q8_, {a, b, xq, f}, pc, ceil_div(ceil_div(n, 4), 64), rows);
}

bool Ops::matmul_q8b(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef xq, BufferRef y, uint32_t ne0,
                     uint32_t n_rows, uint32_t n_cols, bool accumulate, uint32_t x_col0) const {
    if (n_cols == 0 || n_cols > kMaxQ8Cols)
        fail("matmul_q8b: ", n_cols, " columns, the small-batch kernel takes 1 to ", kMaxQ8Cols);
    if (!has_q8b(type, ne0)) return false;
    // Threads per workgroup: the decode matvec's, but no more than the row's 32-weight slots
    // (rounded up to whole subgroups): idle threads still take part in the per-column reductions.
    // lavapipe, k256 Q4_0 (rows of 256: 8 slots), a 2-token verification pass: 1.5 decode steps
    // with 32 threads against 2.8 with 64 (subgroups of 8 there; 8 threads: see vulkan.md).
    const uint32_t sg = std::max<uint32_t>(dev_.info().subgroup_size, 1);
    const uint32_t threads = std::min(q8b_threads_, std::max(sg, ceil_div(ne0 / 32, sg) * sg));
    std::unique_ptr<Program>& prog = matmul_q8b_[{type, n_cols, threads}];
    if (!prog)
        prog = program<MatMulQ8PC>(dev_, "matmul_q8b_" + lower(type_name(type)), 3, {wide_rows_, threads, n_cols});
    const uint32_t groups = ceil_div(n_rows, wide_rows_), gx = std::min<uint32_t>(groups, 65535);
    dispatch(dev_, cmd, *prog, {w, xq, y}, MatMulQ8PC{ne0, n_rows, n_cols, gx, accumulate ? 1u : 0u, x_col0},
             gx, ceil_div(groups, gx));
    return true;
}

bool Ops::matvec_q8(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef xq, BufferRef y, uint32_t ne0,
                    uint32_t n_rows, bool accumulate) const {
    auto it = matvec_q8_.find(type);
    if (it == matvec_q8_.end() || ne0 % 32 != 0) return false;
    const uint32_t groups = ceil_div(n_rows, wide_rows_), gx = std::min<uint32_t>(groups, 65535);
    dispatch(dev_, cmd, *it->second, {w, xq, y}, MatVecPC{ne0, n_rows, 1, gx, accumulate ? 1u : 0u}, gx,
             ceil_div(groups, gx));
    return true;
}

const Program* Ops::rope_program(GgmlType type, uint32_t ne0, uint32_t n_rows, uint32_t head_dim, bool* int8) const {
    *int8 = false;
    if (wide_rows_ % 2 != 0 || n_rows % 2 != 0 || head_dim % 2 != 0) return nullptr;  // rows in RoPE pairs
    auto q8 = matvec_q8_rope_.find(type);
    if (q8 != matvec_q8_rope_.end() && ne0 % 32 == 0) {
        *int8 = true;
        return q8->second.get();
    }
    auto wide = matvec_wide_rope_.find(type);
    return wide != matvec_wide_rope_.end() && ne0 % wide_slot(type) == 0 ? wide->second.get() : nullptr;
}

bool Ops::has_matvec_rope(GgmlType type, uint32_t ne0, uint32_t n_rows, uint32_t head_dim) const {
    bool int8 = false;
    return rope_program(type, ne0, n_rows, head_dim, &int8) != nullptr;
}

bool Ops::matvec_rope(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef x, BufferRef xq, BufferRef y,
                      BufferRef cs, BufferRef cache, uint32_t ne0, uint32_t n_rows, RopeOut mode, uint32_t head_dim,
                      uint32_t rope_dim, uint32_t pos) const {
    bool int8 = false;
    const Program* prog = rope_program(type, ne0, n_rows, head_dim, &int8);
    if (!prog) return false;
    const uint32_t groups = ceil_div(n_rows, wide_rows_), gx = std::min<uint32_t>(groups, 65535);
    const MatVecRopePC pc{MatVecPC{ne0, n_rows, 1, gx, 0}, uint32_t(mode), head_dim, rope_dim, pos};
    dispatch(dev_, cmd, *prog, {w, int8 ? xq : x, y, cs, cache}, pc, gx, ceil_div(groups, gx));
    return true;
}

bool Ops::takes_x16(GgmlType type, uint32_t ne0, uint32_t n_cols) const {
    return n_cols > 1 && ne0 % 128 == 0 && matmul_coopmat_wide_.count(type) != 0;
}

void Ops::to_f16(VkCommandBuffer cmd, BufferRef x, BufferRef y, uint32_t n) const {
    if (n % 4 != 0) fail("to_f16: n must be a multiple of 4");
    const Grid gr = grid_1d(n / 4, 256);
    dispatch(dev_, cmd, *to_f16_, {x, y}, EltwisePC{n}, gr.x, gr.y);
}

void Ops::matmul(VkCommandBuffer cmd, GgmlType type, BufferRef w, BufferRef x, BufferRef y,
                 uint32_t ne0, uint32_t n_rows, uint32_t n_cols, bool accumulate, const BufferRef* x16) const {
    if (accumulate && n_cols != 1) fail("matmul: accumulating into y is for one column only");
    if (takes_x16(type, ne0, n_cols)) {  // tensor cores, K slices of 128, on x16 where the caller has it
        const bool half = x16 != nullptr;
        dispatch(dev_, cmd, *(half ? matmul_coopmat_wide16_ : matmul_coopmat_wide_).at(type), {w, half ? *x16 : x, y},
                 MatMulPC{ne0, n_rows, n_cols}, ceil_div(n_rows, 64), ceil_div(n_cols, coopmat_wide_bn_));
        return;
    }
    if (n_cols > 1 && matmul_coopmat_.count(type)) {  // tensor cores, 64 x 64 tiles
        dispatch(dev_, cmd, *matmul_coopmat_.at(type), {w, x, y}, MatMulPC{ne0, n_rows, n_cols},
                 ceil_div(n_rows, 64), ceil_div(n_cols, 64));
        return;
    }
    if (n_cols > 1) {  // prompt batches: 64 x 64 tiles, each weight slice dequantized once per tile
        dispatch(dev_, cmd, typed(matmul_, type), {w, x, y}, MatMulPC{ne0, n_rows, n_cols},
                 ceil_div(n_rows, 64), ceil_div(n_cols, 64));
        return;
    }
    if (wide_ && ne0 % wide_slot(type) == 0 && matvec_wide_.count(type)) {
        const uint32_t groups = ceil_div(n_rows, wide_rows_), gx = std::min<uint32_t>(groups, 65535);
        dispatch(dev_, cmd, typed(matvec_wide_, type), {w, x, y}, MatVecPC{ne0, n_rows, n_cols, gx, accumulate ? 1u : 0u},
                 gx, ceil_div(groups, gx), n_cols);
        return;
    }
    const uint32_t gx = std::min<uint32_t>(n_rows, 65535);
    dispatch(dev_, cmd, typed(matvec_, type), {w, x, y}, MatVecPC{ne0, n_rows, n_cols, gx, accumulate ? 1u : 0u}, gx,
             ceil_div(n_rows, gx), n_cols);
}

}  // namespace ld::vk
