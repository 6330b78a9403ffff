#include "inference/vulkan/vk_paged.h"

#include <algorithm>
#include <cstring>

#include "inference/core/error.h"
#include "inference/vulkan/vk_ops.h"

namespace ld::vk {

PagedStep::PagedStep(const Device& dev, int max_tokens)
    : dev_(dev),
      slots_(dev, size_t(max_tokens) * sizeof(int32_t), Buffer::Kind::host),
      tiles_(dev, size_t(max_tokens) * sizeof(AttentionTile), Buffer::Kind::host),  // a tile has a token at least
      tables_(dev, 64 * sizeof(int32_t), Buffer::Kind::host),
      rows_(dev, size_t(max_tokens) * sizeof(int32_t), Buffer::Kind::host) {}

void PagedStep::prepare(const BatchView& b, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim) {
    if (b.block != int(kKvBlock)) fail("Vulkan: a paged step with blocks of ", b.block, " positions, not ", kKvBlock);
    if (size_t(b.n) * sizeof(int32_t) > slots_.size()) fail("Vulkan: a paged step of ", b.n, " tokens is too long");
    auto* slots = static_cast<int32_t*>(slots_.mapped());
    for (int t = 0; t < b.n; ++t) slots[t] = int32_t(b.slot(t));
    slot0_ = slots[0];

    // The tables of the sequences in the step, each up to the block of its last position here
    // (attention reads no further), packed one after another.
    last_.assign(size_t(b.n_seqs), -1);
    for (int t = 0; t < b.n; ++t) last_[size_t(b.seq[t])] = std::max(last_[size_t(b.seq[t])], b.positions[t]);
    table_of_.assign(size_t(b.n_seqs), ~0u);
    size_t total = 0;
    for (int s = 0; s < b.n_seqs; ++s)
        if (last_[size_t(s)] >= 0) {
            table_of_[size_t(s)] = uint32_t(total);
            total += size_t(last_[size_t(s)]) / kKvBlock + 1;
        }
    if (total * sizeof(int32_t) > tables_.size())  // grows to the largest step seen
        tables_ = Buffer(dev_, std::max(total, tables_.size() / sizeof(int32_t) * 2) * sizeof(int32_t),
                         Buffer::Kind::host);
    auto* tables = static_cast<int32_t*>(tables_.mapped());
    for (int s = 0; s < b.n_seqs; ++s)
        if (last_[size_t(s)] >= 0)
            std::memcpy(tables + table_of_[size_t(s)], b.seqs[s].blocks,
                        (size_t(last_[size_t(s)]) / kKvBlock + 1) * sizeof(int32_t));

    const std::vector<AttentionTile> tiles =
        Ops::paged_tiles(b.positions, b.seq, b.n, table_of_, n_heads, n_kv_heads, head_dim);
    std::memcpy(tiles_.mapped(), tiles.data(), tiles.size() * sizeof(AttentionTile));
    n_tiles_ = uint32_t(tiles.size());

    n_logits_ = b.logit_rows();
    std::memcpy(rows_.mapped(), b.logit_row, size_t(n_logits_) * sizeof(int32_t));
}

}  // namespace ld::vk
