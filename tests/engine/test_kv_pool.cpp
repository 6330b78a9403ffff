// The paged KV cache's bookkeeping (inference/session/kv_pool.h): growth, release, running out,
// fork with copy on write, rollback (truncate), the prefix cache and its eviction order, and
// 1,000 random operations that must leave every block back in the pool.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "fake_seq_backend.h"
#include "inference/core/error.h"
#include "inference/session/kv_pool.h"

namespace ld::test {
namespace {

struct Copies {
    std::vector<std::pair<int, int>> done;
    KvPool::CopyBlock fn() {
        return [this](int src, int dst) { done.emplace_back(src, dst); };
    }
};

std::vector<int32_t> seq_tokens(int n, int32_t first = 0) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) t[size_t(i)] = (first + i) % 60;
    return t;
}

// Reserves and commits tokens[length, length + n).
void grow(KvPool& pool, int seq, const std::vector<int32_t>& tokens, int n) {
    const int len = pool.length(seq);
    ASSERT_TRUE(pool.reserve(seq, n));
    pool.commit(seq, tokens.data() + len, n);
}

std::vector<int32_t> table(const KvPool& pool, int seq) {
    const SeqView v = pool.view(seq);
    return std::vector<int32_t>(v.blocks, v.blocks + v.n_blocks);
}

TEST(KvPool, SequencesGrowByBlocksAndGiveThemBack) {
    Copies c;
    KvPool pool(8, 4, c.fn());
    const auto t = seq_tokens(30);
    const int a = pool.open({t.begin(), t.begin() + 10});
    EXPECT_EQ(pool.length(a), 0);  // nothing cached yet
    EXPECT_EQ(pool.blocks_needed(a, 10), 3);
    grow(pool, a, t, 10);
    EXPECT_EQ(pool.length(a), 10);
    EXPECT_EQ(pool.view(a).n_blocks, 3);
    EXPECT_EQ(pool.blocks_needed(a, 2), 0);  // positions 10 and 11 are in the third block
    grow(pool, a, t, 2);
    EXPECT_EQ(pool.view(a).n_blocks, 3);
    grow(pool, a, t, 1);
    EXPECT_EQ(pool.view(a).n_blocks, 4);
    const auto u = seq_tokens(5, 40);
    const int b = pool.open(u);
    grow(pool, b, u, 5);
    auto ta = table(pool, a), tb = table(pool, b);
    for (int32_t x : tb) EXPECT_EQ(std::count(ta.begin(), ta.end(), x), 0) << "two live sequences share block " << x;
    EXPECT_EQ(pool.blocks_in_use(), 6);
    pool.check();
    pool.close(a);
    pool.close(b);
    EXPECT_EQ(pool.blocks_in_use(), 0);
    EXPECT_EQ(pool.free_blocks() + pool.idle_cached_blocks(), 8);
    EXPECT_EQ(pool.cached_blocks(), 3 + 1);  // the full blocks: a's 3 of 13 positions, b's 1 of 5
    pool.clear_cache();
    EXPECT_EQ(pool.free_blocks(), 8);
    EXPECT_TRUE(c.done.empty());
    pool.check();
}

TEST(KvPool, RunningOutIsAnAnswerNotACrash) {
    Copies c;
    KvPool pool(4, 8, c.fn());
    const auto t = seq_tokens(64);
    const int a = pool.open(t);
    EXPECT_FALSE(pool.reserve(a, 33));  // 5 blocks of 4
    EXPECT_EQ(pool.view(a).n_blocks, 0);  // nothing taken
    EXPECT_EQ(pool.available_blocks(), 4);
    grow(pool, a, t, 32);
    const int b = pool.open({1, 2, 3});
    EXPECT_FALSE(pool.reserve(b, 1));
    EXPECT_FALSE(pool.reserve(a, 1));
    EXPECT_TRUE(pool.reserve(b, 0));
    pool.check();
    // Calls out of order are errors, not undefined behaviour.
    EXPECT_THROW(pool.commit(b, t.data(), 1), Error);  // never reserved
    EXPECT_THROW(pool.length(12345), Error);
    EXPECT_THROW(pool.reserve(a, -1), Error);
    pool.close(b);
    EXPECT_THROW(pool.close(b), Error);
    EXPECT_THROW(KvPool(0, 16, c.fn()), Error);
    EXPECT_THROW(KvPool(16, 0, c.fn()), Error);
    pool.close(a);
    pool.check();
}

TEST(KvPool, ForkSharesBlocksAndCopiesTheSharedPartialOneOnWrite) {
    Copies c;
    KvPool pool(16, 4, c.fn());
    const auto t = seq_tokens(40);
    const int parent = pool.open(t);
    grow(pool, parent, t, 10);  // blocks: full, full, 2 of 4
    const auto before = table(pool, parent);
    const int child = pool.fork(parent);
    EXPECT_EQ(table(pool, child), before);
    EXPECT_EQ(pool.length(child), 10);
    EXPECT_EQ(pool.blocks_in_use(), 3);
    // The child appends into the shared partial block: it gets a copy, the parent keeps its own.
    EXPECT_EQ(pool.blocks_needed(child, 1), 1);
    std::vector<int32_t> other = t;
    other[10] = 59;
    grow(pool, child, other, 1);
    ASSERT_EQ(c.done.size(), 1u);
    EXPECT_EQ(c.done[0].first, before[2]);
    const auto after = table(pool, child);
    EXPECT_EQ(c.done[0].second, after[2]);
    EXPECT_NE(after[2], before[2]);
    EXPECT_EQ(after[0], before[0]);  // full blocks stay shared
    EXPECT_EQ(after[1], before[1]);
    EXPECT_EQ(table(pool, parent), before);
    // The parent's partial block is its own again: it writes in place.
    grow(pool, parent, t, 3);
    EXPECT_EQ(c.done.size(), 1u);
    EXPECT_EQ(table(pool, parent)[2], before[2]);
    pool.check();
    pool.close(parent);
    pool.check();
    pool.close(child);
    EXPECT_EQ(pool.blocks_in_use(), 0);
    pool.check();
}

// The same on the fake backend, where a block written over changes the output: after a fork
// both sequences append different tokens, and each one's logits are still those of its own
// history.
TEST(KvPool, AForksSharedBlocksAreNotOverwritten) {
    FakeSeqBackend be(256, 4, 32);
    KvPool pool(be);
    std::vector<int32_t> a = seq_tokens(10);
    const int pa = pool.open(a);
    auto run = [&](int seq, std::vector<int32_t>& hist, int n, float* logits) {
        const int len = pool.length(seq);
        if (!pool.reserve(seq, n)) FAIL() << "out of blocks";
        std::vector<int32_t> pos(static_cast<size_t>(n)), sq(static_cast<size_t>(n), 0);
        std::vector<uint8_t> want(static_cast<size_t>(n), 0);
        want.back() = 1;
        for (int i = 0; i < n; ++i) pos[size_t(i)] = len + i;
        const SeqView v = pool.view(seq);
        SeqBatch b;
        b.n = n;
        b.tokens = hist.data() + len;
        b.positions = pos.data();
        b.seq = sq.data();
        b.seqs = &v;
        b.n_seqs = 1;
        b.want_logits = want.data();
        b.logits = logits;
        be.forward(b);
        pool.commit(seq, hist.data() + len, n);
    };
    std::vector<float> logits(kFakeVocab);
    run(pa, a, 10, logits.data());
    const int pb = pool.fork(pa);
    std::vector<int32_t> b = a;
    a.push_back(1);
    b.push_back(2);
    run(pb, b, 1, logits.data());  // b writes position 10 first: into its copy
    EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), fake_next(b));
    run(pa, a, 1, logits.data());
    EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), fake_next(a));
    EXPECT_EQ(be.copies, 1);
    // Both go on past the shared blocks; the shared full blocks still hold the parent's tokens.
    for (int i = 0; i < 9; ++i) {
        a.push_back(int32_t(i));
        b.push_back(int32_t(20 + i));
        run(pa, a, 1, logits.data());
        EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), fake_next(a));
        run(pb, b, 1, logits.data());
        EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), fake_next(b));
    }
    const SeqView va = pool.view(pa), vb = pool.view(pb);
    EXPECT_EQ(va.blocks[0], vb.blocks[0]);
    EXPECT_EQ(va.blocks[1], vb.blocks[1]);
    EXPECT_NE(va.blocks[2], vb.blocks[2]);
    for (int q = 0; q < 8; ++q) EXPECT_EQ(be.slot(int64_t(va.blocks[q / 4]) * 4 + q % 4).token, a[size_t(q)]);
    pool.close(pa);
    pool.close(pb);
    pool.check();
}

// Speculative decoding writes drafts past what it commits, then rolls back: truncate() returns
// the blocks only the rejected drafts reached, and a cut inside a cached full block keeps that
// block's contents for the cache (the next write copies it), so the cache never holds positions
// that were rolled back.
TEST(KvPool, TruncateRollsBackAndReturnsBlocksPastTheCut) {
    Copies c;
    KvPool pool(12, 4, c.fn());
    const auto t = seq_tokens(40);
    const int a = pool.open({t.begin(), t.begin() + 3});
    grow(pool, a, t, 3);
    ASSERT_TRUE(pool.reserve(a, 9));  // a draft reaching positions 3..11: three blocks
    EXPECT_EQ(pool.view(a).n_blocks, 3);
    pool.commit(a, t.data() + 3, 2);  // two of them accepted: position 4 fills block 0
    pool.truncate(a, pool.length(a));
    EXPECT_EQ(pool.length(a), 5);
    EXPECT_EQ(pool.view(a).n_blocks, 2);
    EXPECT_EQ(pool.blocks_in_use(), 2);
    EXPECT_EQ(pool.cached_blocks(), 1);
    pool.check();
    // A cut inside the cached full block 0: the block stays cached with its four tokens; the
    // next write into it goes to a copy.
    const int32_t cached = table(pool, a)[0];
    pool.truncate(a, 2);
    EXPECT_EQ(pool.length(a), 2);
    EXPECT_EQ(table(pool, a), std::vector<int32_t>{cached});
    EXPECT_EQ(pool.cached_blocks(), 1);
    EXPECT_EQ(pool.blocks_needed(a, 1), 1);
    std::vector<int32_t> other = t;
    other[2] = 59;
    grow(pool, a, other, 3);
    ASSERT_EQ(c.done.size(), 1u);
    EXPECT_EQ(c.done[0].first, cached);
    EXPECT_NE(table(pool, a)[0], cached);
    pool.check();
    // The original prefix is still adopted from the cached block.
    const int b = pool.open({t.begin(), t.begin() + 6});
    EXPECT_EQ(pool.length(b), 4);
    EXPECT_EQ(table(pool, b)[0], cached);
    // A fork cut back below the shared blocks only lets go of them.
    const int f = pool.fork(a);
    pool.truncate(f, 0);
    EXPECT_EQ(pool.view(f).n_blocks, 0);
    EXPECT_EQ(pool.length(a), 5);
    pool.check();
    EXPECT_THROW(pool.truncate(a, 6), Error);
    EXPECT_THROW(pool.truncate(a, -1), Error);
    for (int s : {a, b, f}) pool.close(s);
    EXPECT_EQ(pool.blocks_in_use(), 0);
    pool.check();
}

TEST(KvPool, PrefixCacheAdoptsTheLongestCachedPrefix) {
    Copies c;
    KvPool pool(16, 4, c.fn());
    const auto t = seq_tokens(20);
    const int a = pool.open(t);
    grow(pool, a, t, 14);  // 3 full blocks, 2 positions in a fourth
    const auto blocks = table(pool, a);
    // While a still runs, its full blocks are already shared.
    const int b = pool.open(t);
    EXPECT_EQ(pool.length(b), 12);
    EXPECT_EQ(std::vector<int32_t>(table(pool, b)), std::vector<int32_t>(blocks.begin(), blocks.begin() + 3));
    pool.close(b);
    pool.close(a);
    // A different token in the second block: only the first block matches.
    std::vector<int32_t> u = t;
    u[5] = 59;
    const int d = pool.open(u);
    EXPECT_EQ(pool.length(d), 4);
    EXPECT_EQ(table(pool, d)[0], blocks[0]);
    pool.close(d);
    // A prompt of exactly the cached blocks: the last token runs again (for its logits), in a
    // copy of the last block (the cached one stays as it is).
    const std::vector<int32_t> exact(t.begin(), t.begin() + 12);
    const int e = pool.open(exact);
    EXPECT_EQ(pool.length(e), 11);
    EXPECT_EQ(pool.blocks_needed(e, 1), 1);
    grow(pool, e, exact, 1);
    ASSERT_EQ(c.done.size(), 1u);
    EXPECT_EQ(c.done[0].first, blocks[2]);
    EXPECT_NE(table(pool, e)[2], blocks[2]);
    pool.close(e);
    // A shorter prompt inside one block matches nothing; a one-token prompt adopts nothing.
    EXPECT_EQ(pool.length(pool.open({t[0], t[1]})), 0);
    EXPECT_EQ(pool.length(pool.open({t[0]})), 0);
    pool.check();
}

TEST(KvPool, LeastRecentlyUsedCachedBlocksAreEvictedFirstTailsBeforeHeads) {
    Copies c;
    KvPool pool(6, 2, c.fn());
    const auto x = seq_tokens(6, 0), y = seq_tokens(6, 30);
    const int a = pool.open(x);
    grow(pool, a, x, 6);
    pool.close(a);  // x's 3 blocks cached
    const int b = pool.open(y);
    grow(pool, b, y, 6);
    pool.close(b);  // y's 3 blocks cached, more recently
    EXPECT_EQ(pool.idle_cached_blocks(), 6);
    EXPECT_EQ(pool.free_blocks(), 0);
    // Two new blocks evict x's last two blocks (its tail), not y's, not x's head.
    const int d = pool.open({50, 51, 52});
    grow(pool, d, {50, 51, 52}, 3);
    pool.close(d);
    const int ex = pool.open(x), ey = pool.open(y);
    EXPECT_EQ(pool.length(ex), 2);  // x's first block survived
    EXPECT_EQ(pool.length(ey), 5);  // all of y (the last token runs again)
    pool.close(ex);
    pool.close(ey);
    pool.check();
}

// 1,000 random operations (open with or without a cached prefix, fork, grow in chunks, close),
// with the invariants checked after each; at the end every block is back.
TEST(KvPool, EveryBlockComesBackAfterRandomUse) {
    Copies c;
    KvPool pool(48, 4, c.fn());
    std::mt19937 rng(7);
    struct Live {
        int id;
        std::vector<int32_t> tokens;
    };
    std::vector<Live> live;
    std::vector<std::vector<int32_t>> prompts;  // reused, so the prefix cache gets hits
    int refused = 0, adopted = 0;
    for (int op = 0; op < 1000; ++op) {
        const int kind = int(rng() % 12);
        if (kind < 3 || live.empty()) {
            std::vector<int32_t> p;
            if (!prompts.empty() && rng() % 2) {
                p = prompts[rng() % prompts.size()];
                p.resize(std::min(p.size(), size_t(1 + rng() % 24)));
            } else {
                p = seq_tokens(int(1 + rng() % 24), int32_t(rng() % 60));
            }
            prompts.push_back(p);
            const int id = pool.open(p);
            adopted += pool.length(id) > 0;
            live.push_back({id, p});
        } else if (kind < 4) {
            const Live& l = live[rng() % live.size()];
            std::vector<int32_t> t(l.tokens.begin(), l.tokens.begin() + pool.length(l.id));
            live.push_back({pool.fork(l.id), t});
        } else if (kind < 8) {
            Live& l = live[rng() % live.size()];
            const int n = int(1 + rng() % 9), len = pool.length(l.id);
            while (int(l.tokens.size()) < len + n) l.tokens.push_back(int32_t(rng() % 60));
            if (pool.reserve(l.id, n)) pool.commit(l.id, l.tokens.data() + len, n);
            else ++refused;
        } else if (kind < 10) {  // a speculative pass: n written, fewer kept, the rest rolled back
            Live& l = live[rng() % live.size()];
            const int n = int(1 + rng() % 12), len = pool.length(l.id);
            l.tokens.resize(size_t(len));
            for (int i = 0; i < n; ++i) l.tokens.push_back(int32_t(rng() % 60));
            if (pool.reserve(l.id, n)) {
                const int kept = int(rng() % size_t(n + 1));
                pool.commit(l.id, l.tokens.data() + len, kept);
                pool.truncate(l.id, rng() % 4 ? len + kept : int(rng() % size_t(len + kept + 1)));
                l.tokens.resize(size_t(pool.length(l.id)));
            } else {
                ++refused;
            }
        } else {
            const size_t i = rng() % live.size();
            pool.close(live[i].id);
            live.erase(live.begin() + long(i));
        }
        ASSERT_NO_THROW(pool.check()) << "after operation " << op;
    }
    for (const Live& l : live) pool.close(l.id);
    pool.check();
    EXPECT_EQ(pool.sequences(), 0);
    EXPECT_EQ(pool.blocks_in_use(), 0);
    EXPECT_EQ(pool.free_blocks() + pool.idle_cached_blocks(), pool.total_blocks());
    pool.clear_cache();
    EXPECT_EQ(pool.free_blocks(), pool.total_blocks());
    EXPECT_EQ(pool.cached_blocks(), 0);
    // The run exercised the paths it claims to.
    EXPECT_GT(refused, 0);
    EXPECT_GT(adopted, 0);
    EXPECT_GT(c.done.size(), 0u);
}

}  // namespace
}  // namespace ld::test
