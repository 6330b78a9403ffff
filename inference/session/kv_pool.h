#pragma once
// The bookkeeping of a paged KV cache shared by many sequences (backend.h: SeqView, SeqBatch):
// which of the backend's kv_blocks() blocks each sequence uses, reference counts for blocks that
// sequences share, copy on write, and a prefix cache.
//
// A sequence's block table grows as it grows (reserve before a forward step, commit after it).
// fork() shares every block of a sequence; a block is written only while exactly one sequence
// holds it and the prefix cache does not, otherwise it is copied first (Backend::copy_kv_block).
// Prefix cache: once a block is full its tokens are known for good, so it is registered under
// the hash of the whole prefix up to its end (verified against its own tokens and its parent's
// key on a hit). Registered blocks outlive their sequences: when no sequence holds them they wait
// in least-recently-used order and are evicted only when blocks run out. open() adopts the
// longest registered prefix of a new sequence's tokens, so those positions are not recomputed.
//
// Running out is never a crash: reserve() answers false and changes nothing; the caller
// (batch_scheduler.h) decides to wait, preempt or fail. Bad ids or calls out of order throw
// ld::Error. Not thread-safe: one owner (the scheduler's thread).
#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>
#include <vector>

#include "inference/backend/backend.h"

namespace ld {

class KvPool {
public:
    // Copies block src's keys and values to block dst (Backend::copy_kv_block).
    using CopyBlock = std::function<void(int src, int dst)>;

    // A pool of n_blocks blocks of block_size positions; throws ld::Error for sizes < 1.
    KvPool(int n_blocks, int block_size, CopyBlock copy);
    // The backend's cache (kv_blocks() of kv_block_size(), copies through copy_kv_block()).
    explicit KvPool(Backend& backend);

    int block_size() const { return block_size_; }
    int total_blocks() const { return int(blocks_.size()); }
    // Blocks a reserve() may take: free ones and cached ones no sequence holds (evicted on use).
    int available_blocks() const { return int(free_.size() + lru_.size()); }
    int free_blocks() const { return int(free_.size()); }          // holding nothing
    int idle_cached_blocks() const { return int(lru_.size()); }    // cached, held by no sequence
    int cached_blocks() const { return int(by_key_.size()); }      // registered, held or not
    int blocks_in_use() const { return total_blocks() - available_blocks(); }
    int sequences() const { return live_; }

    // A new sequence that will hold `tokens` (the prompt). It adopts the longest cached prefix
    // of whole blocks, but at most tokens.size() - 1 positions: the last token always runs, for
    // its logits (when every block of it is cached, the last one is shared and copied on the
    // next reserve). length(id) says how many positions were adopted.
    int open(const std::vector<int32_t>& tokens);
    // A new sequence sharing every position of `seq` (its blocks, reference counted).
    int fork(int seq);
    // Returns the sequence's blocks: full ones stay in the prefix cache, the rest are freed.
    void close(int seq);

    // Positions with keys and values (committed).
    int length(int seq) const;
    // Blocks that reserve(seq, n) would take (new blocks and a copy on write).
    int blocks_needed(int seq, int n) const;
    // Makes room for positions [length, length + n): copies a shared last block (copy on
    // write) and appends new blocks. False, with nothing changed, when the pool lacks blocks.
    bool reserve(int seq, int n);
    // The forward step wrote tokens[0, n) at positions [length, length + n) (reserved before):
    // the sequence grows and the blocks it filled enter the prefix cache.
    void commit(int seq, const int32_t* tokens, int n);
    // Rolls the sequence back to its first n positions (n <= length): a speculative pass wrote
    // drafts past what it commits, or a caller rewinds. Blocks wholly past n go back (also ones
    // reserved and never committed); a kept block that is shared or in the prefix cache stays
    // as it is (its contents are valid for its key) and is copied before the next write into it,
    // so the cache never holds positions that were rolled back.
    void truncate(int seq, int n);
    // The sequence's block table for a SeqBatch; valid until its next reserve/close.
    SeqView view(int seq) const;

    // Forgets every cached block no sequence holds (they become free).
    void clear_cache();
    // Throws ld::Error when the reference counts, lists and map disagree (tests).
    void check() const;

private:
    struct Block {
        int refs = 0;              // sequences holding it
        bool registered = false;   // in by_key_
        uint64_t key = 0, parent = 0;
        std::list<int>::iterator lru;  // valid while registered and refs == 0
    };
    struct Seq {
        bool live = false;
        std::vector<int32_t> blocks;
        std::vector<int32_t> tokens;  // committed
        std::vector<uint64_t> keys;   // prefix hash of each full block
    };

    Seq& seq_at(int id);
    const Seq& seq_at(int id) const;
    int new_seq();
    int take_block();          // a free block, else the least recently used idle cached one; -1: none
    void hold(int b);          // one more sequence holds b
    void drop(int b);          // one fewer; at zero: idle in the cache, or free
    bool writable(int b) const { return blocks_[size_t(b)].refs == 1 && !blocks_[size_t(b)].registered; }
    // Whether the block at index (length / block) must be copied before the next write.
    bool needs_copy(const Seq& s) const;
    const int32_t* block_tokens(int b) const { return cached_tokens_.data() + size_t(b) * size_t(block_size_); }

    int block_size_;
    CopyBlock copy_;
    std::vector<Block> blocks_;
    std::vector<int32_t> free_;                  // a stack of free block ids
    std::list<int> lru_;                         // idle cached blocks, least recently used first
    std::unordered_map<uint64_t, int> by_key_;   // prefix hash -> registered block
    std::vector<int32_t> cached_tokens_;         // block_size tokens per block (registered ones)
    std::vector<Seq> seqs_;
    std::vector<int> free_seqs_;
    int live_ = 0;
};

}  // namespace ld
