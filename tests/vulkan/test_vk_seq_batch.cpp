// Many sequences in one forward step on the Vulkan backend (Backend::forward(const SeqBatch&) over
// the paged KV cache), on whatever device the loader offers (lavapipe in CI): each sequence's
// logits in a mixed batch equal the CPU backend's logits for that sequence run alone, at every
// position, with 1-8 sequences of different lengths joining and leaving, prompts split across
// steps, rows of different sequences interleaved, shuffled block tables, one-token steps (the
// decode kernels through a block table) and forks that copy their shared block on the GPU;
// greedy text is the same as the CPU's for each sequence.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/model/synthetic.h"
#include "model_fixture.h"
#include "vk_test_util.h"

namespace ld::test {
namespace {

const char* kStories = "models/stories260K.gguf";

// |Vulkan - CPU| <= kAtol * max|CPU row| + kRtol * |CPU| per logit. The GPU sums in other orders
// than the CPU, and an f32 rounding difference in k or v can flip a value's f16 rounding in the
// cache (test_vk_model.cpp). On random token sequences the one-sequence Vulkan forward itself
// was measured up to 1.06e-3 of the row's largest logit off the CPU (stories260K, lavapipe, one
// of 200 tokens; the paged rows were equal to it there), so the bound is twice that.
constexpr double kAtol = 2e-3, kRtol = 1e-3;
// Against the one-sequence Vulkan forward (the unpaged kernels, all logits in steps of 64): the
// same kernels but for one-token steps (the decode ones, whose keys and values later rows read
// too) and one-row logits (the matvec), measured up to 4.3e-5 of the row's largest logit on
// lavapipe (1e-6 where no decode step wrote the cache). Sharp enough to see one wrong cache row
// in a long sequence, which the CPU bound could hide.
constexpr double kAtolGpu = 2e-4;

struct Engine {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<Backend> cpu, gpu, solo;
};

// `gpu` takes SeqBatch steps over a paged cache of kv_positions; `solo` runs one sequence at a
// time (the contiguous path) on the same device.
Engine open_engine(std::unique_ptr<Model> model, int kv_positions, int n_batch) {
    Engine e;
    e.model = std::move(model);
    BackendOptions o;
    o.tuning = Tuning::from_env();  // the variables CTest sets for this run
    o.n_threads = 2;
    o.n_ctx = 512;
    o.n_batch = 256;
    e.cpu = create_cpu_backend(*e.model, o);
    o.kind = "vulkan";
    o.n_batch = n_batch;
    o.kv_positions = kv_positions;
    e.gpu = create_backend(*e.model, o);
    o.kv_positions = 0;
    e.solo = create_backend(*e.model, o);
    return e;
}

Engine open_engine(const std::string& rel, int kv_positions, int n_batch) {
    Engine e = open_engine(load_model(shared_path(rel)), kv_positions, n_batch);
    e.tok = Tokenizer::create(e.model->vocab);
    return e;
}

// Every position's logits of `tokens` run alone (the one-sequence forward), vocab floats a row.
std::vector<float> alone(Backend& b, const std::vector<int32_t>& tokens) {
    std::vector<float> out(tokens.size() * size_t(b.vocab_size()));
    b.forward(tokens.data(), int(tokens.size()), 0, out.data(), true);
    return out;
}

// Hands out cache blocks in a shuffled order, so tables are neither rising nor contiguous and a
// freed block is reused by another sequence.
class BlockPool {
public:
    BlockPool(int n, std::mt19937& rng) : free_(size_t(n)) {
        std::iota(free_.begin(), free_.end(), 0);
        std::shuffle(free_.begin(), free_.end(), rng);
    }
    int32_t take() {
        if (free_.empty()) ADD_FAILURE() << "the test's block pool ran out";
        const int32_t b = free_.empty() ? 0 : free_.back();
        if (!free_.empty()) free_.pop_back();
        return b;
    }
    void give(std::vector<int32_t>& table) {
        free_.insert(free_.begin(), table.begin(), table.end());
        table.clear();
    }

private:
    std::vector<int32_t> free_;
};

// A sequence on the GPU: its tokens (all known up front, or grown by greedy decoding), its block
// table and how many positions are in the cache.
struct Seq {
    std::vector<int32_t> tokens;
    std::vector<int32_t> blocks;
    int fed = 0;
};

// What one step feeds: `count` tokens of sequence `seq` from its next position.
struct Chunk {
    int seq, count;
};

// Runs the chunks as one SeqBatch (each sequence's rows in order; with `interleave` the rows of
// different sequences are mixed, else chunk after chunk), growing block tables from `pool`, and
// returns the logits of the rows that want them, keyed by (sequence, position): each chunk's
// last row, and any other with probability 1 / every.
std::map<std::pair<int, int>, std::vector<float>> run_step(Backend& gpu, std::vector<Seq>& seqs,
                                                           const std::vector<Chunk>& chunks, BlockPool& pool,
                                                           std::mt19937& rng, bool interleave, int every = 1) {
    const int block = gpu.kv_block_size(), V = gpu.vocab_size();
    std::vector<int> order;  // sequence of each row, in batch order
    for (const Chunk& c : chunks) order.insert(order.end(), size_t(c.count), c.seq);
    if (interleave) std::shuffle(order.begin(), order.end(), rng);
    std::vector<int32_t> tokens, positions, seq_of;
    std::map<int, int> next;  // per sequence: the next position to feed
    for (const Chunk& c : chunks) next[c.seq] = seqs[size_t(c.seq)].fed;
    for (int s : order) {
        Seq& q = seqs[size_t(s)];
        const int p = next[s]++;
        while (int(q.blocks.size()) * block <= p) q.blocks.push_back(pool.take());
        tokens.push_back(q.tokens[size_t(p)]);
        positions.push_back(p);
        seq_of.push_back(s);
    }
    std::vector<SeqView> views;
    for (const Seq& q : seqs) views.push_back({q.blocks.data(), int(q.blocks.size())});
    std::vector<uint8_t> want(tokens.size());
    size_t n_want = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
        want[i] = positions[i] == next[seq_of[i]] - 1 || rng() % uint32_t(every) == 0;
        n_want += want[i];
    }
    std::vector<float> logits(n_want * size_t(V), std::nanf(""));
    SeqBatch b;
    b.n = int(tokens.size());
    b.tokens = tokens.data();
    b.positions = positions.data();
    b.seq = seq_of.data();
    b.seqs = views.data();
    b.n_seqs = int(views.size());
    b.want_logits = want.data();
    b.logits = logits.data();
    gpu.forward(b);
    for (const Chunk& c : chunks) seqs[size_t(c.seq)].fed += c.count;
    std::map<std::pair<int, int>, std::vector<float>> out;
    size_t k = 0;  // the wanted rows' logits, in batch order
    for (size_t i = 0; i < tokens.size(); ++i)
        if (want[i]) {
            out[{seq_of[i], positions[i]}] =
                std::vector<float>(logits.begin() + long(k * size_t(V)), logits.begin() + long((k + 1) * size_t(V)));
            ++k;
        }
    return out;
}

// The logits row of position p of a sequence whose rows `all` holds.
std::vector<float> row_of(const std::vector<float>& all, int p, int V) {
    return std::vector<float>(all.begin() + long(size_t(p) * size_t(V)), all.begin() + long(size_t(p + 1) * size_t(V)));
}

// `got` against the CPU's row and the one-sequence Vulkan row of the same position (kAtol, kRtol,
// kAtolGpu), no NaN; prints the first mismatches. Returns the error against the CPU (max |got -
// want| / max |want|) in .first, against the GPU in .second.
std::pair<double, double> expect_row(const std::vector<float>& got, const std::vector<float>& cpu,
                                     const std::vector<float>& solo, int p, int V, const std::string& what) {
    const std::vector<float> w = row_of(cpu, p, V), g = row_of(solo, p, V);
    double mx = 0, mg = 0;
    for (float x : w) mx = std::max(mx, double(std::abs(x)));
    for (float x : g) mg = std::max(mg, double(std::abs(x)));
    expect_close(got, w, kAtol * mx, kRtol, what + " vs the CPU alone");
    expect_close(got, g, kAtolGpu * mg, 0, what + " vs Vulkan alone");
    return {rel_error(got, w), rel_error(got, g)};
}

// 1-8 sequences of different lengths over several steps: a sequence joins at a later step, its
// prompt goes in chunks of random size, it leaves (its blocks back in the pool, then reused)
// when all its tokens are in; rows of different sequences are interleaved in every other step,
// and some steps are one token of one sequence (the decode kernels through a block table).
// Logits are wanted for one row in `every` (and each chunk's last), so the output's gather skips rows.
void mixed_batches_match_cpu(Engine& e, const char* rel, int n_seqs, int max_len, int max_chunk, int every,
                             uint32_t seed) {
    std::mt19937 rng(seed);
    const int V = e.gpu->vocab_size();
    std::vector<Seq> seqs(static_cast<size_t>(n_seqs));
    std::vector<std::vector<float>> want(static_cast<size_t>(n_seqs)), solo(static_cast<size_t>(n_seqs));
    std::vector<int> start(static_cast<size_t>(n_seqs));
    for (int s = 0; s < n_seqs; ++s) {
        const int len = s == 0 ? max_len : 1 + int(rng() % uint32_t(max_len));
        for (int i = 0; i < len; ++i) seqs[size_t(s)].tokens.push_back(int32_t(1 + rng() % uint32_t(V - 1)));
        want[size_t(s)] = alone(*e.cpu, seqs[size_t(s)].tokens);
        solo[size_t(s)] = alone(*e.solo, seqs[size_t(s)].tokens);
        start[size_t(s)] = s == 0 ? 0 : int(rng() % 4u);
    }
    BlockPool pool(e.gpu->kv_blocks(), rng);
    double worst = 0, worst_gpu = 0;
    int rows = 0, steps = 0;
    for (int step = 0;; ++step) {
        std::vector<Chunk> chunks;
        for (int s = 0; s < n_seqs; ++s) {
            Seq& q = seqs[size_t(s)];
            const int left = int(q.tokens.size()) - q.fed;
            if (step < start[size_t(s)] || left == 0) continue;
            chunks.push_back({s, std::min(left, 1 + int(rng() % uint32_t(max_chunk)))});
        }
        if (chunks.empty()) break;
        if (step % 5 == 4) chunks = {{chunks[0].seq, 1}};  // one token of one sequence alone
        const auto got = run_step(*e.gpu, seqs, chunks, pool, rng, step % 2 == 1, every);
        ++steps;
        for (const auto& [key, row] : got) {
            const auto [s, p] = key;
            const auto [err, err_gpu] = expect_row(row, want[size_t(s)], solo[size_t(s)], p, V,
                                                   "step " + std::to_string(step) + " sequence " + std::to_string(s) +
                                                       " position " + std::to_string(p));
            worst = std::max(worst, err);
            worst_gpu = std::max(worst_gpu, err_gpu);
            ++rows;
            if (::testing::Test::HasFailure()) return;
        }
        for (Seq& q : seqs)
            if (!q.blocks.empty() && q.fed == int(q.tokens.size())) pool.give(q.blocks);  // leaves
    }
    std::printf("[vk-seq-batch] %s: %d sequences, %d logits rows in %d steps, max rel error %.2e vs the CPU, "
                "%.2e vs Vulkan alone\n", rel, n_seqs, rows, steps, worst, worst_gpu);
}

// Paged cache positions of the tests' engines: more than n_ctx (512), as sequences share it.
constexpr int kKvPositions = 2048;

// One stories260K engine for the tests of the suite (each Vulkan backend compiles its ~100
// pipelines, seconds on lavapipe); every test starts its sequences from position 0 and its own
// block pool, so nothing of an earlier test's cache is read.
class VkSeqBatch : public ::testing::Test {
protected:
    static void TearDownTestSuite() { stories_.reset(); }
    static Engine& stories() {
        if (!stories_) stories_ = std::make_unique<Engine>(open_engine(kStories, kKvPositions, 64));
        return *stories_;
    }

private:
    static std::unique_ptr<Engine> stories_;
};
std::unique_ptr<Engine> VkSeqBatch::stories_;

TEST_F(VkSeqBatch, Stories260KMixedBatchesMatchCpu) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    Engine& e = stories();
    ASSERT_TRUE(e.gpu->supports_sequences());
    EXPECT_EQ(e.gpu->kv_block_size(), 64);
    EXPECT_EQ(e.gpu->kv_blocks(), kKvPositions / 64);
    EXPECT_EQ(e.solo->kv_blocks(), 512 / 64) << "without kv_positions: n_ctx in blocks";
    // lengths up to 200: up to 4 blocks a sequence, chunks up to 40 (steps up to 8 x 40 rows, cut
    // at n_batch 64 by forward()); 1 sequence with every row's logits, 8 with one row's in 2
    for (int n : {1, 8}) {
        SCOPED_TRACE(std::to_string(n) + " sequences");
        mixed_batches_match_cpu(e, kStories, n, 200, 40, n == 1 ? 1 : 2, 11u + uint32_t(n));
        if (HasFailure()) return;
    }
}

// Other head shapes than stories260K's (head_dim 8, 2 query heads a KV head): head_dim 64 and 4
// query heads sharing one KV head (the 8B's group; attention tiles of 4 tokens, the decode split
// kernel's 4-head variant), F16 matrices, on a small synthetic model (tiny-llama31's shapes come
// with a 128k-token output matrix that lavapipe takes seconds a step for). Logits for one row in
// 3 (and each chunk's last).
TEST_F(VkSeqBatch, Gqa4HeadDim64MixedBatchesMatchCpu) {
    LD_REQUIRE_VULKAN(env);
    SyntheticSpec spec;
    spec.name = "vk-seq-batch";
    spec.mix = "f16";
    LlamaParams& p = spec.params;
    p.n_vocab = 800;
    p.dim = 256;
    p.n_layers = 2;
    p.n_heads = 4;
    p.n_kv_heads = 1;
    p.head_dim = 64;
    p.ffn_dim = 512;
    p.ctx_train = 512;
    p.rope_dim = 64;
    p.rope_theta = 500000.0f;
    Engine e = open_engine(make_synthetic_model(spec, 9), 1024, 64);
    mixed_batches_match_cpu(e, "synthetic f16 (4 heads of 64, 1 KV head)", 4, 140, 40, 3, 21u);
}

// A sequence forked at position `at` shares the parent's blocks; the block holding `at` (when
// `at` is inside one) is copied with copy_kv_block before either writes to it. Both then go on
// with their own tokens and match the CPU; the parent's blocks are not overwritten by the fork.
TEST_F(VkSeqBatch, ForkCopiesTheSharedBlock) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    Engine& e = stories();
    const int V = e.gpu->vocab_size(), block = e.gpu->kv_block_size();
    std::mt19937 rng(5);
    for (int at : {100, 128, 30}) {
        SCOPED_TRACE("fork at " + std::to_string(at));
        std::vector<int32_t> prefix;
        for (int i = 0; i < at; ++i) prefix.push_back(int32_t(1 + rng() % uint32_t(V - 1)));
        std::vector<Seq> seqs(2);
        seqs[0].tokens = prefix;
        BlockPool pool(e.gpu->kv_blocks(), rng);
        run_step(*e.gpu, seqs, {{0, at}}, pool, rng, false);
        // the fork: the same table; the partly filled last block is copied (copy on write)
        seqs[1] = seqs[0];
        if (at % block != 0) {
            const int32_t copy = pool.take();
            e.gpu->copy_kv_block(seqs[1].blocks.back(), copy);
            seqs[1].blocks.back() = copy;
        }
        for (Seq& q : seqs)
            for (int i = 0; i < 40; ++i) q.tokens.push_back(int32_t(1 + rng() % uint32_t(V - 1)));
        // both go on together: a chunk each, then single tokens, rows interleaved
        std::map<std::pair<int, int>, std::vector<float>> got = run_step(*e.gpu, seqs, {{0, 17}, {1, 9}}, pool, rng, true);
        for (int k = 0; k < 6; ++k) got.merge(run_step(*e.gpu, seqs, {{0, 1}, {1, 1}}, pool, rng, k % 2 == 0));
        for (int s = 0; s < 2; ++s) {
            const std::vector<int32_t> fed(seqs[size_t(s)].tokens.begin(), seqs[size_t(s)].tokens.begin() + seqs[size_t(s)].fed);
            const std::vector<float> want = alone(*e.cpu, fed), solo = alone(*e.solo, fed);
            for (const auto& [key, row] : got)
                if (key.first == s)
                    expect_row(row, want, solo, key.second, V,
                               "sequence " + std::to_string(s) + " position " + std::to_string(key.second));
        }
        if (HasFailure()) return;
    }
    EXPECT_THROW(e.gpu->copy_kv_block(0, e.gpu->kv_blocks()), Error);
    EXPECT_THROW(e.gpu->copy_kv_block(-1, 0), Error);
}

// Greedy decoding of 6 stories at once, joining at different steps and stopping at different
// lengths (one token per sequence a step after its prompt): each text is the CPU's alone.
TEST_F(VkSeqBatch, GreedyTextEqualsCpu) {
    LD_REQUIRE_VULKAN(env);
    LD_REQUIRE_SHARED(kStories);
    Engine& e = stories();
    const int V = e.gpu->vocab_size();
    const std::vector<std::string> prompts = {"Once upon a time", "Lily had a red ball", "The dog",
                                              "Tom and his friend went to the park", "One day", "The sun was"};
    const int n = int(prompts.size());
    std::vector<std::vector<int32_t>> want(static_cast<size_t>(n));
    std::vector<size_t> prompt_len(static_cast<size_t>(n));
    std::vector<int> n_new(static_cast<size_t>(n));
    std::vector<Seq> seqs(static_cast<size_t>(n));
    for (int s = 0; s < n; ++s) {
        seqs[size_t(s)].tokens = tokenize_prompt(*e.tok, prompts[size_t(s)]);
        prompt_len[size_t(s)] = seqs[size_t(s)].tokens.size();
        n_new[size_t(s)] = 30 + 12 * s;
        // alone on the CPU
        std::vector<int32_t> t = seqs[size_t(s)].tokens;
        std::vector<float> out(static_cast<size_t>(V));
        e.cpu->forward(t.data(), int(t.size()), 0, out.data(), false);
        for (int k = 0; k < n_new[size_t(s)]; ++k) {
            t.push_back(int32_t(std::max_element(out.begin(), out.end()) - out.begin()));
            e.cpu->forward(&t.back(), 1, int(t.size()) - 1, out.data(), false);
        }
        want[size_t(s)] = t;
    }
    std::mt19937 rng(3);
    BlockPool pool(e.gpu->kv_blocks(), rng);
    for (int step = 0;; ++step) {
        std::vector<Chunk> chunks;
        for (int s = 0; s < n; ++s) {
            Seq& q = seqs[size_t(s)];
            if (step < s / 2 || int(q.tokens.size() - prompt_len[size_t(s)]) >= n_new[size_t(s)]) continue;
            chunks.push_back({s, int(q.tokens.size()) - q.fed});  // the prompt, then the last token
        }
        if (chunks.empty()) break;
        const auto got = run_step(*e.gpu, seqs, chunks, pool, rng, step % 3 == 0);
        for (const Chunk& c : chunks) {  // the sequence's last row: its next token
            Seq& q = seqs[size_t(c.seq)];
            const std::vector<float>& row = got.at({c.seq, q.fed - 1});
            for (float x : row) ASSERT_TRUE(std::isfinite(x)) << "sequence " << c.seq;
            q.tokens.push_back(int32_t(std::max_element(row.begin(), row.end()) - row.begin()));
        }
    }
    for (int s = 0; s < n; ++s)
        EXPECT_EQ(e.tok->decode(seqs[size_t(s)].tokens), e.tok->decode(want[size_t(s)]))
            << "sequence " << s << " (" << prompts[size_t(s)] << ")";
}

}  // namespace
}  // namespace ld::test
