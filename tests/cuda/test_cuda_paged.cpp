// The CUDA backend's paged, many-sequence forward step (Backend::forward(SeqBatch)) against the
// CPU backend's one-sequence logits: sequences of different lengths joining and leaving, prompt
// chunks mixed with single decode tokens in one batch, batches split across steps, block tables
// drawn in shuffled order from a cache larger than one context, and a fork whose partly filled
// block is copied (copy_kv_block) before both sequences append to it; two of them with the decode
// rows' attention forced into split-K chunks (Tuning::cuda_paged_chunk). Skips without a device;
// tests/cuda/emu runs it on the CPU emulator, where device memory starts as NaN, so a read of a
// cache slot nobody wrote shows up as NaN logits.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "cuda_test_util.h"
#include "inference/model/synthetic.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";
const char* kTiny31 = "models/tiny-llama31-random-f16.gguf";

// Both models are f32/f16, so the CPU and CUDA passes differ by float rounding, and by where a
// key or value rounds to the other f16 neighbour in the cache: that flips a few positions' logits
// by up to 8.1e-3 (logits of about 13; stories260K at position 108 of the fork test, the same
// on the one-sequence CUDA path, emulated, 2026-12-06). Most rows are within 1e-4. A row that
// reads another sequence's or an unwritten block misses by tenths (ForkCopiesThePartlyFilledBlock
// checks that its two branches are that far apart).
constexpr double kAtol = 1e-2, kRtol = 1e-3;

// Off when |got - want| > atol + rtol |want| + of_row_max * max |want row|: quantized models
// differ from the CPU more (their activations are quantized differently), in proportion to the
// row's scale.
struct Tolerance {
    double atol = kAtol, rtol = kRtol, of_row_max = 0;
};

// paged_chunk: Tuning::cuda_paged_chunk, 64 to split every decode row's attention past one block
// (the backend's own choice splits only long contexts, which the emulated run cannot afford).
std::unique_ptr<Backend> paged_cuda(const Model& m, int n_ctx, int n_batch, int kv_positions, int paged_chunk = 0) {
    BackendOptions o;
    o.tuning = Tuning::from_env();
    if (paged_chunk != 0) o.tuning.cuda_paged_chunk = paged_chunk;
    o.kind = "cuda";
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    o.kv_positions = kv_positions;
    return create_backend(m, o);
}

// One sequence of a test: its tokens, its block table and how far it has run.
struct Seq {
    std::vector<int32_t> tokens;
    std::vector<int32_t> blocks;
    int done = 0;           // tokens already in the cache
    std::vector<float> ref; // the CPU backend's logits of every position (one-sequence run)
};

// Hands out the cache's blocks in a shuffled order, so no table is the identity.
class BlockPool {
public:
    BlockPool(int n, uint32_t seed) : free_(size_t(n)) {
        std::iota(free_.begin(), free_.end(), 0);
        std::shuffle(free_.begin(), free_.end(), std::mt19937(seed));
    }
    int32_t take() {
        if (free_.empty()) throw std::runtime_error("test block pool ran dry");
        const int32_t b = free_.back();
        free_.pop_back();
        return b;
    }
    void give_back(const std::vector<int32_t>& blocks) { free_.insert(free_.end(), blocks.begin(), blocks.end()); }

private:
    std::vector<int32_t> free_;
};

// One forward(SeqBatch) over chunks[i] = {sequence, number of its next tokens}, the rows
// interleaved round-robin across the chunks (each sequence's rows stay in order), logits wanted
// for the rows want() picks; every wanted row is compared with the sequence's CPU row.
template <typename Want>
void run_step(Backend& gpu, std::vector<Seq*> seqs, const std::vector<std::pair<int, int>>& chunks, Want want,
              const std::string& what, const Tolerance& tol = {}) {
    const int nv = gpu.vocab_size();
    std::vector<int32_t> tokens, positions, seq;
    std::vector<uint8_t> want_logits;
    std::vector<SeqView> views;
    for (Seq* s : seqs) views.push_back(SeqView{s->blocks.data(), int(s->blocks.size())});
    std::vector<int> next(chunks.size(), 0);
    for (bool any = true; any;) {
        any = false;
        for (size_t c = 0; c < chunks.size(); ++c) {
            const auto [si, len] = chunks[c];
            if (next[c] >= len) continue;
            any = true;
            Seq& s = *seqs[size_t(si)];
            const int p = s.done + next[c]++;
            tokens.push_back(s.tokens[size_t(p)]);
            positions.push_back(p);
            seq.push_back(si);
            want_logits.push_back(want(int(tokens.size()) - 1, si, p) ? 1 : 0);
        }
    }
    const int n = int(tokens.size());
    const int n_want = int(std::count(want_logits.begin(), want_logits.end(), 1));
    std::vector<float> logits(size_t(n_want) * size_t(nv), 0.0f);
    SeqBatch b;
    b.n = n;
    b.tokens = tokens.data();
    b.positions = positions.data();
    b.seq = seq.data();
    b.seqs = views.data();
    b.n_seqs = int(views.size());
    b.want_logits = want_logits.data();
    b.logits = logits.data();
    gpu.forward(b);
    int row = 0;
    for (int i = 0; i < n; ++i) {
        if (!want_logits[size_t(i)]) continue;
        const Seq& s = *seqs[size_t(seq[size_t(i)])];
        const int p = positions[size_t(i)];
        ASSERT_LE(size_t(p + 1) * nv, s.ref.size());
        const std::vector<float> got(logits.begin() + long(row) * nv, logits.begin() + long(row + 1) * nv);
        const std::vector<float> ref(s.ref.begin() + long(p) * nv, s.ref.begin() + long(p + 1) * nv);
        double row_max = 0;
        for (float x : ref) row_max = std::max(row_max, double(std::abs(x)));
        expect_close(got, ref, tol.atol + tol.of_row_max * row_max, tol.rtol,
                     what + ": sequence " + std::to_string(seq[size_t(i)]) + " position " + std::to_string(p) +
                         " (batch row " + std::to_string(i) + ")");
        if (::testing::Test::HasFailure()) return;  // the first failing row says enough
        ++row;
    }
    for (const auto& [si, len] : chunks) seqs[size_t(si)]->done += len;
}

std::vector<int32_t> tokens_for(int n, int salt, int n_vocab) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) t.push_back(int32_t((i * 131 + salt * 71 + 7) % (n_vocab - 1) + 1));
    return t;
}

void fill_reference(Backend& cpu, Seq& s) { s.ref = logits_of(cpu, s.tokens, true); }

// Gives s blocks from the pool until its table holds `positions` positions.
void grow(Seq& s, BlockPool& pool, int positions, int block) {
    while (int(s.blocks.size()) * block < positions) s.blocks.push_back(pool.take());
}

// Five sequences joining and leaving over eight steps of one backend whose steps are 48 tokens
// (the larger batches are split, some sequences across two steps).
void mixed_batches(const Model& model, int max_tokens, const Tolerance& tol = {}, int paged_chunk = 0) {
    const Model* m = &model;
    BackendOptions co;
    co.tuning = Tuning::from_env();
    co.n_ctx = 512;
    co.n_threads = 2;
    std::unique_ptr<Backend> cpu = create_cpu_backend(*m, co);
    std::unique_ptr<Backend> gpu = paged_cuda(*m, 512, 48, 2048, paged_chunk);
    ASSERT_TRUE(gpu->supports_sequences());
    const int block = gpu->kv_block_size();
    ASSERT_GT(block, 0);
    EXPECT_EQ(gpu->kv_blocks(), (2048 + block - 1) / block) << "kv_positions 2048";
    const int nv = gpu->vocab_size();
    const int lens[] = {std::min(max_tokens, 150), 37, std::min(max_tokens, 90), 5, std::min(max_tokens, 70)};
    std::vector<Seq> store(5);
    std::vector<Seq*> seqs;
    for (int i = 0; i < 5; ++i) {
        store[size_t(i)].tokens = tokens_for(lens[i], i, nv);
        fill_reference(*cpu, store[size_t(i)]);
        seqs.push_back(&store[size_t(i)]);
    }
    BlockPool pool(gpu->kv_blocks(), 17);
    auto left = [&](int i) { return int(store[size_t(i)].tokens.size()) - store[size_t(i)].done; };
    auto all = [](int, int, int) { return true; };
    // Step 1: two prompts (one a first chunk), all logits.
    std::vector<std::vector<std::pair<int, int>>> plan = {
        {{0, 60}, {1, 37}},
        // A long chunk, a decode token of a finished prompt's sequence, a new prompt.
        {{0, 40}, {2, 50}},
        {{2, 1}, {3, 5}, {0, 1}},
        {{4, 30}, {2, 1}, {3, -1}},  // -1: the rest
    };
    int step = 0;
    for (auto& chunks : plan) {
        std::vector<std::pair<int, int>> c;
        for (auto [si, len] : chunks) {
            if (len < 0 || len > left(si)) len = left(si);
            if (len <= 0) continue;
            grow(store[size_t(si)], pool, store[size_t(si)].done + len, block);
            c.push_back({si, len});
        }
        run_step(*gpu, seqs, c, all, "step " + std::to_string(++step), tol);
        if (::testing::Test::HasFailure()) return;
    }
    // Sequence 3 has ended: its blocks go back and are reused by the others (their old
    // contents must not matter).
    pool.give_back(store[3].blocks);
    store[3].blocks.clear();
    // Then every sequence left decodes a token a step (only the last row's logits of a chunk
    // wanted, as in generation) until all are done; the unfinished ones take the rest as chunks
    // of up to 20.
    for (int round = 0; round < 200; ++round) {
        std::vector<std::pair<int, int>> c;
        for (int si : {4, 0, 2, 1}) {
            const int len = std::min(left(si), round % 3 == 0 ? 20 : 1);
            if (len <= 0) continue;
            grow(store[size_t(si)], pool, store[size_t(si)].done + len, block);
            c.push_back({si, len});
        }
        if (c.empty()) break;
        std::vector<int> last_pos(5, -1);
        for (auto [si, len] : c) last_pos[size_t(si)] = store[size_t(si)].done + len - 1;
        run_step(*gpu, seqs, c, [&](int, int si, int p) { return p == last_pos[size_t(si)]; },
                 "decode round " + std::to_string(round), tol);
        if (::testing::Test::HasFailure()) return;
    }
    for (int i = 0; i < 5; ++i) EXPECT_EQ(left(i), 0) << "sequence " << i << " did not finish";
}

TEST(CudaPaged, MixedBatchesMatchCpuStories260K) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kStories);
    mixed_batches(*load_model(shared_path(kStories)), 150);
}

// GQA groups of 2, heads of 64 (the 16-byte K loads), Llama 3.1 RoPE frequencies and a
// 128,256-token vocabulary; shorter sequences. Not in the emulated run (tests/cuda/CMakeLists.txt:
// its big output GEMM costs a minute there, and the other models cover the paged kernels' cases).
TEST(CudaPaged, MixedBatchesMatchCpuTinyLlama31) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kTiny31);
    mixed_batches(*load_model(shared_path(kTiny31)), 80);
}

// Heads of 10 (K rows read in 4-byte pairs), groups of 3 query heads per KV head, q_dim (60)
// narrower than dim (64): a synthetic f16 model. Decode rows' attention split into one-block
// chunks (split-K with rows of different lengths, merged by the combine).
TEST(CudaPaged, MixedBatchesMatchCpuOddHeads) {
    LD_REQUIRE_CUDA_DEVICE();
    SyntheticSpec spec;
    spec.name = "cuda-paged-test";
    spec.mix = "f16";
    LlamaParams& p = spec.params;
    p.n_vocab = 300;
    p.dim = 64;
    p.n_layers = 2;
    p.n_heads = 6;
    p.n_kv_heads = 2;
    p.head_dim = 10;
    p.ffn_dim = 128;
    p.ctx_train = 512;
    p.rope_dim = 10;
    p.rope_theta = 10000.0f;
    mixed_batches(*make_synthetic_model(spec, 3), 150, {}, 64);
}

// Int8 activations in every step up to Tuning::cuda_small_batch rows (the small-batch kernel;
// one row: the decode matvec) and f16 ones through cuBLAS in wider steps, on Q4_K/Q6_K weights: a synthetic q4_k_m model. The CPU quantizes
// activations to Q8, so the bound is the one-sequence test's (CudaSynthetic: 2e-2 of the largest
// logit for the narrow mixes; q4_k_m measured a few tenths of a percent).
TEST(CudaPaged, MixedBatchesMatchCpuQ4KM) {
    LD_REQUIRE_CUDA_DEVICE();
    SyntheticSpec spec;
    spec.name = "cuda-paged-test";
    spec.mix = "q4_k_m";
    LlamaParams& p = spec.params;
    p.n_vocab = 1000;
    p.dim = 256;
    p.n_layers = 2;
    p.n_heads = 8;
    p.n_kv_heads = 2;
    p.head_dim = 32;
    p.ffn_dim = 512;
    p.ctx_train = 512;
    p.rope_dim = 32;
    p.rope_theta = 500000.0f;
    Tolerance tol;
    tol.atol = 0;
    tol.rtol = 0;
    tol.of_row_max = 2e-2;
    mixed_batches(*make_synthetic_model(spec, 3), 150, tol);
}

// The two fork tests' start on stories260K: sequences 0 and 1 share their first
// prefix_len(block) tokens (salts[0]) and then take n_tail tokens of their own (salts[1], [2]),
// with their CPU references; a paged GPU backend of kv_positions; sequence 0's prefix run on it
// (every row's logits compared when check_prefix).
struct Fork {
    std::unique_ptr<Model> model;
    std::unique_ptr<Backend> cpu, gpu;
    std::vector<Seq> s = std::vector<Seq>(2);
    std::unique_ptr<BlockPool> pool;
    int block = 0, nv = 0, shared_len = 0;
};
template <typename PrefixLen>
void start_fork(Fork& f, int kv_positions, int paged_chunk, PrefixLen prefix_len, int n_tail, const int (&salts)[3],
                uint32_t pool_seed, bool check_prefix) {
    f.model = load_model(shared_path(kStories));
    BackendOptions co;
    co.tuning = Tuning::from_env();
    co.n_ctx = 512;
    co.n_threads = 2;
    f.cpu = create_cpu_backend(*f.model, co);
    f.gpu = paged_cuda(*f.model, 512, 256, kv_positions, paged_chunk);
    f.block = f.gpu->kv_block_size();
    f.nv = f.gpu->vocab_size();
    ASSERT_GE(f.block, 8);
    f.shared_len = prefix_len(f.block);
    const std::vector<int32_t> prefix = tokens_for(f.shared_len, salts[0], f.nv);
    for (int i = 0; i < 2; ++i) {
        f.s[size_t(i)].tokens = prefix;
        for (int32_t t : tokens_for(n_tail, salts[i + 1], f.nv)) f.s[size_t(i)].tokens.push_back(t);
        fill_reference(*f.cpu, f.s[size_t(i)]);
    }
    f.pool = std::make_unique<BlockPool>(f.gpu->kv_blocks(), pool_seed);
    grow(f.s[0], *f.pool, f.shared_len, f.block);
    std::vector<Seq*> a_only = {&f.s[0]};
    run_step(*f.gpu, a_only, {{0, f.shared_len}}, [check_prefix](int, int, int) { return check_prefix; },
             check_prefix ? "prefix" : "prefix (no logits)");
}

// A fork: sequence B copies A's first 100 positions by sharing A's full first block and a copy
// of the partly filled second one (copy_kv_block), then A and B append different tokens in the
// same batches. Both must match their own CPU runs, and A's shared block must be unharmed. The
// decode rows' attention is split into one-block chunks (the two branches' rows beside each
// other, reading the shared block from both).
TEST(CudaPaged, ForkCopiesThePartlyFilledBlock) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kStories);
    Fork f;
    // A full block and part of the next.
    start_fork(f, 1024, 64, [](int block) { return block + block / 2 + 4; }, 30, {9, 1, 2}, 5, true);
    if (HasFailure()) return;
    std::vector<Seq>& s = f.s;
    const int block = f.block, nv = f.nv, shared_len = f.shared_len;
    // The fork: the full block shared, the partly filled one copied.
    s[1].blocks = {s[0].blocks[0], f.pool->take()};
    f.gpu->copy_kv_block(s[0].blocks[1], s[1].blocks[1]);
    s[1].done = shared_len;
    // The tolerance tells the branches apart: their references differ by far more a few
    // positions after the fork (so a row attending over the other branch's block would fail).
    double apart = 0;
    for (size_t i = size_t(shared_len + 4) * nv; i < size_t(shared_len + 5) * nv; ++i)
        apart = std::max(apart, double(std::abs(s[0].ref[i] - s[1].ref[i])));
    EXPECT_GT(apart, 20 * kAtol) << "the two branches' logits are too close to tell apart";
    std::vector<Seq*> both = {&s[0], &s[1]};
    for (int r = 0; r < 6; ++r) {
        const int len = r == 0 ? 12 : 1 + r % 5;  // a chunk past the copied block's end, then a few
        std::vector<std::pair<int, int>> c;
        for (int si : {1, 0}) {
            const int l = std::min(len, int(s[size_t(si)].tokens.size()) - s[size_t(si)].done);
            if (l <= 0) continue;
            grow(s[size_t(si)], *f.pool, s[size_t(si)].done + l, block);
            c.push_back({si, l});
        }
        if (c.empty()) break;
        run_step(*f.gpu, both, c, [](int, int, int) { return true; }, "after the fork, round " + std::to_string(r));
        if (HasFailure()) return;
    }
}

// A fork exactly at a block boundary shares every block (nothing to copy) and reads them from
// both sequences in one batch; copying a block onto itself is a no-op; bad ids are errors.
TEST(CudaPaged, ForkAtABlockBoundarySharesAndBadCopiesAreErrors) {
    LD_REQUIRE_CUDA_DEVICE();
    LD_REQUIRE_SHARED(kStories);
    Fork f;
    start_fork(f, 0, 0, [](int block) { return block; }, 9, {3, 4, 5}, 11, false);
    if (HasFailure()) return;
    std::vector<Seq>& s = f.s;
    Backend* gpu = f.gpu.get();
    const int block = f.block;
    EXPECT_EQ(gpu->kv_blocks(), (512 + block - 1) / block) << "kv_positions 0: one context";
    EXPECT_THROW(gpu->copy_kv_block(-1, 0), Error);
    EXPECT_THROW(gpu->copy_kv_block(0, gpu->kv_blocks()), Error);
    gpu->copy_kv_block(s[0].blocks[0], s[0].blocks[0]);
    s[1].blocks = {s[0].blocks[0]};
    s[1].done = block;
    std::vector<Seq*> both = {&s[0], &s[1]};
    for (int si : {0, 1}) grow(s[size_t(si)], *f.pool, block + 9, block);
    ASSERT_NE(s[0].blocks[1], s[1].blocks[1]);
    run_step(*gpu, both, {{0, 9}, {1, 9}}, [](int, int, int) { return true; }, "both after the boundary");
    // Writing a shared block from two sequences at once is refused before anything runs.
    std::vector<Seq> t(2);
    t[0].blocks = t[1].blocks = {s[0].blocks[0]};
    const int32_t tok[2] = {1, 2}, pos[2] = {3, 3}, sq[2] = {0, 1};
    const SeqView views[2] = {{t[0].blocks.data(), 1}, {t[1].blocks.data(), 1}};
    SeqBatch bad;
    bad.n = 2;
    bad.tokens = tok;
    bad.positions = pos;
    bad.seq = sq;
    bad.seqs = views;
    bad.n_seqs = 2;
    EXPECT_THROW(gpu->forward(bad), Error);
}

}  // namespace
}  // namespace ld::test
