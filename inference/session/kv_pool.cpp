#include "inference/session/kv_pool.h"

#include <algorithm>
#include <cstring>

#include "inference/core/error.h"

namespace ld {

namespace {

constexpr uint64_t kRootKey = 0x6c6c616d61646b31ull;  // the "parent" of every first block

uint64_t mix(uint64_t x) {  // splitmix64's finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// The key of a block: its parent's key (the whole prefix before it) and its own tokens.
uint64_t block_key(uint64_t parent, const int32_t* tokens, int n) {
    uint64_t h = mix(parent ^ 0x2545f4914f6cdd1dull);
    for (int i = 0; i < n; ++i) h = mix(h ^ (uint64_t(uint32_t(tokens[i])) + 0x9e3779b97f4a7c15ull));
    return h;
}

}  // namespace

KvPool::KvPool(int n_blocks, int block_size, CopyBlock copy) : block_size_(block_size), copy_(std::move(copy)) {
    if (n_blocks < 1) fail("a KV pool needs at least one block (", n_blocks, " asked for)");
    if (block_size < 1) fail("a KV block needs at least one position (", block_size, " asked for)");
    blocks_.resize(size_t(n_blocks));
    cached_tokens_.resize(size_t(n_blocks) * size_t(block_size));
    free_.reserve(size_t(n_blocks));
    for (int b = n_blocks - 1; b >= 0; --b) free_.push_back(b);  // block 0 is handed out first
}

KvPool::KvPool(Backend& backend)
    : KvPool(backend.kv_blocks(), backend.kv_block_size(), [&backend](int src, int dst) { backend.copy_kv_block(src, dst); }) {}

KvPool::Seq& KvPool::seq_at(int id) {
    if (id < 0 || id >= int(seqs_.size()) || !seqs_[size_t(id)].live) fail("KV pool: no sequence ", id);
    return seqs_[size_t(id)];
}

const KvPool::Seq& KvPool::seq_at(int id) const {
    if (id < 0 || id >= int(seqs_.size()) || !seqs_[size_t(id)].live) fail("KV pool: no sequence ", id);
    return seqs_[size_t(id)];
}

int KvPool::new_seq() {
    int id;
    if (!free_seqs_.empty()) {
        id = free_seqs_.back();
        free_seqs_.pop_back();
    } else {
        id = int(seqs_.size());
        seqs_.emplace_back();
    }
    Seq& s = seqs_[size_t(id)];
    s = Seq{};
    s.live = true;
    ++live_;
    return id;
}

int KvPool::take_block() {
    if (!free_.empty()) {
        const int b = free_.back();
        free_.pop_back();
        blocks_[size_t(b)].refs = 1;
        return b;
    }
    if (lru_.empty()) return -1;
    const int b = lru_.front();  // evict: it leaves the prefix cache
    lru_.pop_front();
    Block& blk = blocks_[size_t(b)];
    by_key_.erase(blk.key);
    blk.registered = false;
    blk.refs = 1;
    return b;
}

void KvPool::hold(int b) {
    Block& blk = blocks_[size_t(b)];
    if (blk.refs == 0) lru_.erase(blk.lru);  // only registered blocks sit idle with no holder
    ++blk.refs;
}

void KvPool::drop(int b) {
    Block& blk = blocks_[size_t(b)];
    if (--blk.refs > 0) return;
    if (blk.registered) blk.lru = lru_.insert(lru_.end(), b);
    else free_.push_back(b);
}

int KvPool::open(const std::vector<int32_t>& tokens) {
    const int id = new_seq();
    Seq& s = seqs_[size_t(id)];
    const int B = block_size_;
    uint64_t parent = kRootKey;
    for (size_t at = 0; at + size_t(B) <= tokens.size(); at += size_t(B)) {
        const uint64_t key = block_key(parent, tokens.data() + at, B);
        const auto it = by_key_.find(key);
        if (it == by_key_.end()) break;
        const int b = it->second;
        const Block& blk = blocks_[size_t(b)];
        // A 64-bit hash may collide: a hit must also have these tokens after the same prefix.
        if (blk.parent != parent || std::memcmp(block_tokens(b), tokens.data() + at, size_t(B) * sizeof(int32_t)) != 0)
            break;
        hold(b);
        s.blocks.push_back(b);
        s.keys.push_back(key);
        parent = key;
    }
    // The last token runs again for its logits: a fully cached prompt keeps its last block
    // shared, and the next reserve() copies it before that position is written.
    const size_t adopted = std::min(s.blocks.size() * size_t(B), tokens.empty() ? 0 : tokens.size() - 1);
    s.tokens.assign(tokens.begin(), tokens.begin() + long(adopted));
    s.keys.resize(adopted / size_t(B));
    return id;
}

int KvPool::fork(int seq) {
    seq_at(seq);  // checks the id before new_seq() may move seqs_
    const int id = new_seq();
    Seq& child = seqs_[size_t(id)];
    const Seq& parent = seqs_[size_t(seq)];
    child.blocks = parent.blocks;
    child.tokens = parent.tokens;
    child.keys = parent.keys;
    for (int32_t b : child.blocks) hold(b);
    return id;
}

void KvPool::close(int seq) {
    Seq& s = seq_at(seq);
    // Last block first: a prefix's first blocks become the most recently used, so its tails are
    // evicted before its heads (a tail is useless without its head).
    for (auto it = s.blocks.rbegin(); it != s.blocks.rend(); ++it) drop(*it);
    s = Seq{};
    free_seqs_.push_back(seq);
    --live_;
}

int KvPool::length(int seq) const { return int(seq_at(seq).tokens.size()); }

bool KvPool::needs_copy(const Seq& s) const {
    const size_t at = s.tokens.size() / size_t(block_size_);
    return at < s.blocks.size() && !writable(s.blocks[at]);
}

int KvPool::blocks_needed(int seq, int n) const {
    const Seq& s = seq_at(seq);
    if (n < 0) fail("KV pool: a negative position count (", n, ")");
    if (n == 0) return 0;
    const int64_t end = int64_t(s.tokens.size()) + n;
    const int64_t want = (end + block_size_ - 1) / block_size_;
    return int(std::max<int64_t>(0, want - int64_t(s.blocks.size()))) + (needs_copy(s) ? 1 : 0);
}

bool KvPool::reserve(int seq, int n) {
    const int need = blocks_needed(seq, n);
    if (need > available_blocks()) return false;
    if (n == 0) return true;
    Seq& s = seqs_[size_t(seq)];
    if (needs_copy(s)) {
        const size_t at = s.tokens.size() / size_t(block_size_);
        const int src = s.blocks[at], dst = take_block();  // src is held, so never the one evicted
        try {
            copy_(src, dst);
        } catch (...) {
            drop(dst);
            throw;
        }
        s.blocks[at] = dst;
        drop(src);
    }
    const size_t want = (s.tokens.size() + size_t(n) + size_t(block_size_) - 1) / size_t(block_size_);
    while (s.blocks.size() < want) s.blocks.push_back(take_block());
    return true;
}

void KvPool::commit(int seq, const int32_t* tokens, int n) {
    Seq& s = seq_at(seq);
    if (n < 0 || (n > 0 && !tokens)) fail("KV pool: commit of ", n, " tokens without them");
    const size_t B = size_t(block_size_);
    if (s.tokens.size() + size_t(n) > s.blocks.size() * B)
        fail("KV pool: sequence ", seq, " commits ", n, " positions past its reserved blocks");
    if (n > 0 && needs_copy(s)) fail("KV pool: sequence ", seq, " wrote a shared block without reserving it");
    s.tokens.insert(s.tokens.end(), tokens, tokens + n);
    // Blocks that are full now: their contents are final, so other sequences may adopt them.
    while (s.keys.size() < s.tokens.size() / B) {
        const size_t i = s.keys.size();
        const uint64_t parent = i == 0 ? kRootKey : s.keys[i - 1];
        const uint64_t key = block_key(parent, s.tokens.data() + i * B, int(B));
        s.keys.push_back(key);
        const int b = s.blocks[i];
        Block& blk = blocks_[size_t(b)];
        if (blk.registered || by_key_.count(key)) continue;  // adopted, or another sequence got there first
        blk.registered = true;
        blk.key = key;
        blk.parent = parent;
        std::memcpy(cached_tokens_.data() + size_t(b) * B, s.tokens.data() + i * B, B * sizeof(int32_t));
        by_key_.emplace(key, b);
    }
}

void KvPool::truncate(int seq, int n) {
    Seq& s = seq_at(seq);
    if (n < 0 || n > int(s.tokens.size()))
        fail("KV pool: sequence ", seq, " cannot be cut to ", n, " positions (it holds ", s.tokens.size(), ")");
    const size_t B = size_t(block_size_);
    const size_t keep = (size_t(n) + B - 1) / B;
    while (s.blocks.size() > keep) {
        drop(s.blocks.back());
        s.blocks.pop_back();
    }
    s.tokens.resize(size_t(n));
    s.keys.resize(size_t(n) / B);  // a cut inside a full block: needs_copy() now sees it cached
}

SeqView KvPool::view(int seq) const {
    const Seq& s = seq_at(seq);
    return SeqView{s.blocks.data(), int(s.blocks.size())};
}

void KvPool::clear_cache() {
    for (int b : lru_) {
        Block& blk = blocks_[size_t(b)];
        by_key_.erase(blk.key);
        blk.registered = false;
        free_.push_back(b);
    }
    lru_.clear();
}

void KvPool::check() const {
    std::vector<int> refs(blocks_.size(), 0);
    int live = 0;
    for (const Seq& s : seqs_) {
        if (!s.live) continue;
        ++live;
        if (s.tokens.size() > s.blocks.size() * size_t(block_size_)) fail("KV pool check: a sequence is longer than its blocks");
        if (s.keys.size() != s.tokens.size() / size_t(block_size_)) fail("KV pool check: a sequence's keys do not match its full blocks");
        for (int32_t b : s.blocks) {
            if (b < 0 || b >= int(blocks_.size())) fail("KV pool check: block ", b, " out of range");
            ++refs[size_t(b)];
        }
    }
    if (live != live_) fail("KV pool check: ", live, " live sequences, ", live_, " counted");
    std::vector<int> where(blocks_.size(), 0);  // 1 free, 2 idle cached
    for (int32_t b : free_) {
        if (where[size_t(b)]++) fail("KV pool check: block ", b, " listed twice");
        if (refs[size_t(b)] || blocks_[size_t(b)].registered) fail("KV pool check: free block ", b, " is held or cached");
    }
    for (int b : lru_) {
        if (where[size_t(b)]) fail("KV pool check: block ", b, " both free and idle");
        where[size_t(b)] = 2;
        if (refs[size_t(b)] || !blocks_[size_t(b)].registered) fail("KV pool check: idle block ", b, " is held or not cached");
    }
    int registered = 0;
    for (size_t b = 0; b < blocks_.size(); ++b) {
        const Block& blk = blocks_[b];
        if (blk.refs != refs[b]) fail("KV pool check: block ", b, " counts ", blk.refs, " holders, ", refs[b], " hold it");
        if (refs[b] == 0 && !where[b]) fail("KV pool check: block ", b, " is lost (no holder, not free, not cached)");
        if (blk.registered) {
            ++registered;
            const auto it = by_key_.find(blk.key);
            if (it == by_key_.end() || it->second != int(b)) fail("KV pool check: cached block ", b, " not under its key");
        }
    }
    if (registered != int(by_key_.size())) fail("KV pool check: ", by_key_.size(), " keys for ", registered, " cached blocks");
}

}  // namespace ld
