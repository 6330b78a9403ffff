#pragma once
// One step's attention on the CPU, planned as work items. A sequence with several tokens in the
// step (a prompt chunk, a draft being verified) is attended in tiles: a tile is some of its
// tokens times the query heads that share one KV head (GQA), and it walks the sequence's cached
// rows in chunks, loading (and converting) each K and V row once for all of the tile's rows,
// with an online (flash-style) softmax per row. The per-row path (attend_f16/f32 in ops.h, one
// query head of one token at a time) re-reads the whole prefix for every row: a prompt chunk of
// B tokens over a long cached chat read it B x group times.
// Decoding rows (one token of a sequence in the step) are tiles too, of the group's heads: a row's
// result depends only on its query, its position and the cache (not on which rows share its
// tile: the same sums in the same order), so a token gives the same bits decoded, in a prompt
// chunk, verified as a draft, alone or batched with other sequences. The per-row path sums in
// another order; it stays as the reference (plan() with tile_rows 0) the tests hold tiles to.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "inference/cpu/ops.h"

namespace ld::cpu {

// Positions a tile handles per pass over its scores. A chunk never crosses a run's end, so with
// runs starting at multiples of it (the CPU backend's KV blocks are a multiple of it) chunks start
// at the same positions for any block table: a row's bits do not depend on where its blocks are.
constexpr int kTileChunk = 64;

// The inner loops of a tile, per instruction set (attention_tiled_avx2.cpp).
struct TileKernels {
    // s[r * lds + j] = scale * (q_r . k_j) for r < rows, j < n; q rows are hd apart, k rows ldk.
    void (*scores)(const float* q, int rows, const float* k, int ldk, int n, int hd, float scale, float* s,
                   int lds);
    // o[r * hd + d] += sum_j p[r * ldp + j] * v[j * ldv + d] for r < rows, j < n.
    void (*accumulate)(const float* p, int ldp, int rows, const float* v, int ldv, int n, int hd, float* o);
    // One row's chunk of scores: raises *m to their maximum if they exceed it, then replaces
    // s[j] by exp(s[j] - *m) for j < n and returns their sum.
    float (*exp_sum)(float* s, int n, float* m);
    // dst[j * hd + d] = src[j * stride + d] as f32.
    void (*f16_rows)(const fp16_t* src, int stride, int n, int hd, float* dst);
};
const TileKernels& tile_kernels_scalar();
const TileKernels* tile_kernels_avx2();  // nullptr when this CPU lacks AVX2/FMA/F16C
// The best allowed: AVX2 when detected_isa() (which LLAMADESK_CPU_ISA may cap) allows it.
const TileKernels& tile_kernels();

// One step's attention: every batch row's query heads against its sequence's cached rows
// (which already hold this step's keys and values).
struct AttentionStep {
    const float* q = nullptr;  // (n, n_heads * head_dim), after rope
    float* out = nullptr;      // (n, n_heads * head_dim)
    const int32_t* positions = nullptr;  // (n) row t sees its sequence's positions 0..positions[t]
    const int32_t* seq = nullptr;        // (n)
    int n = 0;
    int n_heads = 0, n_kv_heads = 0, head_dim = 0;
    float scale = 1.0f;
    // Cache row 0 of KV head 0; a row is kv_stride elements (n_kv_heads * head_dim in the backend).
    const void* k_cache = nullptr;
    const void* v_cache = nullptr;
    bool f16 = true;  // fp16_t elements, else float
    int kv_stride = 0;
    // Sequence s's rows in position order: the runs from runs[seq_runs[s]] on (as many as its
    // longest row needs).
    const KvRun* runs = nullptr;
    const int* seq_runs = nullptr;
    int n_seqs = 0;
};

class AttentionPlan {
public:
    // Splits a step into work items: per sequence and KV head, tiles of about tile_rows rows
    // (whole tokens times the group's heads; at least one token). tile_rows 0: one item per
    // (row, head) on the per-row path instead (the reference).
    void plan(const AttentionStep& s, int tile_rows);
    size_t items() const { return items_.size(); }
    // Runs item i; any thread, items in any order. `scratch` holds scratch_floats() floats.
    void run(const AttentionStep& s, size_t i, const TileKernels& tk, const KvKernels& kk, float* scratch) const;
    // Scratch one thread needs for items of this plan's shape: tiles of tile_rows rows of
    // head_dim, and per-row softmaxes over up to max_positions positions.
    static size_t scratch_floats(int tile_rows, int group, int head_dim, int max_positions);

private:
    struct Item {
        int32_t first;  // tile: index into rows_; per-row item: the batch row
        int32_t count;  // tile: its tokens (rows_[first .. first + count)); 0: a per-row item
        int32_t head;   // tile: the KV head; per-row item: the query head
    };
    void run_tile(const AttentionStep& s, const Item& it, const TileKernels& tk, float* scratch) const;
    std::vector<int32_t> rows_;  // batch rows grouped by sequence, in batch order within one
    std::vector<int32_t> seq_count_, seq_first_, cursor_;
    std::vector<Item> items_;
};

}  // namespace ld::cpu
