// The CPU backend's step attention (inference/cpu/attention_tiled.h): the tiled prompt path
// against the per-row path and a double-precision reference, over a paged cache with several
// sequences of different lengths in one step (a prompt chunk deep in a long context, a chunk in
// the middle, a fresh prompt and a decoding row), f16 and f32 caches, GQA groups 1/4/8 and
// head sizes that are and are not multiples of the SIMD width.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "inference/cpu/attention_tiled.h"

namespace ld::cpu {
namespace {

constexpr int kBlock = 16;  // smaller than a tile's chunk: runs end mid-chunk
constexpr int kKvHeads = 2;

struct SeqSpec {
    int first_pos, n_tokens;
};
// A chunk starting at 3,000 (the reopened chat), a chunk mid-sequence, a decoding row, a fresh
// prompt. Token counts are prime so no tile size divides them.
const SeqSpec kSeqs[] = {{3000, 7}, {102, 43}, {77, 1}, {0, 19}};

struct Fixture {
    int hd, group, n_heads, stride, n = 0;
    std::vector<int32_t> positions, seq;
    std::vector<std::vector<int>> blocks;  // per sequence: its block table
    std::vector<KvRun> runs;
    std::vector<int> seq_runs;
    std::vector<float> q, k, v;  // k, v: the cache as f32 (already rounded through f16 if f16)
    std::vector<fp16_t> k16, v16;
    int max_pos = 0;

    Fixture(int head_dim, int grp, bool f16, uint32_t seed) : hd(head_dim), group(grp) {
        n_heads = kKvHeads * group;
        stride = kKvHeads * hd;
        std::mt19937 rng(seed);
        // Block tables: physical blocks dealt out in shuffled runs of 1-6 consecutive ids, so a
        // sequence's rows lie in runs of different lengths in no particular order.
        std::vector<int> need;
        int total = 0;
        for (const SeqSpec& s : kSeqs) {
            need.push_back((s.first_pos + s.n_tokens - 1) / kBlock + 1);
            total += need.back();
        }
        const int n_blocks = total + 9;  // a few blocks nobody uses
        std::vector<std::vector<int>> pieces;
        for (int b = 0; b < n_blocks;) {
            const int len = std::min(n_blocks - b, int(rng() % 6) + 1);
            pieces.emplace_back();
            for (int i = 0; i < len; ++i) pieces.back().push_back(b + i);
            b += len;
        }
        std::shuffle(pieces.begin(), pieces.end(), rng);
        std::vector<int> order;
        for (auto& p : pieces) order.insert(order.end(), p.begin(), p.end());
        size_t next = 0;
        for (int s = 0; s < int(std::size(kSeqs)); ++s) {
            blocks.emplace_back(order.begin() + long(next), order.begin() + long(next + size_t(need[size_t(s)])));
            next += size_t(need[size_t(s)]);
            seq_runs.push_back(int(runs.size()));
            const size_t first = runs.size();
            for (int b : blocks.back()) {  // as CpuBackend::plan_runs merges them
                const int64_t row = int64_t(b) * kBlock;
                if (runs.size() > first && runs.back().first + runs.back().n == row) runs.back().n += kBlock;
                else runs.push_back({row, kBlock});
            }
        }
        // The step's rows: the sequences' tokens interleaved at random, each sequence's in
        // position order.
        std::vector<int> who;
        for (int s = 0; s < int(std::size(kSeqs)); ++s) who.insert(who.end(), size_t(kSeqs[s].n_tokens), s);
        std::shuffle(who.begin(), who.end(), rng);
        std::vector<int> used(std::size(kSeqs), 0);
        for (int s : who) {
            seq.push_back(s);
            positions.push_back(kSeqs[s].first_pos + used[size_t(s)]++);
            max_pos = std::max(max_pos, positions.back());
        }
        n = int(who.size());
        std::normal_distribution<float> dist(0.0f, 1.0f);
        const size_t rows = size_t(n_blocks) * kBlock;
        q.resize(size_t(n) * n_heads * hd);
        for (float& x : q) x = 2.0f * dist(rng);  // scores of a few units: peaked, max moves
        k.resize(rows * size_t(stride));
        v.resize(rows * size_t(stride));
        for (float& x : k) x = dist(rng);
        for (float& x : v) x = dist(rng);
        if (f16) {
            k16.resize(k.size());
            v16.resize(v.size());
            for (size_t i = 0; i < k.size(); ++i) {
                k16[i] = fp32_to_fp16(k[i]);
                v16[i] = fp32_to_fp16(v[i]);
                k[i] = fp16_to_fp32(k16[i]);
                v[i] = fp16_to_fp32(v16[i]);
            }
        }
    }

    AttentionStep step(float* out) const {
        AttentionStep st;
        st.q = q.data();
        st.out = out;
        st.positions = positions.data();
        st.seq = seq.data();
        st.n = n;
        st.n_heads = n_heads;
        st.n_kv_heads = kKvHeads;
        st.head_dim = hd;
        st.scale = 1.0f / std::sqrt(float(hd));
        st.f16 = !k16.empty();
        st.k_cache = st.f16 ? static_cast<const void*>(k16.data()) : k.data();
        st.v_cache = st.f16 ? static_cast<const void*>(v16.data()) : v.data();
        st.kv_stride = stride;
        st.runs = runs.data();
        st.seq_runs = seq_runs.data();
        st.n_seqs = int(std::size(kSeqs));
        return st;
    }

    std::vector<double> reference() const {
        std::vector<double> out(size_t(n) * n_heads * hd, 0.0);
        const double scale = 1.0 / std::sqrt(double(hd));
        for (int t = 0; t < n; ++t) {
            const std::vector<int>& table = blocks[size_t(seq[size_t(t)])];
            const int n_kv = positions[size_t(t)] + 1;
            std::vector<double> sc(static_cast<size_t>(n_kv));
            for (int h = 0; h < n_heads; ++h) {
                const float* qr = q.data() + (size_t(t) * n_heads + h) * hd;
                const size_t col = size_t(h / group) * hd;
                double mx = -1e300, sum = 0;
                for (int j = 0; j < n_kv; ++j) {
                    const size_t row = size_t(table[size_t(j / kBlock)]) * kBlock + size_t(j % kBlock);
                    double d = 0;
                    for (int i = 0; i < hd; ++i) d += double(qr[i]) * k[row * stride + col + size_t(i)];
                    sc[size_t(j)] = d * scale;
                    mx = std::max(mx, sc[size_t(j)]);
                }
                for (double& s : sc) sum += (s = std::exp(s - mx));
                double* o = out.data() + (size_t(t) * n_heads + h) * hd;
                for (int j = 0; j < n_kv; ++j) {
                    const size_t row = size_t(table[size_t(j / kBlock)]) * kBlock + size_t(j % kBlock);
                    for (int i = 0; i < hd; ++i) o[i] += sc[size_t(j)] / sum * v[row * stride + col + size_t(i)];
                }
            }
        }
        return out;
    }

    std::vector<float> run(int tile_rows, const TileKernels& tk, const KvKernels& kk) const {
        std::vector<float> out(size_t(n) * n_heads * hd, NAN);  // a row never written stays NaN
        const AttentionStep st = step(out.data());
        AttentionPlan plan;
        plan.plan(st, tile_rows);
        std::vector<float> scratch(AttentionPlan::scratch_floats(tile_rows, group, hd, max_pos + 1));
        for (size_t i = plan.items(); i-- > 0;) plan.run(st, i, tk, kk, scratch.data());  // any order
        return out;
    }
};

// abs + rel tolerance; NaN is a failure; the first mismatches are printed with their row.
template <typename Want>
void expect_close(const char* what, const std::vector<float>& got, const std::vector<Want>& want, int hd,
                  int n_heads, double abs_tol, double rel_tol) {
    ASSERT_EQ(got.size(), want.size());
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double err = std::abs(double(got[i]) - double(want[i]));
        const bool nan = std::isnan(got[i]);
        if (!nan) worst = std::max(worst, err / (abs_tol + rel_tol * std::abs(double(want[i]))));
        if ((nan || err > abs_tol + rel_tol * std::abs(double(want[i]))) && bad++ < 5) {
            const size_t row = i / size_t(hd);
            ADD_FAILURE() << what << ": token " << row / size_t(n_heads) << " head " << row % size_t(n_heads)
                          << " dim " << i % size_t(hd) << ": got " << got[i] << ", want " << double(want[i]);
        }
    }
    EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches";
    ::testing::Test::RecordProperty(std::string(what) + "_worst_fraction_of_tolerance", std::to_string(worst));
}

// (f16 cache, head_dim, group, AVX2 kernels)
class TiledAttention : public ::testing::TestWithParam<std::tuple<bool, int, int, bool>> {};

TEST_P(TiledAttention, MatchesPerRowAndDoubleReference) {
    const auto [f16, hd, group, avx2] = GetParam();
    const TileKernels* tk = avx2 ? tile_kernels_avx2() : &tile_kernels_scalar();
    const KvKernels* kk = avx2 ? kv_kernels_avx2() : &kv_kernels_scalar();
    if (!tk || !kk) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
    const Fixture fx(hd, group, f16, uint32_t(hd * 31 + group * 7 + (f16 ? 1 : 0)));
    const std::vector<double> want = fx.reference();
    const std::vector<float> per_row = fx.run(0, *tk, *kk);
    expect_close("per-row", per_row, want, hd, fx.n_heads, 5e-6, 5e-5);
    // 32: the backend's tile; 9: a tile of 9 / group tokens (2 for group 4, 1 token of 8 rows
    // for group 8) that divides none of the sequences; 3: less than one token for group 4 and 8.
    std::vector<float> first;
    for (int tile_rows : {32, 9, 3}) {
        SCOPED_TRACE("tile_rows " + std::to_string(tile_rows));
        const std::vector<float> tiled = fx.run(tile_rows, *tk, *kk);
        expect_close("tiled vs double", tiled, want, hd, fx.n_heads, 5e-6, 5e-5);
        expect_close("tiled vs per-row", tiled, per_row, hd, fx.n_heads, 5e-6, 5e-5);
        // A row's result does not depend on its tile (the same sums in the same order): with
        // tile_rows 3 every token is a tile of its own, as a decoding row is, so a token gives
        // the same bits decoded or in a prompt chunk, alone or batched with others.
        if (first.empty()) first = tiled;
        else EXPECT_EQ(std::memcmp(first.data(), tiled.data(), sizeof(float) * first.size()), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, TiledAttention,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(64, 128, 20),
                                            ::testing::Values(1, 4, 8), ::testing::Bool()),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param) ? "f16" : "f32") + "_hd" +
                                    std::to_string(std::get<1>(info.param)) + "_group" +
                                    std::to_string(std::get<2>(info.param)) +
                                    (std::get<3>(info.param) ? "_avx2" : "_scalar");
                         });

// The split: per sequence and KV head, tiles of whole tokens (a decoding row is a tile of its
// group's heads); tile_rows 0 puts every (row, head) on the per-row path.
TEST(TiledAttentionPlan, TilesOfWholeTokensPerKvHead) {
    const Fixture fx(64, 4, true, 5);
    std::vector<float> out(size_t(fx.n) * fx.n_heads * 64);
    const AttentionStep st = fx.step(out.data());
    AttentionPlan plan;
    plan.plan(st, 32);  // 8 tokens a tile: 1 + 6 + 1 + 3 tiles per KV head
    EXPECT_EQ(plan.items(), size_t((1 + 6 + 1 + 3) * kKvHeads));
    plan.plan(st, 0);
    EXPECT_EQ(plan.items(), size_t(fx.n * fx.n_heads));
    plan.plan(st, 3);  // fewer rows than the group: one token (4 rows) a tile
    EXPECT_EQ(plan.items(), size_t(fx.n * kKvHeads));
}

}  // namespace
}  // namespace ld::cpu
