// Many sequences in one forward pass on the CPU backend (Backend::forward(const SeqBatch&) over
// the paged KV cache): every sequence's logits in a mixed batch equal its logits run alone
// through the one-sequence forward(), within kTol at every step, and its greedy tokens are the
// same, while sequences of different lengths join and leave, prompts are split across steps and
// block tables are shuffled; a forked sequence shares its prefix blocks; bad batches are refused
// before anything runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "inference/backend/backend.h"
#include "inference/core/error.h"
#include "inference/cpu/ops.h"
#include "inference/session/session.h"
#include "model_fixture.h"

namespace ld::test {
namespace {

constexpr double kTol = 1e-3;  // max |batched - alone| / max |alone| of a logits row

const char* kStories = "models/stories260K.gguf";
const char* kTiny31 = "models/tiny-llama31-random-f16.gguf";
const char* kK256[] = {"models/k256/tiny-llama-k256-f32.gguf",      "models/k256/tiny-llama-k256-Q4_0-pure.gguf",
                       "models/k256/tiny-llama-k256-Q4_1-pure.gguf", "models/k256/tiny-llama-k256-Q5_0-pure.gguf",
                       "models/k256/tiny-llama-k256-Q5_1-pure.gguf", "models/k256/tiny-llama-k256-Q8_0-pure.gguf",
                       "models/k256/tiny-llama-k256-Q4_K-pure.gguf", "models/k256/tiny-llama-k256-Q5_K-pure.gguf",
                       "models/k256/tiny-llama-k256-Q6_K-pure.gguf", "models/k256/tiny-llama-k256-Q4_K_M.gguf",
                       "models/k256/tiny-llama-k256-Q5_K_M.gguf"};

// One model, two backends: `alone` runs one sequence at a time (the reference), `batched` takes
// SeqBatch steps over a paged cache of kv_positions.
struct Engine {
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<Backend> alone, batched;
};

Engine open_engine(const std::string& rel, int kv_positions, int n_batch = 256, GgmlType kv = GgmlType::F16,
                   int n_ctx = 512) {
    Engine e;
    e.model = load_model(shared_path(rel));
    e.tok = Tokenizer::create(e.model->vocab);
    BackendOptions o;
    o.tuning = Tuning::from_env();  // CTest runs some tests with LLAMADESK_* variables set
    o.n_threads = 2;
    o.kv_type = kv;
    o.n_ctx = n_ctx;
    o.n_batch = n_batch;
    e.alone = create_cpu_backend(*e.model, o);
    o.kv_positions = kv_positions;
    e.batched = create_cpu_backend(*e.model, o);
    return e;
}

int32_t argmax(const float* row, int n) { return int32_t(std::max_element(row, row + n) - row); }

// rel_error, and infinite for a NaN or infinity in `got` (which rel_error's max would skip).
double row_error(const float* got, const std::vector<float>& want) {
    if (!std::all_of(got, got + want.size(), [](float v) { return std::isfinite(v); })) return INFINITY;
    return rel_error(std::vector<float>(got, got + want.size()), want);
}

std::vector<int32_t> random_tokens(std::mt19937& rng, int n, int vocab) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int32_t& t : v) t = int32_t(rng() % uint32_t(vocab));
    return v;
}

// A sequence run alone: the logits after its prompt and after each greedy token (n_decode + 1
// rows), and the greedy choice of each row.
struct Reference {
    std::vector<int32_t> prompt;
    std::vector<std::vector<float>> logits;
    std::vector<int32_t> greedy;
};

Reference run_alone(Backend& b, const std::vector<int32_t>& prompt, int n_decode) {
    const int V = b.vocab_size();
    Reference r;
    r.prompt = prompt;
    std::vector<float> out(static_cast<size_t>(V));
    b.forward(prompt.data(), int(prompt.size()), 0, out.data(), false);
    for (int k = 0;; ++k) {
        r.logits.push_back(out);
        r.greedy.push_back(argmax(out.data(), V));
        if (k == n_decode) break;
        b.forward(&r.greedy.back(), 1, int(prompt.size()) + k, out.data(), false);
    }
    return r;
}

// The caller's side of the paged cache for these tests: a free list in shuffled order, so block
// tables are far from the identity and returned blocks are reused by others.
class BlockPool {
public:
    BlockPool(int n, std::mt19937& rng) : rng_(rng), free_(size_t(n)) {
        std::iota(free_.begin(), free_.end(), 0);
        std::shuffle(free_.begin(), free_.end(), rng_);
    }
    bool take(std::vector<int32_t>& table) {
        if (free_.empty()) return false;
        table.push_back(free_.back());
        free_.pop_back();
        return true;
    }
    void give(std::vector<int32_t>& table) {
        for (int32_t b : table) free_.insert(free_.begin() + long(rng_() % (free_.size() + 1)), b);
        table.clear();
    }
    size_t available() const { return free_.size(); }

private:
    std::mt19937& rng_;
    std::vector<int32_t> free_;
};

// A sequence in the mixed run.
struct Live {
    const Reference* ref = nullptr;
    int n_decode = 0;
    int start_step = 0;
    std::vector<int32_t> tokens;  // the prompt, then the greedy tokens as they come
    std::vector<int32_t> blocks;
    std::vector<int32_t> chosen;  // argmax of each batched logits row
    int fed = 0;                  // positions in the cache
    int checked = 0;              // logits rows compared
    bool done() const { return checked == n_decode + 1; }
};

struct Scenario {
    int n_seqs = 4;
    int max_prompt = 150;
    int max_decode = 30;
    int max_step_tokens = 48;  // tokens one SeqBatch takes at most (beyond n_batch it is split)
    int max_join_step = 30;
    uint32_t seed = 1;
};

struct MixedResult {
    double worst = 0;  // largest logits error seen
    int most = 0;      // most sequences in one step
};

// Runs sequences that join at random steps and leave when done; each step a random token budget
// is shared out as prompt chunks and decode tokens, rows interleaved.
MixedResult run_mixed(Engine& e, const Scenario& sc, std::vector<Live>& seqs) {
    Backend& b = *e.batched;
    const int V = b.vocab_size(), bs = b.kv_block_size();
    std::mt19937 rng(sc.seed);
    BlockPool pool(b.kv_blocks(), rng);
    MixedResult res;
    std::vector<float> logits;
    for (int step = 0; std::any_of(seqs.begin(), seqs.end(), [](const Live& l) { return !l.done(); }); ++step) {
        EXPECT_LT(step, 100000) << "the mixed run does not finish";
        if (step >= 100000) break;
        std::vector<int> live;
        for (int i = 0; i < int(seqs.size()); ++i)
            if (seqs[size_t(i)].start_step <= step && !seqs[size_t(i)].done()) live.push_back(i);
        std::shuffle(live.begin(), live.end(), rng);
        int budget = 1 + int(rng() % uint32_t(sc.max_step_tokens));
        std::vector<std::vector<int>> rows_of;  // per live sequence in this step: its positions
        std::vector<int> in_step;               // sequences taking part (index into seqs)
        for (int i : live) {
            if (budget == 0) break;
            Live& l = seqs[size_t(i)];
            const int prompt = int(l.ref->prompt.size());
            int chunk = l.fed < prompt ? 1 + int(rng() % uint32_t(std::min(prompt - l.fed, budget))) : 1;
            while (int(l.blocks.size()) * bs < l.fed + chunk)
                if (!pool.take(l.blocks)) break;  // out of blocks: a shorter chunk or a wait
            chunk = std::min(chunk, int(l.blocks.size()) * bs - l.fed);
            if (chunk <= 0) continue;
            budget -= chunk;
            std::vector<int> pos(static_cast<size_t>(chunk));
            std::iota(pos.begin(), pos.end(), l.fed);
            rows_of.push_back(pos);
            in_step.push_back(i);
        }
        if (in_step.empty()) continue;
        res.most = std::max(res.most, int(in_step.size()));
        // Interleave the sequences' rows at random, each sequence's own in order.
        std::vector<int32_t> tokens, positions, seq;
        std::vector<uint8_t> want;
        std::vector<size_t> next(in_step.size(), 0);
        size_t left = 0;
        for (const auto& r : rows_of) left += r.size();
        while (left > 0) {
            size_t k = rng() % in_step.size();
            while (next[k] == rows_of[k].size()) k = (k + 1) % in_step.size();
            const Live& l = seqs[size_t(in_step[k])];
            const int p = rows_of[k][next[k]++];
            tokens.push_back(l.tokens[size_t(p)]);
            positions.push_back(p);
            seq.push_back(int32_t(k));
            want.push_back(p >= int(l.ref->prompt.size()) - 1);
            --left;
        }
        std::vector<SeqView> views;
        for (int i : in_step) views.push_back({seqs[size_t(i)].blocks.data(), int(seqs[size_t(i)].blocks.size())});
        const size_t n_want = size_t(std::count(want.begin(), want.end(), 1));
        logits.assign(n_want * size_t(V), NAN);
        SeqBatch batch;
        batch.n = int(tokens.size());
        batch.tokens = tokens.data();
        batch.positions = positions.data();
        batch.seq = seq.data();
        batch.seqs = views.data();
        batch.n_seqs = int(views.size());
        batch.want_logits = want.data();
        batch.logits = logits.data();
        b.forward(batch);
        size_t row = 0;
        for (size_t t = 0; t < tokens.size(); ++t) {
            if (!want[t]) continue;
            Live& l = seqs[size_t(in_step[size_t(seq[t])])];
            const float* got = logits.data() + row++ * size_t(V);
            const double err = row_error(got, l.ref->logits[size_t(l.checked)]);
            res.worst = std::max(res.worst, err);
            EXPECT_LT(err, kTol) << "sequence " << in_step[size_t(seq[t])] << ", logits row " << l.checked << " (position "
                                 << positions[t] << ")";
            l.chosen.push_back(argmax(got, V));
            // The reference's token goes on, so a near-tie flip shows once and does not cascade.
            if (l.checked < l.n_decode) l.tokens.push_back(l.ref->greedy[size_t(l.checked)]);
            ++l.checked;
        }
        for (size_t k = 0; k < in_step.size(); ++k) {
            Live& l = seqs[size_t(in_step[k])];
            l.fed += int(rows_of[k].size());
            if (l.done()) pool.give(l.blocks);
        }
    }
    EXPECT_EQ(pool.available(), size_t(b.kv_blocks())) << "blocks not returned";
    return res;
}

// Builds sc.n_seqs random sequences (the first may be given), runs them alone and mixed, and
// checks every logits row and every greedy token.
MixedResult check_mixed(Engine& e, const Scenario& sc, const std::vector<int32_t>& first_prompt = {}, int first_decode = 0,
                   std::vector<Live>* out = nullptr) {
    const int V = e.batched->vocab_size();
    std::mt19937 rng(sc.seed * 7919u + 17u);
    std::vector<Reference> refs;
    std::vector<Live> seqs(size_t(sc.n_seqs));
    refs.reserve(size_t(sc.n_seqs));
    for (int i = 0; i < sc.n_seqs; ++i) {
        const bool given = i == 0 && !first_prompt.empty();
        const int n_prompt = 1 + int(rng() % uint32_t(sc.max_prompt));
        const int n_decode = given ? first_decode : int(rng() % uint32_t(sc.max_decode + 1));
        refs.push_back(run_alone(*e.alone, given ? first_prompt : random_tokens(rng, n_prompt, V), n_decode));
        Live& l = seqs[size_t(i)];
        l.ref = &refs.back();
        l.n_decode = n_decode;
        l.start_step = i == 0 ? 0 : int(rng() % uint32_t(sc.max_join_step + 1));
        l.tokens = refs.back().prompt;
    }
    const MixedResult res = run_mixed(e, sc, seqs);
    for (size_t i = 0; i < seqs.size(); ++i)
        EXPECT_EQ(seqs[i].chosen, refs[i].greedy) << "sequence " << i << ": greedy tokens differ from its run alone";
    if (out) *out = seqs;
    return res;
}

// Attention over a sequence whose rows lie in several runs (a shuffled block table) is bitwise
// the contiguous call over the same rows, for both cache types and every kernel set.
TEST(SeqBatchOps, AttentionOverRunsEqualsContiguousRows) {
    const int hd = 64, stride = 3 * hd, n_kv = 150, block = 16;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    const int n_blocks = (n_kv + block - 1) / block;
    std::vector<int> order(size_t(n_blocks) + 3);  // spare blocks: the table skips some
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    const size_t rows = order.size() * block;
    std::vector<float> q(hd), k(rows * stride), v(rows * stride), kc(size_t(n_kv) * stride), vc(size_t(n_kv) * stride);
    for (float& x : q) x = nd(rng);
    for (size_t i = 0; i < k.size(); ++i) k[i] = nd(rng), v[i] = nd(rng);
    std::vector<cpu::KvRun> runs;
    for (int b = 0; b < n_blocks; ++b) {
        runs.push_back({int64_t(order[size_t(b)]) * block, block});
        for (int j = 0; j < block && b * block + j < n_kv; ++j)
            for (int c = 0; c < stride; ++c) {
                kc[size_t(b * block + j) * stride + c] = k[(size_t(order[size_t(b)]) * block + j) * stride + c];
                vc[size_t(b * block + j) * stride + c] = v[(size_t(order[size_t(b)]) * block + j) * stride + c];
            }
    }
    std::vector<fp16_t> k16(k.size()), v16(v.size()), kc16(kc.size()), vc16(vc.size());
    for (size_t i = 0; i < k.size(); ++i) k16[i] = fp32_to_fp16(k[i]), v16[i] = fp32_to_fp16(v[i]);
    for (size_t i = 0; i < kc.size(); ++i) kc16[i] = fp32_to_fp16(kc[i]), vc16[i] = fp32_to_fp16(vc[i]);
    std::vector<const cpu::KvKernels*> sets{&cpu::kv_kernels_scalar()};
    if (cpu::kv_kernels_avx2()) sets.push_back(cpu::kv_kernels_avx2());
    std::vector<float> scores(n_kv), a(hd), b(hd);
    for (const cpu::KvKernels* kk : sets)
        for (int n : {1, block - 1, block, block + 1, n_kv}) {
            SCOPED_TRACE("n_kv " + std::to_string(n));
            const float scale = 0.125f;
            // Second head of the row (offset hd), as the backend addresses grouped KV heads.
            cpu::attend_f32(*kk, q.data(), kc.data() + hd, vc.data() + hd, stride, n, hd, scale, scores.data(), a.data());
            cpu::attend_f32(*kk, q.data(), k.data() + hd, v.data() + hd, stride, runs.data(), n, hd, scale, scores.data(), b.data());
            EXPECT_EQ(a, b);
            cpu::attend_f16(*kk, q.data(), kc16.data() + hd, vc16.data() + hd, stride, n, hd, scale, scores.data(), a.data());
            cpu::attend_f16(*kk, q.data(), k16.data() + hd, v16.data() + hd, stride, runs.data(), n, hd, scale, scores.data(),
                            b.data());
            EXPECT_EQ(a, b);
        }
}

TEST(SeqBatchCpu, ReportsItsPagedCache) {
    LD_REQUIRE_SHARED(kStories);
    Engine e = open_engine(kStories, 5000);
    EXPECT_TRUE(e.batched->supports_sequences());
    const int bs = e.batched->kv_block_size();
    ASSERT_GT(bs, 0);
    EXPECT_EQ(e.batched->kv_blocks(), (5000 + bs - 1) / bs);
    // 0 (the default) and a pool smaller than one context both hold one full context.
    EXPECT_EQ(e.alone->kv_blocks(), (512 + bs - 1) / bs);
    Engine small = open_engine(kStories, 100);
    EXPECT_EQ(small.batched->kv_blocks(), (512 + bs - 1) / bs);
    EXPECT_THROW(open_engine(kStories, -1), Error);
    // A pool past this machine's memory (2^31 positions, 1.3 TB) is a clear error, not a crash
    // (unless the kernel is set to grant any allocation: overcommit_memory 1).
    const std::vector<char> mode = read_file("/proc/sys/vm/overcommit_memory");
    if (mode.empty() || mode[0] != '1') {
        try {
            open_engine(kStories, INT_MAX);
            ADD_FAILURE() << "a 1.3 TB KV cache was granted";
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find("not enough memory for a KV cache of"), std::string::npos) << err.what();
        }
    }
}

// Sixteen stories260K sequences of different lengths joining and leaving; the first is the
// llama2.c reference prompt, whose greedy text in the mix must be llama2.c's.
TEST(SeqBatchCpu, MixedSequencesEqualAloneStories260K) {
    LD_REQUIRE_SHARED(kStories);
    Engine e = open_engine(kStories, 16 * 256);
    const std::vector<int32_t> once = tokenize_prompt(*e.tok, "Once upon a time");
    for (int n_seqs : {1, 2, 5, 16}) {
        SCOPED_TRACE(std::to_string(n_seqs) + " sequences");
        Scenario sc;
        sc.n_seqs = n_seqs;
        sc.seed = uint32_t(n_seqs);
        std::vector<Live> seqs;
        const MixedResult r = check_mixed(e, sc, once, 80 - int(once.size()), &seqs);
        std::printf("stories260K, %d sequences (at most %d in a step): worst logits error %.3g\n", n_seqs, r.most, r.worst);
        if (n_seqs == 16) {
            EXPECT_GE(r.most, 8) << "the sequences hardly overlapped";
        }
        std::vector<int32_t> all = once;
        all.insert(all.end(), seqs[0].chosen.begin(), seqs[0].chosen.end());
        const std::string text = e.tok->decode(all), ref = stories_reference();
        EXPECT_EQ(text.substr(0, ref.size()), ref);
    }
}

// Steps wider than the backend's maximum (split by forward(), a sequence's rows across steps)
// and an f32 cache.
TEST(SeqBatchCpu, StepsSplitByTheBackendAndF32Cache) {
    LD_REQUIRE_SHARED(kStories);
    for (GgmlType kv : {GgmlType::F16, GgmlType::F32}) {
        SCOPED_TRACE(type_name(kv));
        Engine e = open_engine(kStories, 8 * 256, 16, kv);
        Scenario sc;
        sc.n_seqs = 8;
        sc.max_step_tokens = 80;
        sc.seed = 99;
        check_mixed(e, sc);
    }
}

TEST(SeqBatchCpu, MixedSequencesEqualAloneLlama31) {
    LD_REQUIRE_SHARED(kTiny31);
    Engine e = open_engine(kTiny31, 6 * 256);
    Scenario sc;  // a 128,256-token vocabulary: fewer logits rows kept
    sc.n_seqs = 6;
    sc.max_decode = 6;
    sc.max_join_step = 10;
    sc.seed = 31;
    const MixedResult r = check_mixed(e, sc);
    std::printf("tiny-llama31 (at most %d in a step): worst logits error %.3g\n", r.most, r.worst);
}

TEST(SeqBatchCpu, MixedSequencesEqualAloneK256) {
    for (const char* file : kK256) {
        LD_REQUIRE_SHARED(file);
        SCOPED_TRACE(file);
        Engine e = open_engine(file, 8 * 256);
        Scenario sc;
        sc.n_seqs = 8;
        sc.max_decode = 12;
        sc.seed = 256;
        const MixedResult r = check_mixed(e, sc);
        std::printf("%s (at most %d in a step): worst logits error %.3g\n", file, r.most, r.worst);
    }
}

// A sequence forked from another after `prefix` tokens shares its full blocks and copies the
// partly filled one; both then go on in the same batches, each equal to its run alone (so
// neither wrote into the other's blocks). A fork given the partial block without its copy reads
// wrong keys: the copy is what makes it right.
void check_fork(const std::string& rel, int prefix_len) {
    SCOPED_TRACE(rel + ", prefix " + std::to_string(prefix_len));
    Engine e = open_engine(rel, 4096);
    Backend& b = *e.batched;
    const int V = b.vocab_size(), bs = b.kv_block_size();
    std::mt19937 rng{uint32_t(prefix_len)};
    const std::vector<int32_t> prefix = random_tokens(rng, prefix_len, V), suffix = random_tokens(rng, 9, V);
    std::vector<int32_t> b_prompt = prefix;
    b_prompt.insert(b_prompt.end(), suffix.begin(), suffix.end());
    const int n_decode = 5;
    const Reference ra = run_alone(*e.alone, prefix, n_decode), rb = run_alone(*e.alone, b_prompt, n_decode);

    const int n_full = prefix_len / bs, n_a = (prefix_len + bs - 1) / bs;
    std::vector<int32_t> free_blocks(size_t(b.kv_blocks()));
    std::iota(free_blocks.begin(), free_blocks.end(), 0);
    std::shuffle(free_blocks.begin(), free_blocks.end(), rng);
    auto take = [&] {
        const int32_t x = free_blocks.back();
        free_blocks.pop_back();
        return x;
    };
    std::vector<int32_t> ta, tb;
    for (int i = 0; i < n_a + 1; ++i) ta.push_back(take());
    std::vector<float> out(static_cast<size_t>(V));
    {  // A's prompt
        std::vector<int32_t> pos(prefix.size()), seq(prefix.size(), 0);
        std::iota(pos.begin(), pos.end(), 0);
        std::vector<uint8_t> want(prefix.size(), 0);
        want.back() = 1;
        const SeqView va{ta.data(), int(ta.size())};
        SeqBatch sb{int(prefix.size()), prefix.data(), pos.data(), seq.data(), &va, 1, want.data(), out.data()};
        b.forward(sb);
        EXPECT_LT(row_error(out.data(), ra.logits[0]), kTol);
    }
    // The fork: full blocks shared, the partial one copied.
    tb.assign(ta.begin(), ta.begin() + n_full);
    if (prefix_len % bs != 0) {
        tb.push_back(take());
        b.copy_kv_block(ta[size_t(n_full)], tb.back());
    }
    while (int(tb.size()) * bs < int(b_prompt.size()) + n_decode + 1) tb.push_back(take());
    if (prefix_len % bs != 0) {  // the control: the partial block not copied (it holds another sequence)
        std::vector<int32_t> tc(ta.begin(), ta.begin() + n_full);
        tc.push_back(take());
        tc.push_back(take());
        const std::vector<int32_t> other = random_tokens(rng, bs, V);
        std::vector<int32_t> pos(other.size()), seq(other.size(), 0);
        std::iota(pos.begin(), pos.end(), 0);
        const SeqView vo{&tc[size_t(n_full)], 1};
        b.forward(SeqBatch{bs, other.data(), pos.data(), seq.data(), &vo, 1, nullptr, nullptr});
        int32_t tok = suffix[0];
        int32_t p = prefix_len, s = 0;
        uint8_t want = 1;
        const SeqView vc{tc.data(), int(tc.size())};
        b.forward(SeqBatch{1, &tok, &p, &s, &vc, 1, &want, out.data()});
        const Reference rc = run_alone(*e.alone, std::vector<int32_t>(b_prompt.begin(), b_prompt.begin() + prefix_len + 1), 0);
        EXPECT_GT(row_error(out.data(), rc.logits[0]), kTol) << "a fork without its copied block was still right";
    }
    // A decodes and B runs its suffix in chunks of 4 then decodes, in the same batches.
    std::vector<int32_t> a_tokens = prefix, b_tokens = b_prompt;
    int a_fed = prefix_len, b_fed = prefix_len, a_checked = 1, b_checked = 0;
    a_tokens.push_back(ra.greedy[0]);
    while (a_checked <= n_decode || b_checked <= n_decode) {
        std::vector<int32_t> tokens, pos, seq;
        std::vector<uint8_t> want;
        if (b_checked <= n_decode) {
            const int chunk = b_fed < int(b_prompt.size()) ? std::min(4, int(b_prompt.size()) - b_fed) : 1;
            for (int i = 0; i < chunk; ++i) {
                tokens.push_back(b_tokens[size_t(b_fed + i)]);
                pos.push_back(b_fed + i);
                seq.push_back(1);
                want.push_back(b_fed + i >= int(b_prompt.size()) - 1);
            }
        }
        if (a_checked <= n_decode) {
            tokens.push_back(a_tokens[size_t(a_fed)]);
            pos.push_back(a_fed);
            seq.push_back(0);
            want.push_back(1);
        }
        const SeqView views[2] = {{ta.data(), int(ta.size())}, {tb.data(), int(tb.size())}};
        std::vector<float> logits(size_t(std::count(want.begin(), want.end(), 1)) * size_t(V));
        b.forward(SeqBatch{int(tokens.size()), tokens.data(), pos.data(), seq.data(), views, 2, want.data(), logits.data()});
        size_t row = 0;
        for (size_t t = 0; t < tokens.size(); ++t) {
            if (!want[t]) continue;
            const float* got = logits.data() + size_t(row++) * size_t(V);
            if (seq[t] == 0) {
                EXPECT_LT(row_error(got, ra.logits[size_t(a_checked)]), kTol) << "original, logits row " << a_checked;
                EXPECT_EQ(argmax(got, V), ra.greedy[size_t(a_checked)]);
                if (a_checked < n_decode) a_tokens.push_back(ra.greedy[size_t(a_checked)]);
                ++a_checked;
            } else {
                EXPECT_LT(row_error(got, rb.logits[size_t(b_checked)]), kTol) << "fork, logits row " << b_checked;
                EXPECT_EQ(argmax(got, V), rb.greedy[size_t(b_checked)]);
                if (b_checked < n_decode) b_tokens.push_back(rb.greedy[size_t(b_checked)]);
                ++b_checked;
            }
        }
        for (size_t t = 0; t < tokens.size(); ++t) (seq[t] == 0 ? a_fed : b_fed)++;
    }
}

TEST(SeqBatchCpu, ForkSharesPrefixBlocks) {
    for (const char* file : {kStories, kTiny31, kK256[9]}) {
        LD_REQUIRE_SHARED(file);
        const int bs = open_engine(file, 0).batched->kv_block_size();
        check_fork(file, bs + bs / 2 + 3);  // the fork point mid-block: that block is copied
        check_fork(file, 2 * bs);           // at a block boundary: all shared, no copy
    }
}

// The copy covers every layer's keys and values: a sequence moved block by block to other
// blocks gives the same logits as where it was.
TEST(SeqBatchCpu, CopiedBlocksHoldTheWholeSequence) {
    LD_REQUIRE_SHARED(kK256[9]);
    Engine e = open_engine(kK256[9], 4096);
    Backend& b = *e.batched;
    const int V = b.vocab_size(), bs = b.kv_block_size(), n = 2 * bs + 7;
    std::mt19937 rng(3);
    const std::vector<int32_t> prompt = random_tokens(rng, n, V);
    const Reference r = run_alone(*e.alone, prompt, 1);
    std::vector<int32_t> t1{5, 1, 9}, t2{2, 7, 0}, pos(static_cast<size_t>(n)), seq(static_cast<size_t>(n), 0);
    std::iota(pos.begin(), pos.end(), 0);
    std::vector<uint8_t> want(pos.size(), 0);
    want[pos.size() - 1] = 1;
    std::vector<float> out(static_cast<size_t>(V));
    const SeqView v1{t1.data(), 3}, v2{t2.data(), 3};
    b.forward(SeqBatch{n, prompt.data(), pos.data(), seq.data(), &v1, 1, want.data(), out.data()});
    for (int i = 0; i < 3; ++i) b.copy_kv_block(t1[size_t(i)], t2[size_t(i)]);
    for (int i = 0; i < 3; ++i) b.copy_kv_block(t2[size_t(i)], t2[size_t(i)]);  // onto itself: nothing changes
    const int32_t tok = r.greedy[0];
    uint8_t one = 1;
    b.forward(SeqBatch{1, &tok, &n, seq.data(), &v2, 1, &one, out.data()});
    EXPECT_LT(row_error(out.data(), r.logits[1]), kTol);
    EXPECT_THROW(b.copy_kv_block(-1, 0), Error);
    EXPECT_THROW(b.copy_kv_block(0, b.kv_blocks()), Error);
}

// Wraps the CPU backend to count the steps it runs.
class CountingBackend final : public Backend {
public:
    explicit CountingBackend(Backend& inner) : inner_(inner) {}
    std::string name() const override { return inner_.name(); }
    int context_size() const override { return inner_.context_size(); }
    int vocab_size() const override { return inner_.vocab_size(); }
    int batch_size() const override { return inner_.batch_size(); }
    bool supports_sequences() const override { return inner_.supports_sequences(); }
    int kv_block_size() const override { return inner_.kv_block_size(); }
    int kv_blocks() const override { return inner_.kv_blocks(); }
    int steps = 0;

private:
    int max_step(bool all) const override { return max_step_of(inner_, all); }
    void forward_batch(const BatchView& b) override {
        ++steps;
        forward_batch_of(inner_, b);
    }
    Backend& inner_;
};

// Bad batches throw a clear ld::Error before any step runs: no logits written, and the cache
// untouched (each bad batch first rewrites position 3 of sequence A with another token, which
// would change A's next logits had it run).
TEST(SeqBatchCpu, BadBatchesAreRefusedBeforeAnything) {
    LD_REQUIRE_SHARED(kStories);
    Engine e = open_engine(kStories, 2048);
    CountingBackend b(*e.batched);
    const int V = b.vocab_size(), bs = b.kv_block_size(), nb = b.kv_blocks();
    std::mt19937 rng(11);
    const std::vector<int32_t> prompt = random_tokens(rng, 10, V);
    const Reference r = run_alone(*e.alone, prompt, 1);
    std::vector<int32_t> ta{7}, tb{3, 12};
    {
        std::vector<int32_t> pos(10), seq(10, 0);
        std::iota(pos.begin(), pos.end(), 0);
        std::vector<uint8_t> want(10, 0);
        const SeqView va{ta.data(), 1};
        b.forward(SeqBatch{10, prompt.data(), pos.data(), seq.data(), &va, 1, want.data(), nullptr});
    }
    const int ran = b.steps;
    struct Bad {
        std::vector<int32_t> tokens, pos, seq;
        std::vector<std::vector<int32_t>> tables;  // sequence 0 is A
        std::string words;
        bool null_logits = false;
    };
    const int32_t x = (prompt[3] + 1) % V;
    const std::vector<Bad> bad = {
        {{x, 1}, {3, 0}, {0, 1}, {ta, {nb}}, "block " + std::to_string(nb) + " is outside the cache"},
        {{x, 1}, {3, 0}, {0, 1}, {ta, {-1}}, "block -1 is outside the cache"},
        {{x, 1, 2}, {3, 5, 5}, {0, 1, 2}, {ta, tb, tb}, "same cache slot"},
        {{x, 1, 2}, {3, 4, 3}, {0, 1, 1}, {ta, tb}, "positions must rise in batch order (3 after 4)"},
        {{x, 1, 2}, {3, 4, 4}, {0, 1, 1}, {ta, tb}, "positions must rise"},
        {{x, 1}, {3, 2 * bs}, {0, 1}, {ta, tb}, "is past its 2 blocks"},
        {{x, 1}, {3, 0}, {0, 1}, {ta, {}}, "is past its 0 blocks"},
        {{x, V}, {3, 0}, {0, 1}, {ta, tb}, "outside the vocabulary"},
        {{x, 1}, {3, 0}, {0, 2}, {ta, tb}, "sequence 2 is not in the batch"},
        {{x, 1}, {3, -1}, {0, 1}, {ta, tb}, "negative position"},
        {{x, 1}, {3, b.context_size()}, {0, 1}, {ta, std::vector<int32_t>(size_t(nb), 0)}, "context is full"},
        {{x, 1}, {3, 0}, {0, 1}, {ta, tb}, "logits wanted, no buffer", true},
    };
    for (const Bad& c : bad) {
        SCOPED_TRACE(c.words);
        std::vector<SeqView> views;
        for (const auto& t : c.tables) views.push_back({t.data(), int(t.size())});
        std::vector<uint8_t> want(c.tokens.size(), 1);
        std::vector<float> out(c.tokens.size() * size_t(V), -7.0f);
        SeqBatch sb{int(c.tokens.size()), c.tokens.data(), c.pos.data(), c.seq.data(), views.data(), int(views.size()),
                    want.data(), c.null_logits ? nullptr : out.data()};
        try {
            b.forward(sb);
            ADD_FAILURE() << "no error";
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find(c.words), std::string::npos) << err.what();
        }
        EXPECT_EQ(b.steps, ran) << "a step ran";
        EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float v) { return v == -7.0f; })) << "logits written";
    }
    // A goes on as if nothing had been asked.
    const int32_t tok = r.greedy[0], p = 10, s = 0;
    uint8_t one = 1;
    std::vector<float> out(static_cast<size_t>(V));
    const SeqView va{ta.data(), 1};
    b.forward(SeqBatch{1, &tok, &p, &s, &va, 1, &one, out.data()});
    EXPECT_LT(row_error(out.data(), r.logits[1]), kTol);
}

}  // namespace
}  // namespace ld::test
