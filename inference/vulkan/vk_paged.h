#pragma once
// The host side of a paged step of the Vulkan backend (a BatchView with contiguous == false):
// each token's cache row, the attention tiles, the block tables of the step's sequences and the
// batch rows whose logits are wanted, written into host-visible buffers that the step's kernels
// read (rope_store_paged, attention_paged or attention_split_paged, and the logits' gather).
#include <cstdint>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/vulkan/vk_resources.h"

namespace ld::vk {

class PagedStep {
public:
    // Steps of up to max_tokens tokens.
    PagedStep(const Device& dev, int max_tokens);

    // Fills the buffers for `b` (b.n <= max_tokens, b.block == kKvBlock). Only the blocks of each
    // sequence up to its last position in the step are copied. The buffers must not be in use
    // by the GPU (the backend waits for every step).
    void prepare(const BatchView& b, uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim);

    const Buffer& slots() const { return slots_; }    // (n) int32 cache rows
    const Buffer& tiles() const { return tiles_; }    // (n_tiles) AttentionTile
    const Buffer& tables() const { return tables_; }  // the sequences' tables; a one-token step's at 0
    const Buffer& rows() const { return rows_; }      // (n_logits) int32 batch rows
    uint32_t n_tiles() const { return n_tiles_; }
    int n_logits() const { return n_logits_; }
    int first_slot() const { return slot0_; }  // batch row 0's cache row

private:
    const Device& dev_;
    Buffer slots_, tiles_, tables_, rows_;
    std::vector<uint32_t> table_of_;  // per sequence of the batch: its table's offset, or ~0u
    std::vector<int32_t> last_;       // per sequence: its last position in the step
    uint32_t n_tiles_ = 0;
    int n_logits_ = 0, slot0_ = 0;
};

}  // namespace ld::vk
