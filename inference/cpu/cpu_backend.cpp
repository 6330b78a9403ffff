// The CPU backend: the Llama forward pass over quantized weights, multithreaded with a
// persistent pool. It is also the reference that every GPU backend is compared against.
// Matrices with a packed layout on this CPU (repack.h) are copied once at load time into that
// layout and the mapped file's pages are released; other weights are used in place from the
// memory-mapped file.
// The KV cache is paged (backend.h): kv_blocks() blocks of kKvBlock positions, addressed through
// each sequence's block table, so one pass may run many sequences; the one-sequence call is the
// identity table, whose blocks merge into one run (the same attention loop as an unpaged cache).
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/cpu/act_quant.h"
#include "inference/cpu/attention_tiled.h"
#include "inference/cpu/ops.h"
#include "inference/cpu/thread_pool.h"
#include "inference/model/llama.h"
#include "inference/quant/quant.h"
#include "inference/quant/repack.h"

namespace ld {

namespace {

struct MatJob {
    const Weight* w;
    float* out;  // (B, w->ne1)
};

struct Unmap {
    size_t bytes = 0;
    void operator()(uint8_t* p) const { munmap(p, bytes); }
};

class CpuBackend final : public Backend {
public:
    CpuBackend(const Model& model, const BackendOptions& o);
    std::string name() const override;
    int context_size() const override { return n_ctx_; }
    int vocab_size() const override { return p_.n_vocab; }
    int batch_size() const override { return n_batch_; }
    bool supports_sequences() const override { return true; }
    int kv_block_size() const override { return kKvBlock; }
    int kv_blocks() const override { return n_kv_blocks_; }
    void copy_kv_block(int src, int dst) override;

private:
    // Positions per KV block: long enough that a run of cached rows amortizes the per-run
    // bookkeeping, short enough that a sequence wastes little of its last block.
    static constexpr int kKvBlock = 64;
    // Query rows per attention tile (tokens x the group's heads; attention_tiled.h): enough rows
    // that each K/V row, loaded once per tile, feeds many dot products; few enough that the
    // tile's queries, outputs and scores stay in L1/L2 (32 x 128 dims: 16 KiB each). 16 and 64
    // measured slower or no faster on 1B shapes (benchmarks/cpu.md).
    static constexpr int kTileRows = 32;
    static_assert(kKvBlock % cpu::kTileChunk == 0, "tile chunks must start at the same positions for any block table");
    void forward_batch(const BatchView& batch) override;
    void repack_weights();
    // Runs jobs sharing one input (B rows of w->ne0 floats) in as few parallel regions as
    // their activation types allow. `xq`: the input already converted to type `xq_type`, for
    // the jobs that take that type (or null).
    void matmuls(std::span<const MatJob> jobs, const float* in, int B, const uint8_t* xq = nullptr,
                 GgmlType xq_type = GgmlType::F32);
    // One parallel region over the jobs' rows. `xq` is the input already in the jobs'
    // activation type, or null: `in` is converted first.
    void matmul_group(std::span<const MatJob> jobs, const float* in, int B, const uint8_t* xq = nullptr);
    // B rows of ne0 floats in activation type `at`, in xq_ (converted in parallel for B > 1).
    const uint8_t* quantize_input(GgmlType at, const float* in, int B, int64_t ne0);
    // The residual stream's rows as a matmul's input: x += o first when `add` (all B rows),
    // then xn_ row r = rmsnorm(x_ row rows[r], or r without `rows`) for r < n, and xn_ in
    // activation type `at` in xq_ (returned). One parallel region over the rows for a batch,
    // where the norms ran on this thread while the others waited, then a region converted.
    const uint8_t* norm_input(const float* weight, GgmlType at, int B, bool add, int n = -1,
                              const int32_t* rows = nullptr);
    // Rows [lo, hi) of job j for the B activations in xq.
    void job_rows(const MatJob& j, const uint8_t* xq, int B, int64_t lo, int64_t hi) const;
    // The feed-forward block of one layer on xn_ (B rows; xq: xn_ in gate's activation type):
    // gate and up, SwiGLU, down into o_.
    void feed_forward(const LayerWeights& L, int B, const uint8_t* xq);
    // Fills runs_ and seq_runs_ (each sequence's cached rows in position order) for a step.
    void plan_runs(const BatchView& batch);
    // The step's attention plan (it depends on the batch, not the layer) and its inputs.
    void plan_attention(const BatchView& batch);
    void attention(int layer);
    uint8_t* k_cache(int layer, int64_t slot) { return k_cache_.get() + kv_offset(layer, slot); }
    uint8_t* v_cache(int layer, int64_t slot) { return v_cache_.get() + kv_offset(layer, slot); }
    size_t kv_offset(int layer, int64_t slot) const {
        return (size_t(layer) * kv_slots_ + size_t(slot)) * size_t(p_.kv_dim()) * kv_elem_;
    }

    const Model& m_;
    LlamaParams p_;
    ThreadPool pool_;
    int n_ctx_;  // most positions one sequence may use
    int n_batch_;
    int n_kv_blocks_;   // the paged cache: n_kv_blocks_ * kKvBlock slots
    size_t kv_slots_;
    GgmlType kv_type_;
    size_t kv_elem_;
    const cpu::KvKernels& kk_;
    const cpu::TileKernels& tk_;
    std::unique_ptr<uint8_t[]> k_cache_;  // (n_layers, kv_slots, kv_dim) of kv_type; untouched
    std::unique_ptr<uint8_t[]> v_cache_;  //   pages cost no memory until written
    std::vector<float> inv_freq_;         // (rope_dim / 2) with scaling and factors applied
    // Activations for one batch.
    std::vector<float> x_, xn_;           // (n_batch, dim)
    std::vector<float> q_, att_;          // (n_batch, n_heads * head_dim)
    std::vector<float> k_, v_;            // (n_batch, kv_dim)
    std::vector<float> g_, u_;            // (n_batch, ffn_dim)
    std::vector<float> o_;                // (n_batch, dim)
    std::vector<float> cos_, sin_;        // (n_batch, rope_dim / 2)
    std::vector<float> attn_scratch_;     // (n_threads, attn_scratch_floats_)
    size_t attn_scratch_floats_ = 0;
    cpu::AttentionPlan attn_plan_;
    cpu::AttentionStep attn_step_;        // this step's, planned once: each layer sets its cache
    std::vector<uint8_t> xq_;             // quantized activations
    std::vector<uint8_t> xq_down_;        // SwiGLU output in the down matrix's activation type
    std::vector<cpu::KvRun> runs_;        // every sequence's runs of cache rows, one after another
    std::vector<int> seq_runs_;           // (n_seqs) each sequence's first entry in runs_
    std::vector<int> seq_last_;           // (n_seqs) scratch: each sequence's last position in a step
    // Packed copies of the matrices that have a packed layout, in one anonymous mapping.
    std::unique_ptr<uint8_t, Unmap> packed_buf_;
    std::unordered_map<const Weight*, const uint8_t*> packed_;
    // The packed output matrix when it is also the embedding table (tied): rows come from it,
    // since the mapped pages were released.
    const uint8_t* packed_embd_ = nullptr;
    std::vector<uint8_t> embd_row_;
};

CpuBackend::CpuBackend(const Model& model, const BackendOptions& o)
    : m_(model),
      p_(model.params),
      pool_(o.n_threads > 0 ? o.n_threads : int(std::max(1u, std::thread::hardware_concurrency()))),
      n_ctx_(std::max(1, std::min(o.n_ctx > 0 ? o.n_ctx : 8192, p_.ctx_train))),
      n_batch_(o.n_batch > 0 ? std::min(o.n_batch, 512) : 256),
      n_kv_blocks_(0),
      kv_slots_(0),
      kv_type_(o.kv_type),
      kv_elem_(o.kv_type == GgmlType::F32 ? 4 : 2),
      kk_(cpu::kv_kernels()),
      tk_(cpu::tile_kernels()) {
    if (kv_type_ != GgmlType::F16 && kv_type_ != GgmlType::F32)
        fail("the CPU backend keeps its KV cache in F16 or F32, not ", type_name(kv_type_));
    if (o.kv_positions < 0) fail("a negative KV cache size (", o.kv_positions, " positions)");
    // At least one sequence's full context: the one-sequence call maps the cache from block 0.
    n_kv_blocks_ = int((std::max<int64_t>(n_ctx_, o.kv_positions) + kKvBlock - 1) / kKvBlock);
    kv_slots_ = size_t(n_kv_blocks_) * kKvBlock;
    const size_t kv_bytes = size_t(p_.n_layers) * kv_slots_ * size_t(p_.kv_dim()) * kv_elem_;
    try {
        k_cache_.reset(new uint8_t[kv_bytes]);
        v_cache_.reset(new uint8_t[kv_bytes]);
    } catch (const std::bad_alloc&) {
        fail("not enough memory for a KV cache of ", kv_slots_, " positions (", 2 * kv_bytes >> 20, " MiB of ",
             type_name(kv_type_), " keys and values)");
    }
    inv_freq_.resize(size_t(p_.rope_dim / 2));
    for (int i = 0; i < p_.rope_dim / 2; ++i) {
        double f = 1.0 / std::pow(double(p_.rope_theta), 2.0 * i / p_.rope_dim) * p_.rope_freq_scale;
        if (!p_.rope_freq_factors.empty()) f /= p_.rope_freq_factors[size_t(i)];
        inv_freq_[size_t(i)] = float(f);
    }
    const size_t B = size_t(n_batch_);
    x_.resize(B * p_.dim);
    xn_.resize(B * p_.dim);
    o_.resize(B * p_.dim);
    q_.resize(B * p_.q_dim());
    att_.resize(B * p_.q_dim());
    k_.resize(B * p_.kv_dim());
    v_.resize(B * p_.kv_dim());
    g_.resize(B * p_.ffn_dim);
    u_.resize(B * p_.ffn_dim);
    cos_.resize(B * inv_freq_.size());
    sin_.resize(B * inv_freq_.size());
    // Per thread: a tile's buffers, and at least one row's scores over a whole context (the
    // per-row reference path, kTileRows 0, when bisecting the tiles).
    attn_scratch_floats_ = cpu::AttentionPlan::scratch_floats(kTileRows, p_.n_heads / p_.n_kv_heads, p_.head_dim, n_ctx_);
    attn_scratch_.resize(size_t(pool_.size()) * attn_scratch_floats_);
    if (o.tuning.cpu_repack) repack_weights();  // off: the GGUF layout (bisecting a kernel bug)
}

void CpuBackend::repack_weights() {
    std::vector<const Weight*> mats;
    for (const LayerWeights& L : m_.layers)
        for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) mats.push_back(w);
    mats.push_back(&m_.output);
    std::vector<size_t> offset;
    size_t total = 0;
    for (const Weight* w : mats) {
        offset.push_back(total);
        if (can_repack(w->type, w->ne0)) total += (packed_size(w->type, w->ne0, w->ne1) + 4095) & ~size_t(4095);
    }
    if (total == 0) return;
    void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;  // not fatal: the GGUF layout still works
    // Decode streams every packed byte once per token: huge pages spare the TLB misses.
    madvise(mem, total, MADV_HUGEPAGE);
    packed_buf_ = std::unique_ptr<uint8_t, Unmap>(static_cast<uint8_t*>(mem), Unmap{total});
    const gguf::File* file = m_.file.get();
    for (size_t k = 0; k < mats.size(); ++k) {
        const Weight& w = *mats[k];
        if (!can_repack(w.type, w.ne0)) continue;
        uint8_t* dst = packed_buf_.get() + offset[k];
        const int64_t groups = (w.ne1 + kPackRows - 1) / kPackRows;
        // The packed copy replaces the mapped pages: drop them from this process (they stay
        // in the page cache) so resident memory stays near one copy of the weights. Done in
        // slices of ~32 MB so the largest matrix (the output) is never resident twice. Only
        // for file mappings: DONTNEED would zero anonymous memory (synthetic models). A tied
        // output matrix is also the embedding table; lookups fault single rows back in.
        const bool mapped = file && w.data >= file->bytes() && w.data + w.nbytes <= file->bytes() + file->size();
        const size_t group_src = size_t(kPackRows) * w.row_bytes();
        const int64_t slice = std::max<int64_t>(1, int64_t((size_t(32) << 20) / group_src));
        for (int64_t s0 = 0; s0 < groups; s0 += slice) {
            const int64_t s1 = std::min(groups, s0 + slice);
            pool_.run([&](int ith, int nth) {
                int64_t g0, g1;
                split_range(s1 - s0, ith, nth, 1, &g0, &g1);
                repack_groups(w.type, w.ne0, w.ne1, w.data, dst, s0 + g0, s0 + g1);
            });
            if (!mapped) continue;
            const uintptr_t page = 4096;
            const uintptr_t lo = reinterpret_cast<uintptr_t>(w.data) + size_t(s0) * group_src;
            const uintptr_t hi = std::min(reinterpret_cast<uintptr_t>(w.data) + w.nbytes,
                                          reinterpret_cast<uintptr_t>(w.data) + size_t(s1) * group_src);
            // Whole pages only: a partly covered page may hold bytes still to be packed.
            const uintptr_t a = (lo + page - 1) & ~(page - 1), b = hi & ~(page - 1);
            if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_DONTNEED);
        }
        packed_[&w] = dst;
    }
    if (auto it = packed_.find(&m_.output); it != packed_.end() && m_.output.data == m_.tok_embd.data &&
                                            m_.output.type == m_.tok_embd.type) {
        packed_embd_ = it->second;
        embd_row_.resize(m_.tok_embd.row_bytes());
    }
}

std::string CpuBackend::name() const {
    return std::string("cpu (") + isa_name(detected_isa()) + ", " + std::to_string(pool_.size()) +
           (pool_.size() == 1 ? " thread)" : " threads)");
}

void CpuBackend::matmuls(std::span<const MatJob> jobs, const float* in, int B, const uint8_t* xq,
                         GgmlType xq_type) {
    // Group consecutive jobs by activation type (q/k/v of a Q4_K_M model may mix Q4_K and Q6_K,
    // both dotted against Q8_K, so they still share one region).
    size_t start = 0;
    for (size_t i = 1; i <= jobs.size(); ++i) {
        const GgmlType at = vec_dot_type(jobs[start].w->type);
        if (i == jobs.size() || vec_dot_type(jobs[i].w->type) != at) {
            const uint8_t* given = xq && at == xq_type ? xq : nullptr;
            matmul_group(jobs.subspan(start, i - start), in, B, given);
            // A group that converted `in` itself wrote xq_, where the given input may live: a
            // later group of xq_type (a mix such as Q8_K, Q8_0, Q8_K) converts again.
            if (!given) xq = nullptr;
            start = i;
        }
    }
}

const uint8_t* CpuBackend::norm_input(const float* weight, GgmlType at, int B, bool add, int n,
                                      const int32_t* rows) {
    if (n < 0) n = B;
    const int dim = p_.dim;
    const size_t xrow = row_size(at, dim);
    if (xq_.size() < size_t(n) * xrow) xq_.resize(size_t(n) * xrow);
    // Each row on its own, element-wise or within the row: the same bits on any thread. With
    // `rows` (gathered) a norm may read a row another thread adds to, so the add comes first.
    if (add && rows) {
        for (size_t i = 0; i < size_t(B) * dim; ++i) x_[i] += o_[i];
        add = false;
    }
    auto some_rows = [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            float* x = x_.data() + size_t(rows ? rows[r] : r) * dim;
            if (add)
                for (int i = 0; i < dim; ++i) x[i] += o_[size_t(r) * dim + size_t(i)];
            float* xn = xn_.data() + size_t(r) * dim;
            cpu::rmsnorm(xn, x, weight, dim, p_.norm_eps);
            cpu::quantize_act(at, xn, xq_.data() + size_t(r) * xrow, dim);
        }
    };
    if (n == 1) {  // one row (a decoding sequence): a region would cost more than it saves
        some_rows(0, 1);
    } else {
        pool_.run([&](int ith, int nth) {
            int64_t r0, r1;
            split_range(n, ith, nth, 1, &r0, &r1);
            some_rows(r0, r1);
        });
    }
    return xq_.data();
}

const uint8_t* CpuBackend::quantize_input(GgmlType at, const float* in, int B, int64_t ne0) {
    const size_t xrow = row_size(at, ne0);
    if (xq_.size() < size_t(B) * xrow) xq_.resize(size_t(B) * xrow);
    uint8_t* xq = xq_.data();
    if (B == 1) {
        cpu::quantize_act(at, in, xq, ne0);
    } else {
        pool_.run([&](int ith, int nth) {
            int64_t b0, b1;
            split_range(B, ith, nth, 1, &b0, &b1);
            for (int64_t b = b0; b < b1; ++b) cpu::quantize_act(at, in + b * ne0, xq + b * xrow, ne0);
        });
    }
    return xq;
}

void CpuBackend::job_rows(const MatJob& j, const uint8_t* xq, int B, int64_t lo, int64_t hi) const {
    const int64_t ne0 = j.w->ne0, rows = j.w->ne1;
    if (auto it = packed_.find(j.w); it != packed_.end())
        packed_matmul(j.w->type, ne0, rows, it->second, xq, B, j.out, rows, lo, hi);
    else if (B == 1)
        matvec(j.w->type, ne0, j.w->data, xq, j.out, lo, hi);
    else
        matmul(j.w->type, ne0, j.w->data, xq, B, j.out, rows, lo, hi);
}

// Rows are claimed in shrinking chunks (RangeClaimer) rather than split in halves: a row's
// result does not depend on which thread computes it or with which neighbours (chunks are
// aligned to whole 16-row groups), so the bits are those of a fixed split.
constexpr int64_t kMinClaimRows = 64;

void CpuBackend::matmul_group(std::span<const MatJob> jobs, const float* in, int B, const uint8_t* xq) {
    if (!xq) xq = quantize_input(vec_dot_type(jobs[0].w->type), in, B, jobs[0].w->ne0);
    int64_t total = 0;
    for (const MatJob& j : jobs) total += j.w->ne1;
    RangeClaimer claim(total, pool_.size(), kPackRows, kMinClaimRows);
    pool_.run([&](int, int) {
        for (int64_t r0, r1; claim.next(&r0, &r1);) {
            int64_t off = 0;
            for (const MatJob& j : jobs) {
                const int64_t rows = j.w->ne1;
                const int64_t lo = std::max(r0, off), hi = std::min(r1, off + rows);
                if (lo < hi) job_rows(j, xq, B, lo - off, hi - off);
                off += rows;
            }
        }
    });
}

void CpuBackend::feed_forward(const LayerWeights& L, int B, const uint8_t* xq) {
    const int ffn = p_.ffn_dim;
    const GgmlType at = vec_dot_type(L.w_gate.type), ad = vec_dot_type(L.w_down.type);
    const int64_t blk = traits(ad).block_size;
    // Gate and up in one region, a chunk of ffn rows of both at a time, with SwiGLU applied to
    // the chunk and, when the chunk holds whole activation blocks, its conversion for the down
    // matrix too: the serial element-wise pass and conversion between the two regions go.
    // Element-wise and block-wise, so the bits are those of the separate passes.
    if (vec_dot_type(L.w_up.type) != at || L.w_gate.ne1 != ffn || L.w_up.ne1 != ffn) {
        const MatJob gate_up[] = {{&L.w_gate, g_.data()}, {&L.w_up, u_.data()}};
        matmuls(gate_up, xn_.data(), B);
        cpu::silu_mul(g_.data(), u_.data(), B * ffn);
        const MatJob down[] = {{&L.w_down, o_.data()}};
        matmuls(down, g_.data(), B);
        return;
    }
    const bool convert = ffn % blk == 0;
    const int64_t align = convert ? std::max<int64_t>(kPackRows, blk) : kPackRows;
    const size_t drow = row_size(ad, ffn);
    if (convert && xq_down_.size() < size_t(B) * drow) xq_down_.resize(size_t(B) * drow);
    const MatJob gate{&L.w_gate, g_.data()}, up{&L.w_up, u_.data()};
    RangeClaimer claim(ffn, pool_.size(), align, std::max(align, kMinClaimRows / 2));
    pool_.run([&](int, int) {
        for (int64_t lo, hi; claim.next(&lo, &hi);) {
            job_rows(gate, xq, B, lo, hi);
            job_rows(up, xq, B, lo, hi);
            for (int b = 0; b < B; ++b) {
                float* g = g_.data() + size_t(b) * ffn + lo;
                cpu::silu_mul(g, u_.data() + size_t(b) * ffn + lo, int(hi - lo));
                if (convert)
                    cpu::quantize_act(ad, g, xq_down_.data() + size_t(b) * drow + row_size(ad, lo), hi - lo);
            }
        }
    });
    const MatJob down[] = {{&L.w_down, o_.data()}};
    if (convert) matmul_group(down, nullptr, B, xq_down_.data());
    else matmuls(down, g_.data(), B);
}

void CpuBackend::copy_kv_block(int src, int dst) {
    if (src < 0 || src >= n_kv_blocks_ || dst < 0 || dst >= n_kv_blocks_)
        fail("copy_kv_block(", src, ", ", dst, "): a block outside the cache (", n_kv_blocks_, " blocks)");
    if (src == dst) return;
    const size_t bytes = size_t(kKvBlock) * size_t(p_.kv_dim()) * kv_elem_;
    for (int l = 0; l < p_.n_layers; ++l) {
        std::memcpy(k_cache(l, int64_t(dst) * kKvBlock), k_cache(l, int64_t(src) * kKvBlock), bytes);
        std::memcpy(v_cache(l, int64_t(dst) * kKvBlock), v_cache(l, int64_t(src) * kKvBlock), bytes);
    }
}

void CpuBackend::plan_runs(const BatchView& batch) {
    runs_.clear();
    seq_runs_.assign(size_t(batch.n_seqs), 0);
    if (batch.contiguous) {  // the identity table: the whole cache is one run
        runs_.push_back({0, int(std::min<size_t>(kv_slots_, INT_MAX))});
        return;
    }
    // Only the blocks this step reads: up to each sequence's last position in the batch.
    std::vector<int>& last = seq_last_;
    last.assign(size_t(batch.n_seqs), -1);
    for (int t = 0; t < batch.n; ++t) last[size_t(batch.seq[t])] = std::max(last[size_t(batch.seq[t])], batch.positions[t]);
    for (int s = 0; s < batch.n_seqs; ++s) {
        seq_runs_[size_t(s)] = int(runs_.size());
        const SeqView& v = batch.seqs[s];
        const int n_blocks = last[size_t(s)] < 0 ? 0 : last[size_t(s)] / kKvBlock + 1;
        const size_t first = runs_.size();
        for (int b = 0; b < n_blocks; ++b) {
            const int64_t row = int64_t(v.blocks[b]) * kKvBlock;
            // Blocks that follow each other in the cache merge into one run.
            if (runs_.size() > first && runs_.back().first + runs_.back().n == row) runs_.back().n += kKvBlock;
            else runs_.push_back({row, kKvBlock});
        }
    }
}

void CpuBackend::plan_attention(const BatchView& batch) {
    cpu::AttentionStep& st = attn_step_;
    st.q = q_.data();
    st.out = att_.data();
    st.positions = batch.positions;
    st.seq = batch.seq;
    st.n = batch.n;
    st.n_heads = p_.n_heads;
    st.n_kv_heads = p_.n_kv_heads;
    st.head_dim = p_.head_dim;
    st.scale = 1.0f / std::sqrt(float(p_.head_dim));
    st.f16 = kv_type_ == GgmlType::F16;
    st.kv_stride = p_.kv_dim();
    st.runs = runs_.data();
    st.seq_runs = seq_runs_.data();
    st.n_seqs = batch.n_seqs;
    attn_plan_.plan(st, kTileRows);
}

void CpuBackend::attention(int layer) {
    cpu::AttentionStep& st = attn_step_;
    st.k_cache = k_cache(layer, 0);
    st.v_cache = v_cache(layer, 0);
    // Items are taken one at a time rather than split evenly: a tile deep in a long context
    // costs many times a decoding row's tile of a short sequence in the same step.
    std::atomic<size_t> next{0};
    pool_.run([&](int ith, int) {
        float* scratch = attn_scratch_.data() + size_t(ith) * attn_scratch_floats_;
        for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < attn_plan_.items();)
            attn_plan_.run(st, i, tk_, kk_, scratch);
    });
}

void CpuBackend::forward_batch(const BatchView& batch) {
    const int32_t* tokens = batch.tokens;
    const int B = batch.n;
    const int dim = p_.dim, kvd = p_.kv_dim(), qd = p_.q_dim();
    const size_t nf = inv_freq_.size();
    plan_runs(batch);
    plan_attention(batch);
    for (int t = 0; t < B; ++t) {
        const uint8_t* row = m_.tok_embd.row(tokens[t]);
        if (packed_embd_) {
            packed_row(m_.tok_embd.type, dim, m_.tok_embd.ne1, packed_embd_, tokens[t], embd_row_.data());
            row = embd_row_.data();
        }
        dequantize_row(m_.tok_embd.type, row, x_.data() + size_t(t) * dim, dim);
        for (size_t i = 0; i < nf; ++i) {
            const float angle = float(batch.positions[t]) * inv_freq_[i];
            cos_[size_t(t) * nf + i] = std::cos(angle);
            sin_[size_t(t) * nf + i] = std::sin(angle);
        }
    }
    for (int l = 0; l < p_.n_layers; ++l) {
        const LayerWeights& L = m_.layers[size_t(l)];
        const float* attn_norm = reinterpret_cast<const float*>(L.attn_norm.data);
        // The previous layer's feed-forward output joins the residual stream here.
        const GgmlType at_qkv = vec_dot_type(L.wq.type);
        const uint8_t* xq = norm_input(attn_norm, at_qkv, B, l > 0);
        const MatJob qkv[] = {{&L.wq, q_.data()}, {&L.wk, k_.data()}, {&L.wv, v_.data()}};
        matmuls(qkv, xn_.data(), B, xq, at_qkv);
        // Every row's key and value go to the cache before any row attends (a sequence's later
        // rows read its earlier ones of this step).
        for (int t = 0; t < B; ++t) {
            const float* c = cos_.data() + size_t(t) * nf;
            const float* s = sin_.data() + size_t(t) * nf;
            float* kt = k_.data() + size_t(t) * kvd;
            const float* vt = v_.data() + size_t(t) * kvd;
            cpu::rope(q_.data() + size_t(t) * qd, p_.n_heads, p_.head_dim, p_.rope_dim, c, s);
            cpu::rope(kt, p_.n_kv_heads, p_.head_dim, p_.rope_dim, c, s);
            const int64_t slot = batch.slot(t);
            if (kv_type_ == GgmlType::F16) {
                auto* kc = reinterpret_cast<fp16_t*>(k_cache(l, slot));
                auto* vc = reinterpret_cast<fp16_t*>(v_cache(l, slot));
                for (int i = 0; i < kvd; ++i) {
                    kc[i] = fp32_to_fp16(kt[i]);
                    vc[i] = fp32_to_fp16(vt[i]);
                }
            } else {
                std::memcpy(k_cache(l, slot), kt, sizeof(float) * size_t(kvd));
                std::memcpy(v_cache(l, slot), vt, sizeof(float) * size_t(kvd));
            }
        }
        attention(l);
        const MatJob wo[] = {{&L.wo, o_.data()}};
        matmuls(wo, att_.data(), B);

        const float* ffn_norm = reinterpret_cast<const float*>(L.ffn_norm.data);
        feed_forward(L, B, norm_input(ffn_norm, vec_dot_type(L.w_gate.type), B, true));
    }
    const int n_out = batch.logit_rows();
    if (n_out == 0) return;
    // Only the rows someone reads go through the output matrix (the largest one), packed in
    // logit_row order; the last feed-forward output joins the residual stream first.
    const float* out_norm = reinterpret_cast<const float*>(m_.output_norm.data);
    const GgmlType at_out = vec_dot_type(m_.output.type);
    const uint8_t* xq = norm_input(out_norm, at_out, B, true, n_out, batch.logit_row);
    const MatJob out[] = {{&m_.output, batch.logits}};
    matmuls(out, xn_.data(), n_out, xq, at_out);
}

}  // namespace

std::unique_ptr<Backend> create_cpu_backend(const Model& model, const BackendOptions& options) {
    return std::make_unique<CpuBackend>(model, options);
}

}  // namespace ld
